"""A real single-node Elasticsearch for the tests and the benchmark.

The node is the integ-test distribution from Maven Central (no bundled JDK; see
../shared/reference/engines.md). It is fetched once with Maven into a cache outside the repository,
and started with the machine's Java 17. Elasticsearch refuses to run as root, so when the suite runs
as root (CI does) the node runs as an unprivileged system user created for it; otherwise it runs as
the current user.

A developer who already has a node running sets ``CYBERWELL_ES_URL`` and nothing is started.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VERSION = "8.19.21"  # the newest integ-test zip Maven Central serves (no 9.x is published there)
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
SERVICE_USER = "cyberwell-es"
HEAP = "512m"


class NodeError(RuntimeError):
    """The node could not be fetched or started; the message says what to look at."""


def cache_root() -> Path:
    """Downloads and the unpacked node live here, outside git and shared between clones."""
    base = os.environ.get("CYBERWELL_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cyberwell"


def fetch_zip(cache: Path) -> Path:
    """The distribution zip, downloaded with Maven on first use."""
    target = cache / "dl" / f"elasticsearch-{VERSION}.zip"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        "mvn",
        "-B",
        "-q",
        "-U",
        "-ntp",  # -U: Maven caches a failed lookup and would not retry it
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        f"-Dartifact={ARTIFACT}",
        f"-DoutputDirectory={target.parent}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not target.is_file():
        raise NodeError(f"could not fetch {ARTIFACT} from Maven Central:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return target


def java_home() -> str:
    """Java 17 for an 8.x node; ES ignores JAVA_HOME and needs ES_JAVA_HOME."""
    if os.environ.get("ES_JAVA_HOME"):
        return os.environ["ES_JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise NodeError("no java on PATH: Elasticsearch 8.19 needs Java 17 or newer")
    return str(Path(java).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ElasticNode:
    """One node: ``start()`` waits for a yellow cluster, ``stop()`` ends it; data survives both."""

    def __init__(self, base: Path | None = None, port: int | None = None):
        self.as_root = os.geteuid() == 0
        # As root the node's files must belong to the service user, so they live outside /root.
        self.base = base or (Path("/var/tmp/cyberwell-es") if self.as_root else cache_root() / "es")
        self.port = port or free_port()
        self.run_dir = self.base / f"run-{os.getpid()}-{self.port}"
        self.home = self.base / f"elasticsearch-{VERSION}"
        self.url = f"http://127.0.0.1:{self.port}"

    # -- install -----------------------------------------------------------------------------

    def install(self) -> None:
        if (self.home / "bin" / "elasticsearch").is_file():
            return
        archive = fetch_zip(cache_root())
        self.base.mkdir(parents=True, exist_ok=True)
        staging = self.base / f".unpack-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        for script in (staging / f"elasticsearch-{VERSION}" / "bin").iterdir():
            script.chmod(0o755)  # zipfile drops the executable bits
        try:
            (staging / f"elasticsearch-{VERSION}").rename(self.home)
        except OSError:  # another process unpacked it first
            pass
        shutil.rmtree(staging, ignore_errors=True)

    def _prepare_user(self) -> None:
        if not self.as_root:
            return
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                check=True,
                capture_output=True,
            )
        for path in (self.base, self.home, self.run_dir):
            shutil.chown(path, SERVICE_USER)
        # The config directory is written at start (keystore), so it must be the user's too.
        subprocess.run(["chown", "-R", SERVICE_USER, str(self.home / "config"), str(self.run_dir)], check=True)

    # -- run ---------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        self.install()
        sweep_orphans(self.base)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        self._prepare_user()
        command = [
            str(self.home / "bin" / "elasticsearch"),
            "-d",
            "-p",
            str(self.run_dir / "es.pid"),
            "-Ediscovery.type=single-node",
            "-Expack.security.enabled=false",
            "-Enetwork.host=127.0.0.1",
            f"-Ehttp.port={self.port}",
            f"-Epath.data={self.run_dir / 'data'}",
            f"-Epath.logs={self.run_dir / 'logs'}",
            "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": java_home(),
            "ES_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
            "HOME": str(self.run_dir),
            # Its temporary files (the node's, and the launcher's JVM flag check) go with the run,
            # not into /tmp, folders per start that nobody removes.
            "ES_TMPDIR": str(self.run_dir / "tmp"),
            "CLI_JAVA_OPTS": f"-Djava.io.tmpdir={self.run_dir / 'tmp'}",
        }
        if self.as_root:
            command = ["runuser", "-u", SERVICE_USER, "--", "env", *[f"{k}={v}" for k, v in env.items()], *command]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise NodeError(
                f"elasticsearch did not start (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=5s", timeout=10
                ):
                    return
            except (urllib.error.URLError, OSError) as error:
                last = str(error)
                time.sleep(0.5)
        raise NodeError(
            f"elasticsearch at {self.url} not healthy after {timeout:.0f} s ({last}); logs in {self.run_dir / 'logs'}"
        )

    def pid(self) -> int | None:
        try:
            return int((self.run_dir / "es.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 60.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Stop and delete this node's data (the unpacked distribution stays for the next run)."""
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@contextmanager
def running_node() -> Iterator[ElasticNode]:
    """A node of its own, started and healthy inside the block, removed with its data after."""
    node = ElasticNode()
    node.start()
    try:
        yield node
    finally:
        node.remove()


def sweep_orphans(base: Path) -> None:
    """Stop nodes whose test session died without its teardown (killed runs leak them)."""
    for run_dir in base.glob("run-*-*"):
        owner = run_dir.name.split("-")[1]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        node_pid = (run_dir / "es.pid").read_text().strip() if (run_dir / "es.pid").is_file() else ""
        if node_pid.isdigit() and _alive(int(node_pid)):
            os.kill(int(node_pid), signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
