"""The syslog spool and its drain (collectors.live.syslog_spool, collectors.live.syslog_collector).

Messages here are generated: RFC 3164 and 5424 headers in front of FortiGate key=value, PAN-OS
CSV and CEF bodies shaped like the vendors' samples in ../shared/data (SEKOIA-IO/intake-formats:
Fortinet/fortigate, Palo Alto Networks/paloalto-ngfw and CEF/cef tests), numbered so each is
distinct. One test replays the FortiGate samples themselves through the spool.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.live import syslog_spool
from collectors.live.spool_records import Record, Records
from collectors.live.syslog_collector import SyslogCollector, parse_records
from collectors.live.syslog_spool import (
    MAGIC,
    MESSAGE,
    OVERSIZED,
    TRUNCATED,
    Position,
    SpoolWriter,
    encode,
    read_batch,
)
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints

REPO = Path(__file__).resolve().parents[2]
RECEIVED_US = 1_772_357_400_000_000  # 2026-03-01 09:30:00 UTC


def message(i: int) -> str:
    """The i-th test message: header style and body format cycle with i, i makes it unique."""
    body = i % 3
    if body == 0:
        text = (
            f'date=2026-03-01 time=09:{i // 60 % 60:02d}:{i % 60:02d} devname="FGT-CORE" '
            f'devid="FG100F" tz="+0000" logid="0000000013" type="traffic" subtype="forward" '
            f"srcip=10.1.{i // 250 % 250}.{i % 250} srcport={1024 + i % 60000} "
            f'dstip=93.184.216.34 dstport=443 proto=6 action="close" policyid=7 '
            f"sessionid={i}"
        )
    elif body == 1:
        text = (
            f"1,2026/03/01 09:31:00,016201000123,TRAFFIC,end,2561,2026/03/01 09:30:59,"
            f"10.1.2.3,52.1.2.3,203.0.113.5,0.0.0.0,Allow-Web,council\\jdoe,,ssl,vsys1,trust,"
            f"untrust,ethernet1/2,ethernet1/1,Forward,2026/03/01 09:31:00,{i},1,50123,443,"
            f"61000,443,0x400053,tcp,allow"
        )
    else:
        text = (
            f"CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|rt={1772357400000 + i} "
            f"src=10.1.2.3 spt={1024 + i % 60000} dst=52.1.2.3 dpt=443 proto=TCP act=accept "
            f"cn1={i} cn1Label=sequence"
        )
    if i % 2:
        return f"<134>1 2026-03-01T09:30:00.{i % 1000:03d}Z fw{i % 7} - - - - {text}"
    return f"<134>Mar  1 09:30:00 fw{i % 7} {text}"


def spool_messages(
    directory: Path, texts: list[str], *, segment_bytes: int = 1 << 20, peer: bytes = b"tcp:192.0.2.10:5000"
) -> None:
    writer = SpoolWriter(directory, segment_bytes)
    writer.open()
    try:
        for start in range(0, len(texts), 1000):
            writer.write(
                encode(RECEIVED_US, peer, MESSAGE, len(t.encode()), t.encode()) for t in texts[start : start + 1000]
            )
            writer.sync()
    finally:
        writer.close()


def read_all(directory: Path, **bounds) -> list[Record]:
    position = Position.from_dict(None, syslog_spool.spool_id(directory))
    records = []
    while True:
        batch = read_batch(
            directory,
            position,
            max_records=bounds.get("max_records", 10**6),
            max_bytes=bounds.get("max_bytes", 1 << 26),
        )
        records += batch.records
        if batch.end == position:
            return records
        position = batch.end


# --- the on-disk format -------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=60),
    segment_bytes=st.integers(min_value=200, max_value=5000),
    max_records=st.integers(min_value=1, max_value=20),
    max_bytes=st.integers(min_value=1, max_value=3000),
)
def test_every_record_comes_back_once_in_order_whatever_the_batch_bounds(
    tmp_path_factory, payloads, segment_bytes, max_records, max_bytes
):
    directory = tmp_path_factory.mktemp("spool")
    writer = SpoolWriter(directory, segment_bytes)
    writer.open()
    for n, payload in enumerate(payloads):
        writer.write([encode(RECEIVED_US + n, b"udp:198.51.100.7:514", MESSAGE, len(payload), payload)])
        writer.sync()
    writer.close()
    records = read_all(directory, max_records=max_records, max_bytes=max_bytes)
    assert [r.data for r in records] == payloads
    assert [r.received_us for r in records] == [RECEIVED_US + n for n in range(len(payloads))]
    assert {r.peer for r in records} == {"udp:198.51.100.7:514"}
    # (segment, index) names each record once: the quarantine relies on it.
    assert len({(r.segment, r.ordinal) for r in records}) == len(records)


def test_a_restarted_writer_never_reuses_a_segment_number(tmp_path):
    spool_messages(tmp_path, [message(1)])
    spool_messages(tmp_path, [message(2)])
    assert syslog_spool.segments(tmp_path) == [1, 2]
    assert [r.segment for r in read_all(tmp_path)] == [1, 2]


def test_a_second_writer_on_the_same_spool_is_refused(tmp_path):
    first = SpoolWriter(tmp_path)
    first.open()
    try:
        with pytest.raises(syslog_spool.SpoolError, match="in use"):
            SpoolWriter(tmp_path).open()
    finally:
        first.close()


def test_a_record_cut_short_in_the_growing_segment_waits_for_its_end(tmp_path):
    spool_messages(tmp_path, [message(1)])
    path = syslog_spool.segment_path(tmp_path, 1)
    whole = encode(RECEIVED_US, b"tcp:x", MESSAGE, 5, b"hello")
    with open(path, "ab") as handle:
        handle.write(whole[:10])  # the writer is half-way through a record
    assert [r.data for r in read_all(tmp_path)] == [message(1).encode()]
    with open(path, "ab") as handle:
        handle.write(whole[10:])
    assert [r.data for r in read_all(tmp_path)] == [message(1).encode(), b"hello"]


def test_a_torn_record_in_a_sealed_segment_is_reported_and_the_next_segment_read(tmp_path):
    spool_messages(tmp_path, [message(1), message(2)])
    path = syslog_spool.segment_path(tmp_path, 1)
    with open(path, "ab") as handle:  # a writer killed mid-record...
        handle.write(encode(RECEIVED_US, b"tcp:x", MESSAGE, 5, b"hello")[:15])
    spool_messages(tmp_path, [message(3)])  # ...and restarted in segment 2
    position = Position.from_dict(None, syslog_spool.spool_id(tmp_path))
    batch = read_batch(tmp_path, position, max_records=100, max_bytes=1 << 20)
    assert [r.data for r in batch.records] == [message(1).encode(), message(2).encode()]
    assert batch.end.segment == 2
    [(reason, _, where)] = batch.damage
    assert "cut short" in reason and "15 bytes skipped" in reason and where.startswith("spool 1@")
    rest = read_batch(tmp_path, batch.end, max_records=100, max_bytes=1 << 20)
    assert [r.data for r in rest.records] == [message(3).encode()]


def test_a_flipped_bit_is_caught_by_the_checksum(tmp_path):
    spool_messages(tmp_path, [message(1), message(2)])
    path = syslog_spool.segment_path(tmp_path, 1)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # inside the second record's message
    path.write_bytes(bytes(data))
    spool_messages(tmp_path, [])  # seal it
    position = Position.from_dict(None, syslog_spool.spool_id(tmp_path))
    batch = read_batch(tmp_path, position, max_records=100, max_bytes=1 << 20)
    assert [r.data for r in batch.records] == [message(1).encode()]
    assert "checksum mismatch" in batch.damage[0][0]


def test_backlog_counts_what_the_drain_has_not_noted(tmp_path):
    spool_messages(tmp_path, [message(i) for i in range(10)])
    full = syslog_spool.backlog_bytes(tmp_path)
    assert full == syslog_spool.segment_path(tmp_path, 1).stat().st_size - len(MAGIC)
    batch = read_batch(
        tmp_path, Position.from_dict(None, syslog_spool.spool_id(tmp_path)), max_records=4, max_bytes=1 << 20
    )
    syslog_spool.note_drained(tmp_path, batch.end)
    assert syslog_spool.backlog_bytes(tmp_path) == full - (batch.end.offset - len(MAGIC))


# --- the drain ----------------------------------------------------------------------------


def drain(spool: Path, home: Path, **options):
    store = EmbeddedStore(home)
    checkpoints = Checkpoints(store.state)
    run = SyslogCollector(spool, **options).collect_once(store, checkpoints)
    return store, checkpoints, run


def stored_ids(store: EmbeddedStore) -> list[str]:
    table = store.search(
        ["fortinet.firewall", "panw.panos", "cef"],
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        "true",
        ["event.id"],
    )
    return table.column("event.id").to_pylist()


def test_drain_stores_every_message_commits_and_deletes_finished_segments(tmp_path):
    spool = tmp_path / "spool"
    texts = [message(i) for i in range(3000)]
    spool_messages(spool, texts, segment_bytes=100_000)
    assert len(syslog_spool.segments(spool)) > 3
    store, checkpoints, run = drain(spool, tmp_path / "home", batch_records=700, batch_bytes=60_000)
    assert run.error is None and run.stored == 3000 and run.quarantined == 0
    assert store.datasets() == {"fortinet.firewall": 1000, "panw.panos": 1000, "cef": 1000}
    assert len(set(stored_ids(store))) == 3000
    assert run.newest_event is not None
    # Everything before the newest segment is gone; the checkpoint points past the last record.
    remaining = syslog_spool.segments(spool)
    assert len(remaining) == 1
    position = checkpoints.get("syslog")
    assert position["segment"] == remaining[0]
    assert position["offset"] == syslog_spool.segment_path(spool, remaining[0]).stat().st_size
    assert checkpoints.runs("syslog")[-1] == run
    # Nothing new: a second pass stores nothing and moves nothing.
    _, _, again = drain(spool, tmp_path / "home")
    assert (again.stored, again.duplicates, again.error) == (0, 0, None)
    assert checkpoints.get("syslog") == position


def test_rejects_are_quarantined_with_reason_peer_and_spool_place(tmp_path):
    spool = tmp_path / "spool"
    spool_messages(
        spool, [message(0), "<13>Mar  1 09:30:00 fw just some words", message(1)], peer=b"udp:192.0.2.55:514"
    )
    store, _, run = drain(spool, tmp_path / "home")
    assert (run.stored, run.quarantined) == (2, 1)
    [row] = store.state.quarantined()
    assert row["source"] == "syslog"
    assert row["reason"].startswith("unknown body format")
    assert row["origin"] == "udp:192.0.2.55:514 spool 1#1"
    assert row["record"] == "<13>Mar  1 09:30:00 fw just some words"


def test_oversized_and_truncated_frames_reach_the_quarantine(tmp_path):
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool)
    writer.open()
    writer.write(
        [
            encode(RECEIVED_US, b"tcp:a:1", OVERSIZED, 100_000, b"<134>Mar  1 head"),
            encode(RECEIVED_US, b"tcp:a:1", TRUNCATED, 300, b"<134>Mar  1 half"),
            encode(RECEIVED_US, b"tcp:a:1", TRUNCATED, 0, b"<134>Mar  1 line"),
        ]
    )
    writer.close()
    store, _, run = drain(spool, tmp_path / "home")
    assert run.quarantined == 3
    reasons = sorted(row["reason"] for row in store.state.quarantined())
    assert reasons[0].startswith("connection closed mid-message")
    assert "100000 bytes" in reasons[1]
    assert "300 octets announced, 16 received" in reasons[2]


def test_a_message_with_no_clock_takes_the_second_it_arrived():
    # A FortiGate event with no date/time behind a PRI-only header: nothing in it tells time.
    text = '<189>devname="FGT-CORE" logid="0100032001" type="event" subtype="system" user="admin"'
    arrived = RECEIVED_US + 123_456  # 09:30:00.123456
    spooled = syslog_spool.encode(arrived, b"udp:h:1", MESSAGE, len(text), text.encode())
    records, _, _ = Records.read(spooled, 1, 0, 10)
    parsed = parse_records(records, datetime.now(UTC))
    [table] = parsed.tables
    assert table["@timestamp"][0].as_py() == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert parsed.quarantined == []


def test_a_crash_between_store_and_commit_stores_nothing_twice(tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    texts = [message(i) for i in range(500)] + ["<13>not a body we know"]
    spool_messages(spool, texts)

    def crash(self, source, value):
        raise OSError("disk went away")  # after store.append, before the checkpoint moves

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoints, "commit", crash)
        store, checkpoints, run = drain(spool, tmp_path / "home")
    assert "disk went away" in run.error
    assert checkpoints.get("syslog") is None
    assert store.count() == 500
    _, _, again = drain(spool, tmp_path / "home")
    assert again.error is None
    assert (again.stored, again.duplicates, again.quarantined) == (0, 500, 0)
    assert store.count() == 500 and store.state.quarantine_count() == 1


def test_a_store_failing_mid_drain_keeps_the_checkpoint_after_the_last_batch_stored(tmp_path):
    """The next batch is read and parsed while one is stored: a failure leaves the checkpoint
    after the batches stored, never after one only read ahead, and the next run stores the rest."""
    spool = tmp_path / "spool"
    spool_messages(spool, [message(i) for i in range(1000)])
    store = EmbeddedStore(tmp_path / "home")
    checkpoints = Checkpoints(store.state)
    appended: list[int] = []

    class FailsOnTheThird:
        state = store.state

        def append(self, table):
            if len(appended) == 2:
                raise RuntimeError("disk full")
            appended.append(table.num_rows)
            return store.append(table)

    run = SyslogCollector(spool, batch_records=300).collect_once(FailsOnTheThird(), checkpoints)
    assert "disk full" in run.error and appended == [300, 300]
    assert checkpoints.get("syslog")["index"] == 600
    again = SyslogCollector(spool, batch_records=300).collect_once(store, checkpoints)
    assert (again.error, again.stored, again.duplicates) == (None, 400, 0)
    assert len(set(stored_ids(store))) == 1000


def test_a_failing_store_is_a_run_with_an_error_not_an_exception(tmp_path):
    spool = tmp_path / "spool"
    spool_messages(spool, [message(1)])
    store = EmbeddedStore(tmp_path / "home")
    checkpoints = Checkpoints(store.state)

    class Broken:
        state = store.state

        def append(self, table):
            raise RuntimeError("segment directory is read-only")

    run = SyslogCollector(spool).collect_once(Broken(), checkpoints)
    assert "read-only" in run.error and run.stored == 0
    assert checkpoints.get("syslog") is None
    assert checkpoints.runs("syslog") == [run]


def test_a_spool_made_afresh_is_read_from_its_start(tmp_path):
    spool = tmp_path / "spool"
    spool_messages(spool, [message(i) for i in range(5)])
    store, checkpoints, _ = drain(spool, tmp_path / "home")
    for entry in spool.iterdir():  # an operator removes the spool directory's contents
        entry.unlink()
    spool_messages(spool, [message(i) for i in range(5, 8)])  # numbers start at 1 again
    _, _, run = drain(spool, tmp_path / "home")
    assert run.stored == 3 and store.count() == 8


def test_vendor_samples_pass_through_the_spool(tmp_path, shared_data):
    # SEKOIA-IO/intake-formats, Fortinet/fortigate/tests: FortiGate messages as sent.
    folder = shared_data / "sekoia-intake-formats" / "Fortinet" / "fortigate" / "tests"
    texts = []
    for path in sorted(folder.glob("*.json")):
        text = json.loads(path.read_text())["input"]["message"]
        if "logid=" in text and not text.startswith("CEF"):
            texts.append("<189>" + text)
    assert len(texts) > 30
    spool = tmp_path / "spool"
    spool_messages(spool, texts)
    store, _, run = drain(spool, tmp_path / "home")
    assert run.error is None
    assert run.stored + run.quarantined + run.duplicates == len(texts)
    assert sum(store.datasets().values()) == run.stored > 0
    assert store.datasets()["fortinet.firewall"] > 30  # a few are CEF without the "CEF:" prefix


def test_settings_name_the_spool():
    collector = SyslogCollector.from_settings(
        {"spool_dir": "/var/spool/cyberwell", "interval_seconds": 5, "tcp_port": 6000}
    )
    assert collector.name == "syslog"
    assert collector.spool_dir == Path("/var/spool/cyberwell")
    assert collector.interval.total_seconds() == 5
    assert SyslogCollector.from_settings({"spool_dir": "/s", "interval": "2m"}).interval.total_seconds() == 120
    with pytest.raises(ValueError, match="spool_dir"):
        SyslogCollector.from_settings({})
    with pytest.raises(ValueError, match="interval"):
        SyslogCollector.from_settings({"spool_dir": "/s", "interval": 0})


# --- kill -9 during the drain --------------------------------------------------------------

DRAIN_SCRIPT = """
import sys
from pathlib import Path
from collectors.live.syslog_collector import SyslogCollector
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
store = EmbeddedStore(Path(sys.argv[2]))
print("ready", flush=True)
run = SyslogCollector(Path(sys.argv[1]), batch_records=int(sys.argv[3])).collect_once(
    store, Checkpoints(store.state))
print(run.error or "done", flush=True)
"""


def _progress(home: Path) -> int:
    """Records drained so far, read from the checkpoint as another process sees it."""
    try:
        with sqlite3.connect(home / "state.sqlite", timeout=5) as con:
            row = con.execute("SELECT value FROM checkpoints WHERE source = 'syslog'").fetchone()
    except sqlite3.OperationalError:
        return 0  # the tables are not there yet
    if row is None:
        return 0
    value = json.loads(row[0])
    return value["segment"] * 10**9 + value["index"]


def test_kill_9_at_random_points_of_the_drain_loses_and_doubles_nothing(tmp_path):
    spool, home = tmp_path / "spool", tmp_path / "home"
    good = [message(i) for i in range(12_000)]
    bad = [f"<13>Mar  1 09:30:00 fw nonsense number {i}" for i in range(40)]
    texts = good + bad
    random.Random(7).shuffle(texts)
    spool_messages(spool, texts, segment_bytes=400_000)
    rng = random.Random(20261127)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    interrupted = 0
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", DRAIN_SCRIPT, str(spool), str(home), "400"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        before = _progress(home)
        deadline = time.monotonic() + 30
        while _progress(home) == before and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until this drain has committed a batch...
        time.sleep(rng.uniform(0, 0.08))  # ...then kill it somewhere in the next one
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            interrupted += 1
        child.wait()
        child.stdout.close()
    finished = subprocess.run(
        [sys.executable, "-c", DRAIN_SCRIPT, str(spool), str(home), "400"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.stdout.split() == ["ready", "done"], finished.stderr
    assert interrupted >= 3  # the drains really were cut off mid-way
    store = EmbeddedStore(home)
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == len(good)
    assert store.state.quarantine_count() == len(bad)
    origins = [row["origin"] for row in store.state.quarantined(limit=1000)]
    assert len(set(origins)) == len(bad)
    assert len(syslog_spool.segments(spool)) == 1


def test_a_file_that_is_not_a_segment_is_skipped_as_damage(tmp_path):
    spool_messages(tmp_path, [message(1)])
    syslog_spool.segment_path(tmp_path, 1).write_bytes(b"GARBAGE!" + b"x" * 100)
    spool_messages(tmp_path, [message(2)])
    assert [r.data for r in read_all(tmp_path)] == [message(2).encode()]
    batch = read_batch(
        tmp_path, Position.from_dict(None, syslog_spool.spool_id(tmp_path)), max_records=10, max_bytes=1 << 20
    )
    assert "bad magic" in batch.damage[0][0] and "100 bytes skipped" in batch.damage[0][0]
