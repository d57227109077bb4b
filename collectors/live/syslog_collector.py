"""The syslog drain: spooled messages into the store, as the live collector ``syslog``.

The receiver (``collectors.live.syslog_receiver``) only puts messages on disk; this collector reads
them from its checkpoint, parses them with ``collectors.formats.syslog``, stores the events, quarantines
what does not parse, and only then commits the checkpoint and deletes the segments it has
finished. A crash between storing and committing re-reads the last batch; the store keeps one
copy per ``event.id``, and quarantined records are looked up by origin before they are written,
so nothing is stored twice and nothing is lost.

Syslog's ``event.id`` is the SHA-256 of the line: an appliance sending the same line twice
gives one event (docs/events.md), here as in file replay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from collectors.formats import syslog
from collectors.live import syslog_spool
from collectors.live.spool_records import Record, Records
from collectors.live.syslog_spool import MESSAGE, OVERSIZED, REJECTED, Position
from store.batch import Quarantined, newest_storable
from store.protocol import Store
from store.state.checkpoints import Checkpoints, CollectorRun, RunTally

SOURCE = "syslog"
DEFAULT_BATCH_RECORDS = 50_000  # as collectors.formats.syslog.BATCH_LINES: one parse per batch
DEFAULT_BATCH_BYTES = 32 * 1024 * 1024
DEFAULT_INTERVAL = timedelta(seconds=10)
_SETTINGS = {"spool_dir", "interval", "interval_seconds", "batch_records", "batch_bytes"}
_UNITS = {"s": 1, "m": 60, "h": 3600}


class SyslogCollector:
    """Drains the receiver's spool into the store; ``serve`` calls ``collect_once`` on a timer."""

    name = SOURCE

    def __init__(
        self,
        spool_dir: Path,
        *,
        interval: timedelta = DEFAULT_INTERVAL,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
    ):
        self.spool_dir = Path(spool_dir)
        self.interval = interval
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes

    @classmethod
    def from_settings(cls, settings: Mapping) -> SyslogCollector:
        """From ``[collectors.syslog]``: ``spool_dir`` (the receiver's), ``interval`` (seconds,
        or "30s", "5m", "1h"; ``interval_seconds`` also), ``batch_records``, ``batch_bytes``;
        keys the receiver reads are ignored here."""
        if not settings.get("spool_dir"):
            raise ValueError("collectors.syslog needs spool_dir: where the receiver spools")
        known = {key: settings[key] for key in _SETTINGS if key in settings}
        return cls(
            Path(known["spool_dir"]),
            interval=_interval(known.get("interval", known.get("interval_seconds", 10))),
            batch_records=int(known.get("batch_records", DEFAULT_BATCH_RECORDS)),
            batch_bytes=int(known.get("batch_bytes", DEFAULT_BATCH_BYTES)),
        )

    def collect_once(self, store: Store, checkpoints: Checkpoints) -> CollectorRun:
        """Drain everything spooled so far; a failure is a run with ``error`` set."""
        started = _now()
        totals = RunTally()
        error = None
        try:
            self._drain(store, checkpoints, totals)
        except Exception as exc:  # reported in the run; the checkpoint stays where it was
            error = f"syslog drain failed: {type(exc).__name__}: {exc}"
        run = totals.finish(SOURCE, started, error, finished=_now())
        checkpoints.record_run(run)
        return run

    def _drain(self, store: Store, checkpoints: Checkpoints, totals: RunTally) -> None:
        if not self.spool_dir.is_dir():
            return  # the receiver has not spooled anything yet
        with syslog_spool.locked(self.spool_dir, "drain.lock", wait=True):
            spool = syslog_spool.spool_id(self.spool_dir)
            position = Position.from_dict(checkpoints.get(SOURCE), spool)
            syslog_spool.remove_before(self.spool_dir, position.segment)
            for batch, parsed in parsed_batches(self.spool_dir, position, self.batch_records, self.batch_bytes):
                self._store(store, batch, parsed, totals)
                checkpoints.commit(SOURCE, batch.end.to_dict())  # only now: the batch is stored
                syslog_spool.note_drained(self.spool_dir, batch.end)
                syslog_spool.remove_before(self.spool_dir, batch.end.segment)

    def _store(self, store: Store, batch: syslog_spool.Batch, parsed: SpoolParse, totals: RunTally) -> None:
        rejects = parsed.quarantined + [
            Quarantined(SOURCE, reason, head.decode("utf-8", errors="replace"), where)
            for reason, head, where in batch.damage
        ]
        for table in parsed.tables:
            totals.count(store.append(table))
            totals.saw(newest_storable(table["@timestamp"]))
        totals.quarantined += store.state.quarantine_new(rejects)


def parsed_batches(
    spool_dir: Path, position: Position, batch_records: int, batch_bytes: int
) -> Iterator[tuple[syslog_spool.Batch, SpoolParse]]:
    """The spool's batches from ``position`` on, each parsed, to the growing end: a receiver
    faster than the drain must not keep it there. The next batch is read and parsing while the
    caller stores this one, so two batches parse side by side (``syslog.THREADS``)."""
    ahead: tuple[syslog_spool.Batch, _Parsing] | None = None
    while True:
        batch = syslog_spool.read_batch(spool_dir, position, max_records=batch_records, max_bytes=batch_bytes)
        if batch.end == position:
            break  # nothing new
        started = (batch, _Parsing(batch.records, _now()))
        if ahead is not None:
            yield ahead[0], ahead[1].result()
        ahead, position = started, batch.end
        if batch.caught_up:
            break
    if ahead is not None:
        yield ahead[0], ahead[1].result()


@dataclass
class SpoolParse:
    """Spooled records parsed: the event tables to append (one per batch), and rejects naming
    their spool place."""

    tables: list[pa.Table]
    quarantined: list[Quarantined]


def parse_records(records: Records, now: datetime) -> SpoolParse:
    """Parse spooled records with ``collectors.formats.syslog``; a reject's origin is peer and place.

    One parse for the batch, over the bytes as read from the spool, with each message's arrival
    (to the whole second) as its time when it carries no clock of its own.
    """
    return _Parsing(records, now).result()


class _Parsing:
    """``parse_records`` started in the parsing threads."""

    def __init__(self, records: Records, now: datetime):
        self._records = records
        self._messages = messages = records.where(MESSAGE)
        # Whole seconds: a batch re-read after a crash gets the same times, so the same events.
        arrived = records.received_us(messages) // 1_000_000 * 1_000_000
        self._parsing = syslog.start_batch(records.messages(messages), "spool", now=now, received_us=arrived)

    def result(self) -> SpoolParse:
        records, messages = self._records, self._messages
        odd = np.setdiff1d(np.arange(len(records)), messages, assume_unique=True)  # oversized, cut short
        rejects = [_odd_record(records[i]) for i in odd.tolist()]
        parsed = self._parsing.result()
        rejects.extend(
            replace(q, origin=records[int(messages[_position(q.origin) - 1])].origin) for q in parsed.quarantined
        )
        return SpoolParse([parsed.events] if parsed.events.num_rows else [], rejects)


def _odd_record(record: Record) -> Quarantined:
    """An oversized, rejected or truncated frame the receiver spooled so that it is not lost unseen."""
    text = record.data.decode("utf-8", errors="replace")
    if record.kind == REJECTED:
        reason = (
            "frame rejected: over the receiver's max_frame_bytes (an octet count too large, or a line"
            f" that never ended); the connection was closed, {record.size} bytes dropped,"
            f" the first {len(record.data)} kept"
        )
    elif record.kind == OVERSIZED:
        reason = (
            f"message too long: {record.size} bytes, over the receiver's max_message_bytes;"
            f" the first {len(record.data)} bytes are kept"
        )
    elif record.size:
        reason = (
            f"truncated octet-counted frame: {record.size} octets announced,"
            f" {len(record.data)} received before the connection closed"
        )
    else:  # a line without its LF when the receiver closed the connection
        reason = (
            "connection closed mid-message: the receiver stopped, or the sender was idle past"
            f" idle_timeout_seconds, before the line ended; {len(record.data)} bytes kept"
        )
    return Quarantined(SOURCE, reason, text, record.origin)


def _position(origin: str) -> int:
    """The 1-based position ``collectors.formats.syslog.parse_lines`` puts after the origin's colon."""
    return int(origin.rpartition(":")[2])


def _interval(value) -> timedelta:
    """Seconds as a number, or text such as "30s", "5m", "1h" (as the other collectors take)."""
    if isinstance(value, str) and value.strip()[-1:] in _UNITS:
        seconds = float(value.strip()[:-1]) * _UNITS[value.strip()[-1]]
    else:
        seconds = float(value)
    if seconds <= 0:
        raise ValueError(f"collectors.syslog.interval must be more than 0 seconds, not {value!r}")
    return timedelta(seconds=seconds)


def _now() -> datetime:
    return datetime.now(UTC)
