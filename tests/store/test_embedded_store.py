"""The embedded store: idempotent appends, time-window search, and readers beside a writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from store import EmbeddedStore
from tests.support.events_factory import event_table

T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def signin(i: int, minutes: int = 0, user: str = "alice@example.gov.uk") -> dict:
    return {
        "event.id": f"signin-{i}",
        "event.dataset": "azure.signinlogs",
        "@timestamp": T0 + timedelta(minutes=minutes),
        "user.name": user,
    }


def test_appending_the_same_records_twice_stores_them_once(tmp_path):
    store = EmbeddedStore(tmp_path)
    batch = event_table([signin(i, minutes=i) for i in range(10)])
    first = store.append(batch)
    second = store.append(batch)
    assert (first.stored, first.duplicates) == (10, 0)
    assert (second.stored, second.duplicates) == (0, 10)
    assert store.count() == 10


def test_duplicates_inside_one_batch_are_stored_once(tmp_path):
    store = EmbeddedStore(tmp_path)
    result = store.append(event_table([signin(1), signin(1), signin(2)]))
    assert (result.stored, result.duplicates) == (2, 1)


def test_one_sign_in_stamped_with_two_precisions_is_stored_once(tmp_path):
    """Graph writes createdDateTime to 100 ns, a Log Analytics export to the millisecond: the
    same sign-in arrives stamped a fraction of a millisecond apart, and is still a duplicate."""
    store = EmbeddedStore(tmp_path)
    from_graph = dict(signin(1), **{"@timestamp": T0 + timedelta(microseconds=221_500)})
    from_la = dict(signin(1), **{"@timestamp": T0 + timedelta(microseconds=221_000)})
    assert store.append(event_table([from_graph])).stored == 1
    again = store.append(event_table([signin(2, minutes=-5), from_la]))
    assert (again.stored, again.duplicates) == (1, 1)
    assert store.count() == 2


def test_a_batch_spanning_days_is_split_into_day_segments(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(1), signin(2, minutes=24 * 60), signin(3, minutes=48 * 60)]))
    days = sorted(p.parent.name for p in (tmp_path / "events" / "azure.signinlogs").rglob("*.parquet"))
    assert days == ["2026-11-16", "2026-11-17", "2026-11-18"]
    # a re-ingest of the middle day only is still recognised as a duplicate
    again = store.append(event_table([signin(2, minutes=24 * 60)]))
    assert again.duplicates == 1


def test_search_honours_the_window_and_condition(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(i, minutes=i * 10, user=f"u{i % 3}@x") for i in range(12)]))
    found = store.search(
        ["azure.signinlogs"],
        T0 + timedelta(minutes=20),
        T0 + timedelta(minutes=80),
        query="\"user.name\" = 'u0@x'",
        columns=["user.name"],
    )
    assert found.column("event.id").to_pylist() == ["signin-3", "signin-6"]
    assert set(found.column_names) >= {"@timestamp", "event.id", "event.dataset", "user.name"}


def test_a_column_no_segment_has_reads_as_null(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(1)]))
    found = store.search(
        ["azure.signinlogs"], T0, T0 + timedelta(hours=1), query='"not.a.field" IS NULL', columns=["not.a.field"]
    )
    assert found.num_rows == 1
    assert found.column("not.a.field").to_pylist() == [None]


def test_an_unlisted_leftover_file_is_never_read(tmp_path):
    """A crash between writing a segment and listing it leaves a file readers must ignore."""
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(1)]))
    segment = next((tmp_path / "events").rglob("*.parquet"))
    (segment.parent / "orphan.parquet").write_bytes(segment.read_bytes())
    (segment.parent / ".half-written.parquet.tmp").write_bytes(b"PAR1 truncated")
    found = store.search(["azure.signinlogs"], T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert found.num_rows == 1


def test_retention_removes_the_old_days_files_and_catalogue_rows_and_keeps_the_rest(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(day, minutes=day * 24 * 60) for day in range(4)]))  # 16th .. 19th
    before = store.search(["azure.signinlogs"], T0, T0 + timedelta(days=9))  # a reader's connection is open
    assert before.num_rows == 4

    deleted = store.delete_older_than(2, now=datetime(2026, 11, 20, 6, tzinfo=UTC))  # keeps the 18th on

    assert deleted == ["azure.signinlogs/2026-11-16", "azure.signinlogs/2026-11-17"]
    days = sorted(path.name for path in (tmp_path / "events" / "azure.signinlogs").iterdir())
    assert days == ["2026-11-18", "2026-11-19"]  # the old days' folders are gone with their files
    with store.state.connect() as con:
        assert [row[0] for row in con.execute("SELECT DISTINCT day FROM segments ORDER BY day")] == days
    assert store.count() == 2
    # An old event arriving again is stored again: its day was deleted, not remembered.
    assert store.append(event_table([signin(0)])).stored == 1


def test_close_drops_the_connections_and_the_store_still_answers_after(tmp_path):
    store = EmbeddedStore(tmp_path)
    store.append(event_table([signin(1)]))
    store.search(["azure.signinlogs"], T0, T0 + timedelta(hours=1))
    assert store._connections
    store.close()
    assert not store._connections
    assert store.search(["azure.signinlogs"], T0, T0 + timedelta(hours=1)).num_rows == 1
    store.close()


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=4),
)
def test_any_split_of_overlapping_batches_stores_each_id_once(tmp_path_factory, ids, cuts):
    store = EmbeddedStore(tmp_path_factory.mktemp("store"))
    bounds = sorted({0, len(ids), *(c for c in cuts if c < len(ids))})
    stored = duplicates = 0
    for low, high in zip(bounds, bounds[1:]):
        result = store.append(event_table([signin(i, minutes=i * 97) for i in ids[low:high]]))
        stored += result.stored
        duplicates += result.duplicates
    assert stored == len(set(ids)) == store.count()
    assert duplicates == len(ids) - len(set(ids))


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from store import EmbeddedStore
    from tests.support.events_factory import event_table
    store = EmbeddedStore(sys.argv[1])
    t0 = datetime(2026, 11, 16, tzinfo=timezone.utc)
    for batch in range(int(sys.argv[2])):
        rows = [{"event.id": f"b{batch}-{i}", "event.dataset": "azure.signinlogs",
                 "@timestamp": t0 + timedelta(seconds=batch * 1000 + i), "batch": f"b{batch}"}
                for i in range(int(sys.argv[3]))]
        store.append(event_table(rows))
    print("writer done")
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timezone
    from store import EmbeddedStore
    store = EmbeddedStore(sys.argv[1])
    size, batches = int(sys.argv[3]), int(sys.argv[2])
    low, high = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc)
    seen_max, reads = 0, 0
    deadline = time.time() + 120
    while time.time() < deadline:
        table = store.search(["azure.signinlogs"], low, high, columns=["batch"])
        counts = {}
        for value in table.column("batch").to_pylist():
            counts[value] = counts.get(value, 0) + 1
        partial = {k: v for k, v in counts.items() if v != size}
        if partial:
            print("PARTIAL", partial); sys.exit(1)
        reads += 1
        seen_max = max(seen_max, len(counts))
        if len(counts) == batches:
            break
    print(f"reader done reads={reads} batches={seen_max}")
    sys.exit(0 if seen_max == batches else 1)
    """
)


def test_a_reader_beside_a_writer_never_fails_nor_sees_a_partial_segment(tmp_path):
    batches, size = 40, 700
    env = {"PYTHONPATH": str(REPO)}
    import os

    env = {**os.environ, **env}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), str(batches), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path), str(batches), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    w_out, w_err = writer.communicate(timeout=180)
    r_out, r_err = reader.communicate(timeout=180)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_out + r_err
    assert "reader done" in r_out
    reads = int(r_out.split("reads=")[1].split()[0])
    assert reads > 1, "the reader should have read while the writer was still writing"
    assert EmbeddedStore(tmp_path).count() == batches * size
