"""What the store leaves on disk stays small, private and tidy (issue 10, points 6, 9 and 10).

* A quarantined record is kept as a 4 KiB excerpt with its full size and SHA-256, and a record
  quarantined again (a file ingested twice, under another name too) is one row with a count.
* The home, its events and its state are the user's alone: directories 0700, files 0600.
* A kill -9 in the middle of an append leaves files nobody reads; the next open removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from collectors.replay import ingest
from console.cli import app
from queries.quarantine import list_quarantine
from store.batch import Quarantined
from store.elastic.store import ElasticStore
from store.embedded import EmbeddedStore
from store.state.database import MIGRATIONS, StateDB
from tests.console.test_cli import signin
from tests.support.events_factory import event_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def umask_022():
    """The common default, under which files used to be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- quarantine: bounded and once -------------------------------------------------------------------


def test_a_huge_quarantined_record_is_kept_as_an_excerpt_with_its_size_and_hash(tmp_path):
    huge = "é" + "x" * 20_000_000 + "\x1b[2J"  # 20 MB: a multi-byte start, a terminal escape at the end
    store = EmbeddedStore(tmp_path / "home")
    store.state.quarantine([Quarantined("syslog", "message too long", huge, "udp 10.0.0.9:514")])

    [record] = list_quarantine(store).records
    assert len(record.record.encode()) <= 4096 and huge.startswith(record.record) and record.cut
    assert record.record_bytes == len(huge.encode())
    assert record.record_sha256 == hashlib.sha256(huge.encode()).hexdigest()
    printed = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "quarantine", "list", "--json"])
    assert printed.exit_code == 0 and len(printed.output) < 10_000, len(printed.output)
    assert json.loads(printed.output)["records"][0]["record_bytes"] == len(huge.encode())
    assert (tmp_path / "home" / "state.sqlite").stat().st_size < 1_000_000


def test_a_record_quarantined_again_is_one_row_counting_its_sightings(tmp_path):
    lines = [orjson.dumps(signin(1)), b"{first bad", orjson.dumps(signin(2)), b"[bad]"]
    export = tmp_path / "signins.ndjson"
    export.write_bytes(b"\n".join(lines) + b"\n")
    copy = tmp_path / "copy-of-signins.ndjson"  # another origin, the same records
    copy.write_bytes(export.read_bytes())
    store = EmbeddedStore(tmp_path / "home")

    first = ingest(store, [export], "entra-signins")
    again = ingest(store, [export, copy], "entra-signins")

    assert (first.quarantined, again.quarantined) == (2, 4)  # every run says what it met
    listing = list_quarantine(store)
    assert listing.total == 2
    assert {(r.record, r.sightings) for r in listing.records} == {("{first bad", 3), ("[bad]", 3)}
    assert all(str(export) in r.origin and r.last_seen >= r.received_at for r in listing.records)
    # The same text for another reason, or from another source, is another finding.
    store.state.quarantine(
        [Quarantined("entra-signins", "too long", "[bad]", "x"), Quarantined("cef", "", "[bad]", "")]
    )
    assert store.state.quarantine_count() == 4


def test_quarantine_rows_kept_before_are_cut_and_folded_when_the_file_is_opened(tmp_path):
    path = tmp_path / "state.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:5], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {number}")
    big = "y" * 100_000
    rows = [
        ("syslog", "too long", big, "udp a", "2026-01-01T00:00:00+00:00"),
        ("syslog", "too long", big, "udp b", "2026-01-02T00:00:00+00:00"),
        ("syslog", "no time", "short", "udp c", "2026-01-03T00:00:00+00:00"),
    ]
    con.executemany("INSERT INTO quarantine (source, reason, record, origin, received_at) VALUES (?,?,?,?,?)", rows)
    con.close()

    state = StateDB(path)
    kept = {row["reason"]: dict(row) for row in state.quarantined()}
    assert state.quarantine_count() == 2
    assert kept["too long"]["record"] == "y" * 4096 and kept["too long"]["record_bytes"] == 100_000
    assert kept["too long"]["record_sha256"] == hashlib.sha256(big.encode()).hexdigest()
    assert (kept["too long"]["sightings"], kept["too long"]["origin"]) == (2, "udp a")
    assert kept["too long"]["last_seen"] == "2026-01-02T00:00:00+00:00"
    assert (kept["no time"]["record"], kept["no time"]["sightings"]) == ("short", 1)
    state.quarantine([Quarantined("syslog", "too long", big, "udp d")])  # and the next repeat folds too
    assert state.quarantine_count() == 2


# -- private files ------------------------------------------------------------------------------------


def test_the_embedded_store_makes_its_home_events_and_state_private(tmp_path, umask_022):
    home = tmp_path / "new" / "home"
    store = EmbeddedStore(home)
    moment = datetime(2026, 3, 1, 9, tzinfo=UTC)
    store.append(event_table([{"@timestamp": moment, "event.id": "a"}]))
    store.state.quarantine([Quarantined("syslog", "bad", "secret line", "udp")])

    with store.state.connect() as reader:  # while a connection is open SQLite keeps its -wal and -shm
        reader.execute("SELECT count(*) FROM quarantine").fetchone()
        directories = [home, home / "events", *(p for p in (home / "events").rglob("*") if p.is_dir())]
        files = {p: _mode(p) for p in home.rglob("*") if p.is_file()}
    assert len(directories) >= 4 and any(p.suffix == ".parquet" for p in files)
    assert {p.name for p in files} >= {"state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "events.lock"}
    assert {str(p): oct(_mode(p)) for p in directories if _mode(p) != 0o700} == {}
    assert {str(p): oct(mode) for p, mode in files.items() if mode != 0o600} == {}


def test_the_elasticsearch_store_makes_its_home_and_state_private(tmp_path, umask_022, elastic_url):
    home = tmp_path / "es-home"
    client = Elasticsearch(elastic_url)
    try:
        store = ElasticStore(client, home, prefix="cwt-private-never-written-")
        store.state.quarantine([Quarantined("syslog", "bad", "secret line", "udp")])
    finally:
        client.close()
    assert _mode(home) == 0o700
    assert {p.name: oct(_mode(p)) for p in home.iterdir() if _mode(p) != 0o600} == {}


# -- leftovers of an interrupted append ---------------------------------------------------------------


def _leave_behind(store: EmbeddedStore, age: timedelta) -> list[Path]:
    """What a kill -9 leaves, made the way an append makes it: a segment written and renamed
    whose catalogue row never came, and a temporary file never renamed."""
    moment = datetime(2026, 3, 1, 9, tzinfo=UTC)
    part = event_table([{"@timestamp": moment, "event.id": f"lost-{age.total_seconds()}"}])
    _, _, relative, *_ = store._write_segment(part, "test.events", "2026-03-01")
    renamed = store.home / relative
    temporary = renamed.with_name(f".{os.urandom(16).hex()}.parquet.tmp")
    temporary.write_bytes(renamed.read_bytes()[:100])
    then = time.time() - age.total_seconds()
    for path in (renamed, temporary):
        os.utime(path, (then, then))
    return [renamed, temporary]


def test_the_next_open_removes_what_an_interrupted_append_left_and_nothing_else(tmp_path):
    home = tmp_path / "home"
    store = EmbeddedStore(home)
    moment = datetime(2026, 3, 1, 9, tzinfo=UTC)
    store.append(event_table([{"@timestamp": moment, "event.id": "kept", "event.dataset": "test.events"}]))
    leftovers = _leave_behind(store, timedelta(minutes=5))
    day = leftovers[0].parent
    foreign = day / "notes.txt"  # not a name the store gives: not the store's to remove
    foreign.write_text("mine")
    store.close()

    reopened = EmbeddedStore(home)

    assert reopened.leftovers_removed == 2
    assert not any(path.exists() for path in leftovers) and foreign.exists()
    assert reopened.count() == 1
    with reopened.state.connect() as con:
        listed = {home / row["path"] for row in con.execute("SELECT path FROM segments")}
    assert {p for p in day.iterdir() if p.suffix == ".parquet"} == listed
    assert EmbeddedStore(home).leftovers_removed == 0


def test_an_open_while_another_process_appends_removes_nothing_and_does_not_wait(tmp_path):
    import fcntl

    home = tmp_path / "home"
    store = EmbeddedStore(home)
    leftovers = _leave_behind(store, timedelta(minutes=5))
    with open(home / "events.lock", "a+") as lock:  # an append in progress holds this
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        assert EmbeddedStore(home).leftovers_removed == 0
        assert time.monotonic() - started < 10
    assert all(path.exists() for path in leftovers)
    assert EmbeddedStore(home).leftovers_removed == 2


APPENDER = r"""
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from store.embedded import EmbeddedStore
from tests.support.events_factory import event_table

store = EmbeddedStore(Path(sys.argv[1]))
start = datetime(2026, 3, 1, tzinfo=UTC)
print("ready", flush=True)
for batch in range(100_000):
    rows = [{"@timestamp": start + timedelta(days=(batch * 7 + i) % 40, seconds=i), "event.id": f"{batch}-{i}",
             "event.dataset": "test.events"} for i in range(300)]
    store.append(event_table(rows))
"""


def test_after_kill_9_mid_append_the_next_open_leaves_only_catalogued_segments(tmp_path):
    home = tmp_path / "home"
    for kill in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(home)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.7 + 0.37 * kill)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    time.sleep(0.05)  # the open must be later than the leftovers' last write

    store = EmbeddedStore(home)

    with store.state.connect() as con:
        listed = {row[0] for row in con.execute("SELECT path FROM segments")}
    on_disk = {str(p.relative_to(home)) for p in (home / "events").rglob("*") if p.is_file()}
    assert on_disk == listed, (sorted(on_disk - listed), store.leftovers_removed)
    assert store.count() == len(
        set(
            store.search(["test.events"], datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))[
                "event.id"
            ].to_pylist()
        )
    )
