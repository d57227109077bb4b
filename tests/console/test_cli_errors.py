"""What a person sees when something is wrong, and what other users can see of the data.

Every case runs the real command in a subprocess: the exit code (README "Exit codes"), one line
on stderr naming what was wrong, no traceback, and with ``--json`` the error as a JSON object on
stdout as well. The last tests check that what Cyberwell writes is private to the user whatever
the shell's umask.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from collectors.live.syslog_receiver import read_stats

REPO = Path(__file__).resolve().parents[2]


def cyberwell(home: Path, *args: str, umask: int | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERWELL_")}
    env.update(PYTHONPATH=str(REPO), COLUMNS="400")
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        umask=-1 if umask is None else umask,  # set in C between fork and exec: safe beside threads
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *named: str, code: int = 2) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for words in named:
        assert words in lines[0], lines[0]


def assert_json_error(done: subprocess.CompletedProcess[str], *named: str, code: int = 2) -> None:
    """With ``--json``: the same line on stderr, and the error as JSON on stdout."""
    assert_one_line_error(done, *named, code=code)
    answer = json.loads(done.stdout)
    assert answer["code"] == code and all(words in answer["error"] for words in named), answer


def signin(i: int) -> dict:
    return {
        "id": f"00000000-0000-0000-0000-{i:012d}",
        "createdDateTime": f"2026-11-16T09:{i:02d}:00Z",
        "userPrincipalName": f"user{i}@westbrook-dc.gov.uk",
        "ipAddress": "81.2.69.160",
        "status": {"errorCode": 0},
    }


@pytest.fixture
def export(tmp_path) -> Path:
    path = tmp_path / "signins.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(signin(i)) for i in range(5)) + b"\n")
    return path


# -- options ---------------------------------------------------------------------------------


def test_from_after_to_is_refused_naming_both(tmp_path):
    args = ("detect", "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-19T00:00:00Z")
    assert_one_line_error(cyberwell(tmp_path, *args), "--from 2026-11-20", "--to 2026-11-19")
    assert_json_error(cyberwell(tmp_path, *args, "--json"), "--from", "--to")


def test_a_from_after_every_stored_event_is_refused(tmp_path, export):
    assert cyberwell(tmp_path, "ingest", str(export), "--source", "entra-signins").returncode == 0
    done = cyberwell(tmp_path, "detect", "--from", "2030-01-01T00:00:00Z")
    assert_one_line_error(done, "--from 2030-01-01", "stored events")


def test_a_bad_severity_is_named_on_stderr(tmp_path):
    done = cyberwell(tmp_path, "alerts", "list", "--severity", "severe")
    assert_one_line_error(done, "--severity", "'severe'", "high")
    assert done.stdout == ""
    assert_json_error(cyberwell(tmp_path, "alerts", "list", "--severity", "severe", "--json"), "--severity")


@pytest.mark.parametrize("command", [["alerts", "list"], ["quarantine", "list"]])
@pytest.mark.parametrize("limit", ["-1", "0", "abc", "1.5"])
def test_a_bad_limit_is_one_line_naming_the_option(tmp_path, command, limit):
    assert_one_line_error(cyberwell(tmp_path, *command, "--limit", limit), "--limit")
    assert_json_error(cyberwell(tmp_path, *command, "--limit", limit, "--json"), "--limit")


@pytest.mark.parametrize("args", [("--bogus",), ("--bogus", "alerts", "list"), ("alerts", "list", "--bogus")])
def test_an_unknown_option_is_one_line_wherever_it_is(tmp_path, args):
    done = cyberwell(tmp_path, *args)
    assert_one_line_error(done, "No such option: --bogus")
    assert "Usage:" not in done.stdout + done.stderr


def test_a_good_command_with_json_prints_no_error_object(tmp_path):
    done = cyberwell(tmp_path, "alerts", "list", "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == [] and done.stderr == ""


# -- config ------------------------------------------------------------------------------------


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "cyberwell.toml").write_text(text)


def test_a_bad_cloud_id_names_the_key(tmp_path):
    write_config(tmp_path, '[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\ncloud_id = "garbage"\n')
    assert_one_line_error(cyberwell(tmp_path, "alerts", "list"), "store.elasticsearch.cloud_id")
    assert_json_error(cyberwell(tmp_path, "alerts", "list", "--json"), "store.elasticsearch.cloud_id")


def test_a_cloud_id_without_an_elasticsearch_address_names_the_key(tmp_path):
    import base64

    no_es = base64.b64encode(b"example.com:443").decode()  # the host, but no Elasticsearch uuid
    write_config(tmp_path, f'[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\ncloud_id = "x:{no_es}"\n')
    assert_one_line_error(cyberwell(tmp_path, "alerts", "list"), "store.elasticsearch.cloud_id")


SIGN_IN = 'client_id = "11111111-1111-1111-1111-111111111111"\nclient_secret_env = "CW_SECRET"\n'


@pytest.mark.parametrize("tenant", ["not a tenant!", "", "contoso.onmicrosoft.com/../x"])
def test_a_bad_tenant_id_names_the_key(tmp_path, tenant):
    write_config(tmp_path, f'[collectors.signins]\ntype = "entra-signins"\ntenant_id = "{tenant}"\n{SIGN_IN}')
    assert_one_line_error(cyberwell(tmp_path, "collect"), "collectors.signins.tenant_id")
    assert_json_error(cyberwell(tmp_path, "collect", "--json"), "collectors.signins.tenant_id")


NOT_UTF8 = b"\xff\xfe\xc3(key"


def test_a_non_utf8_api_key_file_names_the_key(tmp_path):
    (tmp_path / "es-key").write_bytes(NOT_UTF8)
    write_config(
        tmp_path,
        '[store]\nbackend = "elasticsearch"\n[store.elasticsearch]\n'
        'hosts = ["http://127.0.0.1:9"]\napi_key_file = "es-key"\n',
    )
    assert_one_line_error(cyberwell(tmp_path, "alerts", "list"), "store.elasticsearch.api_key_file", "UTF-8")
    assert_json_error(cyberwell(tmp_path, "alerts", "list", "--json"), "store.elasticsearch.api_key_file")


def test_a_non_utf8_client_secret_file_names_the_key(tmp_path):
    (tmp_path / "graph-secret").write_bytes(NOT_UTF8)
    write_config(
        tmp_path,
        '[collectors.signins]\ntype = "entra-signins"\ntenant_id = "00000000-0000-0000-0000-000000000000"\n'
        f'client_id = "11111111-1111-1111-1111-111111111111"\nclient_secret_file = "{tmp_path / "graph-secret"}"\n',
    )
    assert_one_line_error(cyberwell(tmp_path, "collect"), "collectors.signins.client_secret_file")


def test_a_non_utf8_config_file_is_named(tmp_path):
    (tmp_path / "cyberwell.toml").write_bytes(b'[store]\nbackend = "\xff"\n')
    assert_one_line_error(cyberwell(tmp_path, "alerts", "list"), "cyberwell.toml", "UTF-8")


# -- a home that cannot be written --------------------------------------------------------------


def read_only(path: Path) -> list[str]:
    """The command prefix that runs with ``path`` read-only: a read-only bind mount in a mount
    namespace of its own when root (to whom file modes mean nothing), else the folder's mode."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        return []
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("root without mount namespaces: no way to make a folder read-only here")
    return [
        "unshare",
        "-m",
        "sh",
        "-c",
        f'mount --bind "{path}" "{path}" && mount -o remount,ro,bind "{path}" "{path}" && exec "$@"',
        "sh",
    ]


def cyberwell_read_only(path: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERWELL_")}
    env.update(PYTHONPATH=str(REPO), COLUMNS="400")
    command = [*read_only(path), sys.executable, "-m", "console.cli", "--home", str(home), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_read_only_home_with_data_is_one_line(tmp_path, export):
    home = tmp_path / "home"
    assert cyberwell(home, "ingest", str(export), "--source", "entra-signins").returncode == 0
    done = cyberwell_read_only(home, home, "ingest", str(export), "--source", "entra-signins")
    assert_one_line_error(done, str(home))
    done = cyberwell_read_only(home, home, "alerts", "list", "--json")
    assert_json_error(done, str(home))


def test_a_home_that_cannot_be_created_is_one_line(tmp_path, export):
    parent = tmp_path / "locked"
    parent.mkdir()
    done = cyberwell_read_only(parent, parent / "home", "ingest", str(export), "--source", "entra-signins", "--json")
    assert_json_error(done, str(parent / "home"))


# -- private files ---------------------------------------------------------------------------------


def loose(path: Path) -> list[str]:
    """``path`` and everything under it that a group or other users may read, write or enter."""
    found = [path, *path.rglob("*")] if path.is_dir() else [path]
    return [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in found if stat.S_IMODE(p.stat().st_mode) & 0o077]


def test_what_cyberwell_creates_is_private_under_a_shared_umask(tmp_path, export):
    home = tmp_path / "home"
    done = cyberwell(home, "ingest", str(export), "--source", "entra-signins", umask=0o022)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "events").is_dir() and (home / "state.sqlite").is_file()
    assert loose(home) == []


def test_data_an_older_cyberwell_left_open_is_closed(tmp_path, export):
    home = tmp_path / "home"
    assert cyberwell(home, "ingest", str(export), "--source", "entra-signins").returncode == 0
    (home / "events").chmod(0o755)
    (home / "state.sqlite").chmod(0o644)
    done = cyberwell(home, "alerts", "list", "--json", umask=0o022)
    assert done.returncode == 0 and json.loads(done.stdout) == []
    assert stat.S_IMODE((home / "events").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state.sqlite").stat().st_mode) == 0o600


def test_the_syslog_spool_of_serve_is_private_under_a_shared_umask(tmp_path):
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir(mode=0o700)
    (home / "cyberwell.toml").write_text(
        f'[collectors.syslog]\nspool_dir = "{spool}"\nudp_port = 0\ntcp_port = false\ninterval_seconds = 1\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERWELL_")}
    env.update(PYTHONPATH=str(REPO))
    serve = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        umask=0o022,
    )
    try:
        udp = wait_for(lambda: (read_stats(spool) or {}).get("listening", {}).get("udp"))
        assert udp, "the receiver never published where it listens"
        host, port = udp.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"<14>1 2026-11-16T09:00:00Z fw app - - - private please", (host, int(port)))
        assert wait_for(lambda: (read_stats(spool) or {}).get("received", 0) >= 1)
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()
    assert serve.returncode == 0, err
    assert any(path.is_file() for path in spool.rglob("*"))
    assert loose(spool) == []
    assert loose(home / "events") == [] and loose(home / "state.sqlite") == []


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value
