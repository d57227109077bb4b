"""A hostile or broken sender never stops the syslog receiver, locks others out or has what was
received thrown away (issue 10, points 1, 7 and 9).

The receiver runs in this process for the counting tests and as a real ``cyberwell serve`` for
the stop and status ones; senders are real sockets on loopback, a second sender speaking from
127.0.0.2 so that the per-address bounds see two addresses.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.live import syslog_spool
from collectors.live.syslog_receiver import STATS_FILE, ReceiverSettings, SyslogReceiver, read_stats
from collectors.live.syslog_spool import MAX_SIZE_FIELD, OVERSIZED, REJECTED, encode
from collectors.live.syslog_stream import StreamFramer
from tests.syslog.test_syslog_receiver import wait_for
from tests.syslog.test_syslog_spool import drain, message, read_all

REPO = Path(__file__).resolve().parents[2]
POISON = b"4294967296 <14>1 x"  # the frame of the issue: 2^32 octets announced
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def receiver_factory(tmp_path):
    started = []

    def make(**options) -> SyslogReceiver:
        options = {"spool_dir": tmp_path / "spool", "tcp_port": 0, "udp_port": 0, **options}
        receiver = SyslogReceiver(options)
        receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def send_from(address: tuple[str, int], data: bytes, source: str = "127.0.0.1") -> None:
    """One connection from ``source``: send, close our side, wait for the receiver to close."""
    with socket.create_connection(address, source_address=(source, 0), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        try:
            sock.recv(1)
        except ConnectionResetError:
            pass


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# --- point 1: one frame must not stop the receiver ------------------------------------------------


def test_an_octet_count_of_2_32_is_rejected_and_the_receiver_goes_on_storing(receiver_factory, tmp_path):
    receiver = receiver_factory()
    tcp = receiver.addresses["tcp"]
    with socket.create_connection(tcp) as hostile:
        hostile.sendall(POISON)
        assert closed_by_peer(hostile, 10), "a frame whose framing cannot be trusted closes its connection"
    send_from(tcp, message(1).encode() + b"\n" + message(2).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 2), receiver.stats()
    stats = receiver.stats()
    assert (stats["rejected_frames"], stats["unwritable"], stats["error"]) == (1, 0, None)
    receiver.stop()
    assert receiver.stats()["lost_on_stop"] == 0
    _, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert (run.stored, run.quarantined, run.error) == (2, 1, None)


def test_max_frame_bytes_is_a_setting_and_frames_over_it_are_quarantined(receiver_factory, tmp_path):
    receiver = receiver_factory(max_message_bytes=1024, max_frame_bytes=100_000)
    tcp = receiver.addresses["tcp"]
    big = b"<14>" + b"x" * 5000
    # Over max_message_bytes but within max_frame_bytes: cut, and the stream goes on.
    send_from(tcp, str(len(big)).encode() + b" " + big + message(1).encode() + b"\n")
    # Over max_frame_bytes: rejected, whatever follows on that connection is not read as frames.
    send_from(tcp, b"200000 <14>" + b"y" * 3000 + b"\n" + message(2).encode() + b"\n")
    send_from(tcp, message(3).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 2 and receiver.stats()["rejected_frames"] == 1)
    assert receiver.stats()["oversized"] == 1
    receiver.stop()
    store, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert (run.stored, run.quarantined) == (2, 2)
    reasons = sorted(row["reason"] for row in store.state.quarantined())
    assert "max_frame_bytes" in reasons[0] and reasons[0].startswith("frame rejected")
    rejected = next(row for row in store.state.quarantined() if row["reason"].startswith("frame rejected"))
    assert rejected["record"].startswith("200000 <14>yyy")  # the count is shown: it is what was wrong


def test_frame_settings_are_checked_against_each_other(tmp_path):
    with pytest.raises(ValueError, match="max_frame_bytes"):
        ReceiverSettings.from_mapping({"spool_dir": tmp_path, "max_frame_bytes": 2**32})
    with pytest.raises(ValueError, match="max_frame_bytes"):
        ReceiverSettings.from_mapping({"spool_dir": tmp_path, "max_message_bytes": 4096, "max_frame_bytes": 1000})
    with pytest.raises(ValueError, match="max_message_bytes"):
        ReceiverSettings.from_mapping({"spool_dir": tmp_path, "max_message_bytes": 2**30})
    # A larger message alone raises the frame bound with it.
    chosen = ReceiverSettings.from_mapping({"spool_dir": tmp_path, "max_message_bytes": 32 * 1024 * 1024})
    assert chosen.max_frame_bytes == 32 * 1024 * 1024


hostile_pieces = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.integers(0, 10**10 - 1).map(lambda n: str(n).encode() + b" <"),
        st.integers(2**32 - 2, 10**10 - 1).map(lambda n: str(n).encode() + b" <14>1 x"),
        st.sampled_from([b"\n", b"\r\n", b"\x00", b"<14>", b"-5 <14>", b"\xff\xfe"]),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(pieces=hostile_pieces, max_frame=st.integers(480, 5000), data=st.data())
def test_whatever_bytes_arrive_every_frame_can_be_spooled(pieces, max_frame, data):
    """The framer never hands the writer a record it cannot encode, nor keeps more than a message."""
    stream = b"".join(pieces)
    framer = StreamFramer(480, max_frame)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    odd: list[tuple[int, int, bytes]] = []
    messages: list[bytes] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got, strange = framer.feed(stream[start:stop])
        messages += got
        odd += strange
    got, strange = framer.finish(complete=data.draw(st.booleans()))
    messages += got
    odd += strange
    for kind, size, head in odd:
        encode(0, b"tcp:127.0.0.1:1", kind, size, head)  # raises struct.error on a size it cannot hold
        assert size <= max(max_frame, 480) or kind == REJECTED
        assert len(head) <= 480
    assert all(len(m) <= 480 for m in messages)
    assert sum(kind == REJECTED for kind, _, _ in odd) <= 1


def test_the_writer_survives_a_record_it_cannot_encode(receiver_factory, tmp_path):
    """Whatever reaches the writer, it counts what it cannot write and goes on."""
    receiver = receiver_factory()
    # A frame no framer should make (its size does not fit the record header), handed to the
    # receiver as a connection would hand it: the writer must not die of it.
    receiver._accept(
        "tcp", b"tcp:192.0.2.1:9", [message(5).encode()], [(OVERSIZED, 2**40, b"<14>x")], drop_when_full=False
    )
    send_from(receiver.addresses["tcp"], message(6).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 2), receiver.stats()
    stats = receiver.stats()
    assert stats["unwritable"] == 1
    assert "192.0.2.1" in stats["error"] and "cannot be spooled" in stats["error"]
    receiver.stop()
    _, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert run.stored == 2


def test_messages_from_a_peer_whose_name_a_record_cannot_hold_are_each_counted(receiver_factory, tmp_path):
    """A read's messages are spooled at once; when they cannot be, each is tried on its own and
    counted, and the writer goes on."""
    receiver = receiver_factory()
    far = b"tcp:" + b"h" * 300 + b":9"  # longer than the record's one-byte peer length
    receiver._accept("tcp", far, [message(7).encode(), message(8).encode()], [], drop_when_full=False)
    send_from(receiver.addresses["tcp"], message(9).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 1), receiver.stats()
    assert wait_for(lambda: receiver.stats()["unwritable"] == 2), receiver.stats()
    receiver.stop()
    _, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert run.stored == 1


def test_whitespace_only_lines_are_keep_alives_so_every_message_received_is_accounted_for(receiver_factory, tmp_path):
    """The drain skips a blank line; spooled, it would be received and then neither stored nor
    quarantined. So the receiver never takes one for a message, over TCP or UDP."""
    receiver = receiver_factory()
    send_from(receiver.addresses["tcp"], b" \r\n\t\n\r\r\n\xc2\xa0\n" + message(1).encode() + b"\n   ")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b" \t ", receiver.addresses["udp"])
        sock.sendto(message(2).encode(), receiver.addresses["udp"])
    assert wait_for(lambda: receiver.stats()["received"] >= 2)
    time.sleep(0.3)  # anything else sent is in by now
    receiver.stop()
    received = receiver.stats()["received"]
    _, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert received == 2
    assert run.stored + run.duplicates + run.quarantined == received


def test_the_spool_is_private_to_the_user(receiver_factory, tmp_path):
    receiver = receiver_factory()
    send_from(receiver.addresses["tcp"], message(1).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 1)
    receiver.stop()
    drain(tmp_path / "spool", tmp_path / "home")  # writes the drained note
    spool = tmp_path / "spool"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in spool.iterdir()}
    assert STATS_FILE in files and "spool-id" in files and "drained" in files
    assert any(name.endswith(".seg") for name in files)
    assert files == dict.fromkeys(files, 0o600)


# --- point 7: connections -----------------------------------------------------------------------


def test_one_address_holding_300_idle_connections_does_not_lock_out_another_sender(receiver_factory, tmp_path):
    receiver = receiver_factory()  # the defaults: 256 in all, 32 per address
    tcp = receiver.addresses["tcp"]
    idle = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection(tcp, source_address=("127.0.0.1", 0)))
        assert wait_for(lambda: receiver.stats()["refused_per_source"] == 300 - 32), receiver.stats()
        send_from(tcp, message(1).encode() + b"\n", source="127.0.0.2")
        assert wait_for(lambda: receiver.stats()["received"] == 1), receiver.stats()
        stats = receiver.stats()
        assert (stats["refused_max_connections"], stats["connections_rejected"]) == (0, 268)
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_connection_is_closed_counted_and_its_cut_line_kept(receiver_factory, tmp_path):
    receiver = receiver_factory(idle_timeout_seconds=1)
    with socket.create_connection(receiver.addresses["tcp"]) as quiet:
        quiet.sendall(message(1).encode() + b"\n" + b"<14>a line never end")
        started = time.monotonic()
        assert closed_by_peer(quiet, 10)
        assert time.monotonic() - started < 5
    assert wait_for(lambda: receiver.stats()["idle_timeouts"] == 1 and receiver.stats()["truncated"] == 1)
    assert receiver.stats()["connections"] == 0
    receiver.stop()
    store, _, run = drain(tmp_path / "spool", tmp_path / "home")
    assert (run.stored, run.quarantined) == (1, 1)
    (row,) = store.state.quarantined()
    assert "idle_timeout_seconds" in row["reason"] and row["record"] == "<14>a line never end"


def test_connection_settings_are_whole_numbers(tmp_path):
    chosen = ReceiverSettings.from_mapping(
        {"spool_dir": tmp_path, "max_connections_per_source": 4, "idle_timeout_seconds": 0}
    )
    assert (chosen.max_connections_per_source, chosen.idle_timeout_seconds) == (4, 0)
    with pytest.raises(ValueError, match="max_connections_per_source"):
        ReceiverSettings.from_mapping({"spool_dir": tmp_path, "max_connections_per_source": 0})
    with pytest.raises(ValueError, match="idle_timeout_seconds"):
        ReceiverSettings.from_mapping({"spool_dir": tmp_path, "idle_timeout_seconds": -1})


# --- through a real `cyberwell serve` ------------------------------------------------------------


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _serve(home: Path, spool: Path, **settings: object) -> subprocess.Popen:
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    home.mkdir(exist_ok=True)
    (home / "cyberwell.toml").write_text(
        f'[collectors.syslog]\nspool_dir = "{spool}"\nudp_port = 0\ntcp_port = 0\n{lines}\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _listening(spool: Path, serve: subprocess.Popen) -> tuple[str, int]:
    assert wait_for(lambda: (read_stats(spool) or {}).get("listening", {}).get("tcp"), 60), serve.poll()
    host, port = read_stats(spool)["listening"]["tcp"].rsplit(":", 1)  # type: ignore[index]
    return host, int(port)


def test_sigterm_after_a_poison_frame_keeps_everything_received(tmp_path):
    """The issue's run: the frame, then other senders, then SIGTERM before the drain comes by."""
    home, spool = tmp_path / "home", tmp_path / "spool"
    serve = _serve(home, spool, interval_seconds=3600)  # the drain runs once at start, then waits
    try:
        tcp = _listening(spool, serve)
        send_from(tcp, POISON)
        for i in range(20):
            send_from(tcp, message(i).encode() + b"\n", source="127.0.0.2")
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, err
    assert "Traceback" not in err
    kept = [r.data for r in read_all(spool) if r.kind == syslog_spool.MESSAGE]
    assert sorted(kept) == sorted(message(i).encode() for i in range(20))
    published = read_stats(spool)
    assert published is not None
    assert (published["received"], published["rejected_frames"], published["lost_on_stop"]) == (20, 1, 0)
    assert published["running"] is False


def test_status_shows_refused_and_idle_connections(tmp_path):
    home, spool = tmp_path / "home", tmp_path / "spool"
    serve = _serve(home, spool, max_connections_per_source=2, idle_timeout_seconds=1, interval_seconds=1)
    try:
        tcp = _listening(spool, serve)
        held = [socket.create_connection(tcp) for _ in range(5)]  # 2 kept, 3 refused
        try:
            assert wait_for(lambda: (read_stats(spool) or {}).get("idle_timeouts") == 2, 30), read_stats(spool)
        finally:
            for sock in held:
                sock.close()
        send_from(tcp, message(1).encode() + b"\n", source="127.0.0.2")
        assert wait_for(lambda: (read_stats(spool) or {}).get("received") == 1, 30)
        done = subprocess.run(
            [sys.executable, "-m", "console.cli", "--home", str(home), "status"],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        shown = subprocess.run(
            [sys.executable, "-m", "console.cli", "--home", str(home), "status", "--json"],
            cwd=REPO,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    assert done.returncode == 0, done.stderr
    table = ANSI.sub("", done.stdout)
    assert re.search(r"refused \(per source\)\s*│\s*3\b", table), table
    assert re.search(r"closed idle \(idle_timeout\)\s*│\s*2\b", table), table
    (row,) = [r for r in json.loads(shown.stdout) if r["source"] == "syslog"]
    receiver = row["receiver"]
    assert (receiver["refused_per_source"], receiver["idle_timeouts"], receiver["received"]) == (3, 2, 1)


def test_a_stop_that_cannot_keep_what_was_read_says_so(receiver_factory, tmp_path, caplog, monkeypatch):
    """A disk that fails during the stop: the messages read and not kept are counted and logged.

    The failing disk is the one stand-in here: the suite runs as root, and root writes through
    any permission, so no real folder can be made to refuse the spool's writes.
    """
    receiver = receiver_factory()
    spool = tmp_path / "spool"
    send_from(receiver.addresses["tcp"], message(1).encode() + b"\n")
    assert wait_for(lambda: receiver.stats()["received"] == 1)

    def disk_gone(records) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver._spool, "write", disk_gone)
    receiver._accept("tcp", b"tcp:192.0.2.1:9", [message(2).encode()], [], drop_when_full=False)
    assert wait_for(lambda: (receiver.stats()["error"] or "").startswith("spool write failed"))
    assert receiver.stop(timeout=10) == 1  # serve exits 1 on it
    assert receiver.stats()["lost_on_stop"] == 1
    assert "1 received messages not spooled" in caplog.text
    published = read_stats(spool)
    assert published is not None and (published["lost_on_stop"], published["received"]) == (1, 1)


def test_record_header_bounds_are_what_the_framer_obeys():
    assert MAX_SIZE_FIELD == 2**32 - 1
    with pytest.raises(struct.error):
        encode(0, b"p", OVERSIZED, 2**32, b"x")
    assert StreamFramer(480, 2**40).max_frame == MAX_SIZE_FIELD
