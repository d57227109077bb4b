"""Times as the run records and the receiver's counters file write them (ISO text), as datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: str) -> datetime:
    """Aware in UTC: a time written without its zone was written in UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
