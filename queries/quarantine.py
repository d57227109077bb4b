"""Records that could not be parsed or stored, newest first, each with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from store.protocol import Store


@dataclass(frozen=True)
class QuarantinedRecord:
    id: int
    source: str  # the source kind, e.g. entra-signins
    reason: str
    record: str  # the record as received, verbatim: log text, never markup
    origin: str  # where it came from: a file and line, a spool record, a workspace table
    received_at: str  # ISO, UTC

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "source": self.source,
            "reason": self.reason,
            "record": self.record,
            "origin": self.origin,
            "received_at": self.received_at,
        }


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
        )
        for row in rows
    )
    return QuarantineListing(records, store.state.quarantine_count())
