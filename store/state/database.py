"""The state database: SQLite in WAL mode, shared by every Cyberwell process on one home.

It holds what is not an event: the segment catalogue, quarantined records, alerts and their
history, rule runs, correlation windows, collector checkpoints and runs, detection schedules,
the audit trail, the SOC webhook's outbox and playbook runs.
WAL lets the ``serve`` daemon write while the dashboard and the CLI read. Schema changes are
numbered migrations applied in order; ``PRAGMA user_version`` records how far a file has come.
"""

from __future__ import annotations

import codecs
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from store.batch import Quarantined
from store.durable import private_dir, private_file

MIGRATIONS: list[str] = [
    # 1: the segment catalogue, quarantine, alerts and rule runs
    """
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        day TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        min_ts INTEGER NOT NULL,          -- @timestamp range, microseconds since the epoch
        max_ts INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        columns TEXT NOT NULL,            -- JSON object: column -> DuckDB type
        created_at TEXT NOT NULL
    );
    CREATE INDEX segments_by_time ON segments (dataset, max_ts, min_ts);
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        record TEXT NOT NULL,
        origin TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,              -- deterministic: rule, group keys, window
        rule_id TEXT NOT NULL,
        rule_title TEXT NOT NULL,
        severity TEXT NOT NULL,
        tags TEXT NOT NULL,               -- JSON list
        group_keys TEXT NOT NULL,         -- JSON object
        first_seen TEXT NOT NULL,         -- event time of the first matched event (ISO, UTC)
        last_seen TEXT NOT NULL,
        event_ids TEXT NOT NULL,          -- JSON list of matched event ids
        event_count INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX alerts_by_time ON alerts (first_seen);
    CREATE TABLE rule_runs (
        id INTEGER PRIMARY KEY,
        rule_id TEXT NOT NULL,
        rule_title TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,             -- running, succeeded, failed
        matched INTEGER NOT NULL DEFAULT 0,
        alerts INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX rule_runs_by_rule ON rule_runs (rule_id, started_at);
    """,
    # 2 (detections): the windows each correlation found, from which its next scan resumes so
    # overlapping runs and restarts choose the same windows; and alerts by rule, for listing.
    """
    CREATE TABLE correlation_windows (
        rule_id TEXT NOT NULL,
        group_keys TEXT NOT NULL,         -- JSON object, keys sorted
        window_start TEXT NOT NULL,       -- event time of the window's first event (ISO, UTC)
        window_end TEXT NOT NULL,         -- event time of its last event
        PRIMARY KEY (rule_id, group_keys, window_start)
    );
    CREATE INDEX correlation_windows_by_end ON correlation_windows (rule_id, window_end);
    CREATE INDEX alerts_by_rule ON alerts (rule_id, last_seen);
    """,
    # 3 (live collectors): each source's checkpoint, written only after the batch it covers is
    # stored; and each collection run, from which `cyberwell status` reports health and lag.
    """
    CREATE TABLE checkpoints (
        source TEXT PRIMARY KEY,
        value TEXT NOT NULL,              -- JSON object, the collector's own position
        updated_at TEXT NOT NULL
    );
    CREATE TABLE collector_runs (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        stored INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        quarantined INTEGER NOT NULL,
        newest_event TEXT,                -- event time of the newest event seen (ISO, UTC)
        error TEXT                        -- null when the run succeeded
    );
    CREATE INDEX collector_runs_by_source ON collector_runs (source, finished_at);
    """,
    # 4 (live collectors): a collector re-reads a little after a crash or on its overlap, and a
    # record it quarantined before must not be quarantined twice; origins are looked up by source.
    """
    CREATE INDEX quarantine_by_origin ON quarantine (source, origin);
    """,
    # 5 (store): every change to an alert takes the next number of one sequence, so a reader can
    # ask for what changed since it last looked (``AlertStore.newer_than``); alerts stored before
    # are numbered in the order they last changed. Status changes are kept as a history. The
    # index is not UNIQUE: a daemon still running the previous version inserts alerts with the
    # default 0, which must not fail its run (they are numbered at their next change).
    """
    ALTER TABLE alerts ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
    CREATE TEMP TABLE alert_order AS
        SELECT id, row_number() OVER (ORDER BY updated_at, id) AS number FROM alerts;
    CREATE UNIQUE INDEX temp.alert_order_by_id ON alert_order (id);
    UPDATE alerts SET sequence = (SELECT number FROM alert_order WHERE alert_order.id = alerts.id);
    DROP TABLE temp.alert_order;
    CREATE INDEX alerts_by_sequence ON alerts (sequence);
    CREATE TABLE alert_changes (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL REFERENCES alerts (id),
        at TEXT NOT NULL,                 -- when the change was made (ISO, UTC)
        actor TEXT NOT NULL,
        previous TEXT NOT NULL,           -- the status before the change
        status TEXT NOT NULL,             -- the status after it
        reason TEXT,                      -- why it was closed: true_positive, false_positive, benign
        note TEXT
    );
    CREATE INDEX alert_changes_by_alert ON alert_changes (alert_id, id);
    """,
    # 6 (store): a quarantined record is kept as a bounded excerpt beside its full size and
    # SHA-256, and a repeat (same source, record and reason, wherever it came from) is one row
    # counting its sightings. Rows kept before are cut and folded the same way.
    """
    ALTER TABLE quarantine ADD COLUMN record_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE quarantine ADD COLUMN record_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE quarantine ADD COLUMN sightings INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE quarantine ADD COLUMN last_seen TEXT NOT NULL DEFAULT '';
    UPDATE quarantine SET record_bytes = cyberwell_utf8_length(record), record_sha256 = cyberwell_sha256(record),
        record = cyberwell_excerpt(record), last_seen = received_at;
    CREATE TEMP TABLE quarantine_repeats AS
        SELECT min(id) AS id, count(*) AS sightings, max(received_at) AS last_seen
        FROM quarantine GROUP BY source, record_sha256, reason;
    UPDATE quarantine SET sightings = (SELECT sightings FROM quarantine_repeats r WHERE r.id = quarantine.id),
        last_seen = (SELECT last_seen FROM quarantine_repeats r WHERE r.id = quarantine.id)
        WHERE id IN (SELECT id FROM quarantine_repeats);
    DELETE FROM quarantine WHERE id NOT IN (SELECT id FROM quarantine_repeats);
    DROP TABLE temp.quarantine_repeats;
    CREATE UNIQUE INDEX quarantine_once ON quarantine (source, record_sha256, reason);
    """,
    # 7 (detections): what a run did not turn into alerts is counted on the run, never dropped
    # silently: new alerts over the rule's cap (held back) and matches exceptions took out.
    """
    ALTER TABLE rule_runs ADD COLUMN held_back INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rule_runs ADD COLUMN excepted INTEGER NOT NULL DEFAULT 0;
    """,
    # 8 (detections): scheduled detection (store/state/schedule.py). How far each schedule group
    # has run, the windows that were skipped and wait for a backfill, and each detection run.
    """
    CREATE TABLE detection_watermarks (
        group_key TEXT PRIMARY KEY,       -- the governing rule's id (detections/scheduling/schedule.py)
        watermark TEXT NOT NULL,          -- event time up to which the group has run (ISO, UTC)
        updated_at TEXT NOT NULL
    );
    CREATE TABLE detection_gaps (
        id INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL,
        gap_start TEXT NOT NULL,          -- event time (ISO, UTC), inclusive
        gap_end TEXT NOT NULL,            -- exclusive
        reason TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    CREATE INDEX detection_gaps_by_time ON detection_gaps (gap_start, gap_end);
    CREATE TABLE detection_runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,               -- scheduled, backfill or manual
        groups TEXT NOT NULL,             -- JSON list of schedule group keys (empty: every rule)
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,             -- running, succeeded, partly failed, failed, abandoned
        seconds REAL,
        events_scanned INTEGER,
        rules INTEGER NOT NULL DEFAULT 0,
        alerts_new INTEGER NOT NULL DEFAULT 0,
        alerts_updated INTEGER NOT NULL DEFAULT 0,
        alerts_held_back INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]' -- JSON list of what went wrong, each naming its rule
    );
    CREATE INDEX detection_runs_by_status ON detection_runs (status, kind);
    """,
    # 9 (audit): the append-only, hash-chained audit trail (store/state/audit.py). Each entry's
    # hash covers its number, its fields and the hash before it, so an edit, an insertion, a
    # reordering or a deletion breaks the chain where it happened; the head row remembers the last
    # number and hash, so a deletion at the end is found too.
    """
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,          -- 1, 2, 3 ... with no gaps
        at TEXT NOT NULL,                 -- ISO, UTC
        actor TEXT NOT NULL,              -- a person, or the Cyberwell process that acted
        kind TEXT NOT NULL,               -- approval, denial, action, delivery, triage, playbook
        subject TEXT NOT NULL,            -- what it was about: an alert id, a playbook run, a message
        what TEXT NOT NULL,               -- what was done
        result TEXT NOT NULL,
        detail TEXT NOT NULL,             -- JSON object, never a secret
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 10 (playbooks): the SOC webhook's outbox (store/state/outbox.py). A message is written in
    # the transaction that creates or changes its alert, so none is lost and none is sent for an
    # alert never stored. The messages of one alert go out in order: only the oldest pending one
    # of an alert may be claimed (the partial index finds it). A claim pushes ``next_attempt_at``
    # a lease ahead, so a deliverer killed mid-flight leaves the message due again after it.
    """
    CREATE TABLE webhook_outbox (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,           -- the alert it is about (a playbook notice about none: 'playbook:<key>')
        sequence INTEGER NOT NULL,        -- the alert's change number this message carries
        kind TEXT NOT NULL,               -- new, update or playbook
        idempotency_key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,            -- the JSON body, fixed when written so retries send the same
        created_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',   -- pending, delivered, parked
        attempts INTEGER NOT NULL DEFAULT 0,     -- claims so far (one whose deliverer died counts)
        next_attempt_at TEXT NOT NULL,    -- due from then (ISO, UTC), a claim moves it a lease ahead
        last_error TEXT,
        delivered_at TEXT,
        parked_at TEXT
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_attempt_at, id);
    CREATE INDEX webhook_outbox_queue ON webhook_outbox (alert_id, id) WHERE state = 'pending';
    """,
    # 11 (playbooks): playbook runs and their steps (store/state/playbook_runs.py), so a restart
    # resumes where a run stopped and never repeats a step that succeeded. A runner claims a run
    # (claimed_by: host:pid:token) until lease_until, renewed before every step; a run whose lease
    # ran out or whose runner's process is gone is taken over. Steps are written when a run is
    # first claimed, from the definition it started with (digest).
    """
    CREATE TABLE playbook_runs (
        id INTEGER PRIMARY KEY,
        playbook TEXT NOT NULL,           -- the playbook's id
        digest TEXT NOT NULL,             -- SHA-256 of the definition the run started with
        alert_id TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        trigger TEXT NOT NULL,            -- automatic or manual
        started_by TEXT NOT NULL,         -- the process that queued it, or the person who ran it
        state TEXT NOT NULL,              -- queued, running, awaiting_approval, succeeded, failed, timed_out, cancelled
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT,
        claimed_by TEXT,                  -- the runner working on it (host:pid:token), null when none
        lease_until TEXT                  -- ISO, UTC: after this another runner may take it over
    );
    CREATE UNIQUE INDEX playbook_runs_once ON playbook_runs (playbook, alert_id, dry_run) WHERE trigger = 'automatic';
    CREATE INDEX playbook_runs_by_state ON playbook_runs (state, id);
    CREATE INDEX playbook_runs_by_alert ON playbook_runs (alert_id);
    CREATE TABLE playbook_steps (
        run_id INTEGER NOT NULL REFERENCES playbook_runs (id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        action TEXT NOT NULL,
        approval TEXT NOT NULL,           -- required or none
        on_denied TEXT NOT NULL,          -- cancel (the run) or skip (this step)
        state TEXT NOT NULL,              -- pending, awaiting_approval, running, succeeded, dry-run, failed, timed_out, skipped, denied, cancelled
        arguments TEXT,                   -- JSON, as rendered from the alert
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        finished_at TEXT,
        decision TEXT,                    -- approved or denied
        decided_by TEXT,                  -- who approved or denied
        decided_at TEXT,
        result TEXT,                      -- one line: what was done, or would be in a dry run
        error TEXT,
        PRIMARY KEY (run_id, position)
    );
    """,
    # 12 (dashboard): triage beyond a status. Who an alert is assigned to (null: nobody), and on
    # each history entry the assignee it set, so "assigned to" is read back from the history as
    # it was, not from notes. The queue filters open alerts by severity and status at every
    # refresh, and the collectors' health asks each source's newest event and last failure:
    # indexes keep those lookups, not scans, at 10,000 alerts and a week of runs.
    """
    ALTER TABLE alerts ADD COLUMN assignee TEXT;
    ALTER TABLE alert_changes ADD COLUMN assignee TEXT;
    CREATE INDEX alerts_by_status ON alerts (status, severity, last_seen);
    CREATE INDEX alerts_by_last_seen ON alerts (last_seen);
    CREATE INDEX collector_runs_newest ON collector_runs (source, newest_event);
    CREATE INDEX collector_runs_failed ON collector_runs (source, id) WHERE error IS NOT NULL;
    """,
]

#: How much of a quarantined record is kept (UTF-8 bytes, cut at a character): enough to see
#: what was wrong; the full size and SHA-256 are kept beside it, so a 200 MB record costs 4 KiB.
EXCERPT_BYTES = 4096


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


#: How long opening waits for another process that is switching a new database to WAL mode.
WAL_SWITCH_SECONDS = 30.0


def _use_wal(con: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a setting the file keeps), waiting out another process.

    Switching the journal mode needs the database to itself, and SQLite can refuse that at once
    with "database is locked", without its busy timeout, when two processes open a new home at
    the same moment (``serve`` and a command started beside it). Once the file is in WAL mode,
    reading the mode takes no lock, so only the first opens ever wait here.
    """
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    while True:
        try:
            (mode,) = con.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class StateDB:
    """One SQLite file; each call opens a short-lived connection so processes never share one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        private_dir(self.path.parent)
        # SQLite gives its -wal and -shm files the mode of the database file: 0600 for all three.
        private_file(self.path)
        with self.connect() as con:
            self._migrate(con)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in WAL mode; commits on success, rolls back on error, always closes."""
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            _use_wal(con)
            con.execute("PRAGMA synchronous=FULL")  # a committed segment must survive power loss
            con.execute("PRAGMA foreign_keys=ON")
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: writers queue here instead of failing half-way with SQLITE_BUSY."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _migrate(self, con: sqlite3.Connection) -> None:
        # What migration 6 computes over the rows it keeps, the same way ``quarantine`` does.
        con.create_function("cyberwell_utf8_length", 1, lambda text: len(_utf8(text)), deterministic=True)
        con.create_function("cyberwell_sha256", 1, lambda text: _sha256(_utf8(text)), deterministic=True)
        con.create_function("cyberwell_excerpt", 1, lambda text: excerpt(_utf8(text)), deterministic=True)
        con.execute("BEGIN IMMEDIATE")
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {number}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # -- quarantine -------------------------------------------------------------------------

    def quarantine(self, records: Iterable[Quarantined]) -> int:
        """Keep the records for a person to see; return how many were given.

        Each is kept as a bounded excerpt with its full size and SHA-256 (``EXCERPT_BYTES``). A
        record already there from the same source with the same reason — a file ingested
        again, a batch re-read after a crash, wherever it came from — is not added again: its
        row counts one more sighting and when it was last seen. The first origin is kept.
        """
        now = utc_now_iso()
        rows = [_quarantine_row(q, now) for q in records]
        if rows:
            with self.transaction() as con:
                con.executemany(
                    "INSERT INTO quarantine (source, reason, record, origin, received_at, record_bytes,"
                    " record_sha256, sightings, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)"
                    " ON CONFLICT (source, record_sha256, reason) DO UPDATE SET"
                    " sightings = sightings + 1, last_seen = excluded.last_seen",
                    rows,
                )
        return len(rows)

    def quarantine_new(self, records: Iterable[Quarantined]) -> int:
        """Quarantine the records whose (source, origin) is not there yet; return how many.

        For collectors that may read a record again (an overlap, a re-drained batch after a
        crash): their origins name the record uniquely, so a second reading adds nothing.
        """
        records = list(records)
        known: set[tuple[str, str]] = set()
        with self.connect() as con:
            for start in range(0, len(records), 500):
                part = records[start : start + 500]
                marks = ",".join("(?, ?)" for _ in part)
                known.update(
                    (row[0], row[1])
                    for row in con.execute(
                        f"SELECT source, origin FROM quarantine WHERE (source, origin) IN (VALUES {marks})",
                        [value for q in part for value in (q.source, q.origin)],
                    )
                )
        return self.quarantine(q for q in records if (q.source, q.origin) not in known)

    def quarantined(self, limit: int = 100) -> list[sqlite3.Row]:
        with self.connect() as con:
            return con.execute("SELECT * FROM quarantine ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def quarantine_count(self) -> int:
        with self.connect() as con:
            return con.execute("SELECT count(*) FROM quarantine").fetchone()[0]


def _quarantine_row(record: Quarantined, now: str) -> tuple:
    data = _utf8(record.record)
    return (
        excerpt(_utf8(record.source)),
        excerpt(_utf8(record.reason)),
        excerpt(data),
        excerpt(_utf8(record.origin)),
        now,
        len(data),
        _sha256(data),
        now,
    )


def _utf8(text: str) -> bytes:
    """The text's bytes; a lone surrogate (a decoder's escape) is kept as its own bytes, never fatal."""
    return text.encode("utf-8", errors="surrogatepass")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def excerpt(data: bytes, limit: int = EXCERPT_BYTES) -> str:
    """The first ``limit`` bytes as text: a character cut by the limit is left out, bytes that are
    not UTF-8 (a lone surrogate) are shown as U+FFFD, which SQLite can always store."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data[:limit], final=len(data) <= limit)
