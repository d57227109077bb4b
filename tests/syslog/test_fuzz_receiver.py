"""Raw-bytes fuzzing of a real ``cyberwell serve``'s syslog receiver (issue 10, point 11).

Hostile byte streams go over TCP — octet counts huge, negative or not numbers, NUL, invalid
UTF-8, frames cut short, lines past every bound, several connections interleaved, some reset
mid-frame — and hostile datagrams over UDP (empty, 65,507 bytes, binary). Then what a user relies
on is checked: ``serve`` is alive; a well-formed message from another sender sent afterwards is
stored; every record the receiver spooled was stored or quarantined by the drain (the counts add
up); nothing was unwritable or lost; and ``serve``'s memory stayed bounded.

Seeded: the seed is printed (pytest shows it with a failure) and ``CYBERWELL_FUZZ_SEED=<n>``
replays a run; ``CYBERWELL_FUZZ_ROUNDS`` makes it longer. The default run takes about half a
minute on two cores.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.live.syslog_receiver import read_stats
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.syslog.test_syslog_spool import message

REPO = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("CYBERWELL_FUZZ_SEED") or secrets.randbits(32))
ROUNDS = int(os.environ.get("CYBERWELL_FUZZ_ROUNDS") or 12)
MAX_MESSAGE = 1024
MAX_FRAME = 8192
UDP_MAX = 65_507  # the largest IPv4 UDP payload
RSS_GROWTH_LIMIT = 128 * 1024 * 1024  # DuckDB and Arrow during the drain, plus a bounded queue
OTHER_SENDER = "127.0.0.2"  # a second address on loopback: the probe is another sender


def _say(condition: bool, what: str) -> None:
    """An assertion that names the seed, so that any failure can be replayed."""
    assert condition, f"{what} (replay with CYBERWELL_FUZZ_SEED={SEED})"


def _wait_for(condition: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


# --- what a hostile sender sends ------------------------------------------------------------------


def _hostile_frame(rng: random.Random) -> bytes:
    """One piece of a stream: valid, or broken in one of the ways the issue names."""
    text = message(rng.randrange(10**6)).encode()
    binary = rng.randbytes(rng.randrange(1, 300))
    choices: list[Callable[[], bytes]] = [
        lambda: text + b"\n",
        lambda: str(len(text)).encode() + b" " + text,
        lambda: str(rng.choice([2**32, 2**32 + 1, 9_999_999_999, rng.randrange(2**32, 10**10)])).encode() + b" <14>1 x",
        lambda: str(10 ** rng.randrange(10, 30)).encode() + b" <14>1 x\n",  # more digits than a count
        lambda: b"-" + str(rng.randrange(1, 10**6)).encode() + b" <14>1 negative\n",
        lambda: rng.choice([b"12a <14>x\n", b"0x10 <14>x\n", b" 5 <14>x\n", b"5<14>x\n", b"0 <14>zero\n"]),
        lambda: str(rng.randrange(MAX_MESSAGE, MAX_FRAME)).encode() + b" <14>" + binary,  # counted, cut short
        lambda: b"<14>" + bytes(rng.randrange(1, 50)) + b"nul\n",
        lambda: b"<14>1 2026-03-01T09:30:00Z h a - - - " + b"\xff\xfe\xc3(" + binary + b"\n",
        lambda: binary,
        lambda: b"<14>" + b"L" * rng.randrange(MAX_MESSAGE, MAX_MESSAGE * 3) + b"\n",  # oversized line
        lambda: b"<14>" + b"R" * rng.randrange(MAX_FRAME, MAX_FRAME * 2),  # past the frame bound
        lambda: rng.choice([b"\n", b"\r\n", b"\r", b"\n\n\n", b" \t \n", b"\xc2\xa0\r\n"]),
        lambda: b"<14>1 0001-01-01T00:00:00Z host app - - - the year one\n",
        lambda: b"<14>1 9999-12-31T23:59:59Z host app - - - the year 9999\n",
    ]
    return rng.choice(choices)()


def _hostile_datagram(rng: random.Random) -> bytes:
    return rng.choice(
        [
            b"",
            b"\n",
            b" \t \r\n",  # whitespace only: a keep-alive, not a message
            rng.randbytes(UDP_MAX),
            b"<14>" + b"U" * (UDP_MAX - 4),
            rng.randbytes(rng.randrange(1, 2000)),
            message(rng.randrange(10**6)).encode(),
            b"<14>" + bytes(20) + b"\xff\xfe",
        ]
    )


def _blank(datagram: bytes) -> bool:
    return not datagram.decode("utf-8", errors="replace").strip()


class _Connection:
    """One fuzzing connection: its bytes, sent in random pieces, and how it will end."""

    def __init__(self, rng: random.Random, address: tuple[str, int]):
        self.data = b"".join(_hostile_frame(rng) for _ in range(rng.randrange(1, 25)))
        self.sent = 0
        self.ending = rng.choice(["close", "close", "reset", "reset_midway", "leave_open"])
        if self.ending == "reset_midway":
            self.data = self.data[: rng.randrange(len(self.data) + 1)]
        self.sock: socket.socket | None = socket.create_connection(address, timeout=5)

    def send_some(self, rng: random.Random) -> None:
        piece = self.data[self.sent : self.sent + rng.randrange(1, 4096)]
        assert self.sock is not None
        try:
            self.sock.sendall(piece)
        except OSError:  # the receiver closed it (a rejected frame): nothing more goes
            self.sent = len(self.data)
            return
        self.sent += len(piece)

    def end(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        if self.ending in ("reset", "reset_midway"):  # an abrupt disconnect: RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        sock.close()


def _tcp_round(rng: random.Random, address: tuple[str, int]) -> list[_Connection]:
    """Several connections at once, their pieces interleaved; returns those left open."""
    connections = [_Connection(rng, address) for _ in range(rng.randrange(1, 8))]
    while busy := [c for c in connections if c.sent < len(c.data)]:
        rng.choice(busy).send_some(rng)
    kept = []
    for connection in connections:
        if connection.ending == "leave_open":
            kept.append(connection)
        else:
            connection.end()
    return kept


# --- serve --------------------------------------------------------------------------------------


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _PeakRss:
    """Samples a process's resident memory in the background; ``peak`` is the highest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, _rss(self.pid))
            except OSError:
                return


@pytest.fixture(scope="module")
def serve(tmp_path_factory) -> Iterator[tuple[subprocess.Popen, Path, Path]]:
    home = tmp_path_factory.mktemp("fuzz-home")
    spool = home / "spool"
    (home / "cyberwell.toml").write_text(f"""
[collectors.syslog]
spool_dir = "{spool}"
udp_port = 0
tcp_port = 0
max_message_bytes = {MAX_MESSAGE}
max_frame_bytes = {MAX_FRAME}
queue_max_bytes = 262144
max_connections_per_source = 64
idle_timeout_seconds = 2
interval_seconds = 1
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, home, spool
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _addresses(spool: Path) -> dict[str, tuple[str, int]]:
    listening = (read_stats(spool) or {}).get("listening", {})
    return {name: (where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1])) for name, where in listening.items()}


def _settled(spool: Path) -> dict | None:
    """The receiver's counters once nothing is queued or connected: what it will ever count."""
    stats = read_stats(spool) or {}
    return stats if stats.get("queued_bytes") == 0 and stats.get("connections") == 0 else None


def _drained(home: Path) -> int:
    """Records the drain has finished: stored, found already stored, or quarantined."""
    runs = Checkpoints(EmbeddedStore(home).state).runs("syslog")
    return sum(run.stored + run.duplicates + run.quarantined for run in runs)


def _spooled(stats: dict) -> int:
    return stats["received"] + stats["oversized"] + stats["truncated"] + stats["rejected_frames"]


def _stored(home: Path, session: int) -> bool:
    table = EmbeddedStore(home).search(
        ["fortinet.firewall"],
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        f"\"fortinet.firewall.sessionid\" = '{session}'",
    )
    return table.num_rows == 1


def _probe(home: Path, addresses: dict[str, tuple[str, int]], session: int) -> None:
    """A well-formed message from another address, over TCP and UDP: each must be stored."""
    tcp_line, udp_line = message(session), message(session + 3)
    with socket.create_connection(addresses["tcp"], source_address=(OTHER_SENDER, 0), timeout=10) as sock:
        sock.sendall(tcp_line.encode() + b"\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((OTHER_SENDER, 0))
        sock.sendto(udp_line.encode(), addresses["udp"])
    for number, transport in ((session, "TCP"), (session + 3, "UDP")):
        _say(
            bool(_wait_for(lambda n=number: _stored(home, n), 30)), f"a well-formed {transport} message was not stored"
        )


def _udp_round(rng: random.Random, spool: Path, address: tuple[str, int]) -> None:
    """Hostile datagrams, then their accounting: each non-empty one received, set aside as
    oversized or counted lost. The kernel counts any datagram it drops, an empty one too, so
    when it dropped some the count is only bounded."""
    # The counters are published about once a second: wait until they show both probes.
    before = _wait_for(lambda: (stats := _settled(spool)) and stats["received"] == 2 and stats, 20)
    _say(isinstance(before, dict), f"the receiver never settled before the UDP round: {read_stats(spool)}")
    assert isinstance(before, dict)
    datagrams = [_hostile_datagram(rng) for _ in range(40 * ROUNDS)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)
            time.sleep(0.002)  # hostile, not a flood: a flood's accounting is test_status_syslog's
    # An empty or whitespace-only datagram (after its one trailing LF) is not a message at all.
    counted = sum(not _blank(d.removesuffix(b"\n").removesuffix(b"\r")) for d in datagrams)
    keys = ("received_udp", "oversized", "dropped_udp", "kernel_drops")

    def accounted() -> dict | None:
        stats = _settled(spool)
        if stats is None:
            return None
        seen = sum(stats[key] - before[key] for key in keys)
        if stats["kernel_drops"] == before["kernel_drops"]:
            return stats if seen == counted else None
        return stats if counted <= seen <= len(datagrams) else None

    after = _wait_for(accounted, 20)
    last = read_stats(spool) or {}
    _say(
        isinstance(after, dict),
        f"UDP: {counted} datagrams sent, {sum(last.get(k, 0) - before[k] for k in keys)} accounted for: {last}",
    )


def test_hostile_bytes_never_stop_serve_lose_records_or_grow_memory(serve):
    print(f"fuzz seed {SEED} (CYBERWELL_FUZZ_SEED={SEED} replays it)")
    process, home, spool = serve
    rng = random.Random(SEED)
    _say(bool(_wait_for(lambda: "udp" in _addresses(spool) and "tcp" in _addresses(spool), 60)), "serve never listened")
    addresses = _addresses(spool)
    session = 3 * rng.randrange(300_000, 330_000)  # fortinet bodies, beyond what the fuzz sends
    _probe(home, addresses, session)  # warm: the drain has run, DuckDB is loaded
    baseline = _rss(process.pid)

    with _PeakRss(process.pid) as memory:
        _udp_round(rng, spool, addresses["udp"])  # first and alone, so that its counts are known
        open_connections: list[_Connection] = []
        for _ in range(ROUNDS):
            open_connections += _tcp_round(rng, addresses["tcp"])
            _say(process.poll() is None, "serve died during the fuzz")
        time.sleep(0.5)
        for connection in open_connections[: len(open_connections) // 2]:
            connection.end()  # the rest wait for the idle time-out
        ended = _wait_for(lambda: _settled(spool), 30)
        _say(isinstance(ended, dict), f"connections never ended (idle time-out): {read_stats(spool)}")

    _say(process.poll() is None, "serve died")
    _probe(home, addresses, session + 6)
    # Both sides converge: the receiver's counters (published about once a second) and the runs.
    final = _wait_for(lambda: (stats := _settled(spool)) and _drained(home) == _spooled(stats) and stats, 30)
    last = read_stats(spool) or {}
    _say(isinstance(final, dict), f"spooled {_spooled(last)} records, the drain accounted for {_drained(home)}: {last}")
    assert isinstance(final, dict)
    _say((final["unwritable"], final["lost_on_stop"], final["error"]) == (0, 0, None), f"the writer failed: {final}")
    errors = [run.error for run in Checkpoints(EmbeddedStore(home).state).runs("syslog") if run.error]
    _say(not errors, f"drain runs failed: {errors[:3]}")
    growth = memory.peak - baseline
    _say(growth < RSS_GROWTH_LIMIT, f"serve's RSS grew {growth / 2**20:.0f} MiB during the fuzz")
    shown = {key: final[key] for key in ("received", "oversized", "truncated", "rejected_frames", "idle_timeouts")}
    print("fuzz:", json.dumps(shown), f"RSS +{growth / 2**20:.1f} MiB")

    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    _say(process.returncode == 0, f"serve exited {process.returncode}: {err[-2000:]}")
    _say("Traceback" not in err, f"serve logged a traceback: {err[-4000:]}")
