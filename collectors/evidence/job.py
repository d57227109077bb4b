"""What a snapshot run asks of an evidence job: its source name, its columns, and its records
page by page. Each job opens its own client when asked for pages and closes it when done."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectors.evidence.columns import Column
from microsoft.graph import Access, Builder, GraphReader
from microsoft.rest_reader import Need, RestReader

Records = list[dict[str, Any]]


class EvidenceJob(Protocol):
    @property
    def source(self) -> str: ...

    @property
    def columns(self) -> Sequence[Column]: ...

    def pages(self) -> AsyncGenerator[Records]:
        """Each page's records, as the API sent them or reshaped to one record per row."""
        ...


@dataclass(frozen=True)
class GraphListing:
    """A Graph collection read with msgraph-sdk's request builder, one record per row."""

    source: str
    columns: Sequence[Column]
    builder: Builder
    access: Access
    reader: Callable[[], GraphReader]
    query: dict[str, Any] = field(default_factory=dict)
    keep: Callable[[dict[str, Any]], bool] | None = None  # rows to keep, when not all

    async def pages(self) -> AsyncGenerator[Records]:
        reader = self.reader()
        try:
            async for page in reader.pages(self.builder, self.query, self.access):
                yield page.records if self.keep is None else [r for r in page.records if self.keep(r)]
        finally:
            await reader.close()


@dataclass(frozen=True)
class RestListing:
    """A collection of an API without an SDK (Defender for Endpoint, Resource Manager)."""

    source: str
    columns: Sequence[Column]
    path: str
    need: Need
    reader: Callable[[], RestReader]
    params: dict[str, str | int] = field(default_factory=dict)
    keep: Callable[[dict[str, Any]], bool] | None = None
    reshape: Callable[[Records], Records] | None = None  # one API record to many rows, e.g. rules

    async def pages(self) -> AsyncGenerator[Records]:
        reader = self.reader()
        try:
            async for records in reader.pages(self.path, self.params, self.need):
                rows = self.reshape(records) if self.reshape is not None else records
                yield rows if self.keep is None else [r for r in rows if self.keep(r)]
        finally:
            await reader.close()
