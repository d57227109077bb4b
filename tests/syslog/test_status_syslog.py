"""An operator sees UDP losses: ``cyberwell serve`` takes a syslog flood it cannot hold, and
``cyberwell status`` (another process) shows how many datagrams were lost and where.

Every process is a real one, as in production: ``serve`` (the receiver and the drain), a sender,
and ``status``. The messages are ``tests.syslog.test_syslog_spool.message``: RFC 3164 and 5424 headers
with FortiGate, PAN-OS and CEF bodies shaped like the vendors' samples in ../shared/data
(SEKOIA-IO/intake-formats), each one distinct.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from collectors.live.syslog_receiver import read_stats
from console.cli import app
from store import EmbeddedStore

REPO = Path(__file__).resolve().parents[2]
DATAGRAMS = 20_000
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# As fast as one Python process can: each sendto that returns was handed to the kernel, so it
# counts as sent; one that fails is not counted (none do on loopback, but say what is counted).
SENDER = r"""
import socket, sys
from tests.syslog.test_syslog_spool import message

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(count):
    try:
        sock.sendto(message(i).encode(), (host, port))
        sent += 1
    except OSError:
        pass
print(sent)
"""


def _env(**extra: str) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def _cyberwell(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), *args],
        cwd=REPO,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def _wait_for(condition, timeout: float):
    """The condition's first true value, or its last false one when the time is up."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _softnet_drops() -> int:
    """Packets the kernel dropped before any socket (a full per-CPU backlog): the one loss on
    loopback no socket counter sees. Only reported, to explain a failed equality."""
    try:
        with open("/proc/net/softnet_stat") as table:
            return sum(int(line.split()[1], 16) for line in table)
    except OSError:
        return -1


def test_status_shows_the_udp_losses_of_a_flood_while_serve_runs(tmp_path):
    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    # Port 0: the system picks free ports, and the receiver publishes where it listens.
    # udp_rcvbuf = 1 gets the kernel's minimum socket buffer (a few datagrams) and the queue
    # holds about a dozen messages: the flood below is over a hundred times what both can hold,
    # so it certainly overflows them.
    (home / "cyberwell.toml").write_text(f"""
[collectors.syslog]
spool_dir = "{spool}"
udp_port = 0
tcp_port = false
udp_rcvbuf = 1
queue_max_bytes = 4096
interval_seconds = 1
""")
    serve = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        udp = _wait_for(lambda: (read_stats(spool) or {}).get("listening", {}).get("udp"), 30)
        assert udp, ("the receiver never published where it listens", serve.poll())
        host, port = udp.rsplit(":", 1)
        softnet_before = _softnet_drops()
        sender = subprocess.run(
            [sys.executable, "-c", SENDER, host, port, str(DATAGRAMS)],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sender.returncode == 0, sender.stderr
        sent = int(sender.stdout)
        assert sent == DATAGRAMS

        def accounted():
            stats = read_stats(spool) or {}
            return (
                stats.get("queued_bytes") == 0
                and stats.get("received", 0) + stats.get("dropped_udp", 0) + stats.get("kernel_drops", 0) == sent
            )

        # Once the queue is written, every datagram sent is received or counted as dropped.
        assert _wait_for(accounted, 15), (
            "not every datagram sent was accounted for",
            sent,
            read_stats(spool),
            "softnet drops meanwhile:",
            _softnet_drops() - softnet_before,
        )

        rows = {row["source"]: row for row in json.loads(_cyberwell(home, "status", "--json").stdout)}
        receiver = rows["syslog"]["receiver"]
        assert receiver["state"] == "running" and receiver["running"] is True
        assert receiver["listening"]["udp"] == f"{host}:{port}"
        assert receiver["udp_lost"] == receiver["dropped_udp"] + receiver["kernel_drops"] > 0
        assert receiver["received"] == receiver["received_udp"] > 0
        assert receiver["received"] + receiver["udp_lost"] == sent
        assert receiver["oversized"] == receiver["truncated"] == 0
        print("flood:", {key: receiver[key] for key in ("received", "dropped_udp", "kernel_drops")})

        # The table, coloured as on a terminal: each loss counter in bold red, and a sentence.
        coloured = _cyberwell(home, "status", FORCE_COLOR="1", COLUMNS="120").stdout
        plain = ANSI.sub("", coloured)
        assert f"{receiver['udp_lost']} UDP datagrams lost" in plain
        for key in ("dropped_udp", "kernel_drops"):
            shown = re.search(rf"{key} \([^)]*\)\s*│\s*(\d+)", plain)
            assert shown and int(shown.group(1)) == receiver[key], plain
        assert re.search(rf"\x1b\[1;31m{receiver['kernel_drops']}\s*\x1b\[0m", coloured), coloured

        # What was received is what the drain inside serve stores, each message once.
        store = EmbeddedStore(home)
        assert _wait_for(lambda: store.count() == receiver["received"], 20), store.count()

        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()
    assert serve.returncode == 0, err
    assert f"listening on udp {host}:{port}" in err and "stopped" in err
    stopped = json.loads(CliRunner().invoke(app, ["--home", str(home), "status", "--json"]).output)
    assert stopped[0]["receiver"]["state"] == "stopped"
    assert stopped[0]["receiver"]["received"] == receiver["received"]
