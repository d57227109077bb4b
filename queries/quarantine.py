"""Records that could not be parsed or stored, newest first, each with the reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from store.protocol import Store


@dataclass(frozen=True)
class QuarantinedRecord:
    id: int
    source: str  # the source kind, e.g. entra-signins (a dataset when the store refused it)
    reason: str
    record: str  # the record's first 4 KiB as received: log text, never markup
    origin: str  # where it was first seen: a file and line, a spool record, a workspace table
    received_at: str  # ISO, UTC: when it was first quarantined
    record_bytes: int  # the whole record's size in UTF-8 bytes (``record`` may be a part of it)
    record_sha256: str  # SHA-256 (hex) of the whole record: find it again in the source
    sightings: int  # how many times it was quarantined: a repeat is counted, not kept again
    last_seen: str  # ISO, UTC: when it was last quarantined

    @property
    def cut(self) -> bool:
        """Whether ``record`` is only the start of the record."""
        return len(self.record.encode("utf-8")) < self.record_bytes

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class QuarantineListing:
    records: tuple[QuarantinedRecord, ...]
    total: int  # every quarantined record, shown or not

    @property
    def held_back(self) -> int:
        return self.total - len(self.records)

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell quarantine list --json`` prints it."""
        return {"total": self.total, "records": [record.to_dict() for record in self.records]}


def list_quarantine(store: Store, limit: int = 50) -> QuarantineListing:
    """The newest ``limit`` quarantined records and how many there are in all."""
    if limit < 0:
        raise ValueError(f"the limit must be 0 or more, got {limit}")
    rows = store.state.quarantined(limit)
    records = tuple(
        QuarantinedRecord(
            id=row["id"],
            source=row["source"],
            reason=row["reason"],
            record=row["record"],
            origin=row["origin"],
            received_at=row["received_at"],
            record_bytes=row["record_bytes"],
            record_sha256=row["record_sha256"],
            sightings=row["sightings"],
            last_seen=row["last_seen"],
        )
        for row in rows
    )
    return QuarantineListing(records, store.state.quarantine_count())
