"""File replay: exports on disk into the store, through the same parsers the collectors use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from collectors.formats.registry import SOURCE_KINDS, SourceFormat, UnknownSource, source_format
from collectors.reading import chunking
from collectors.reading.rawfile import is_gzip
from store.batch import ParsedBatch, Quarantined
from store.protocol import Store


@dataclass
class IngestResult:
    ingested: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files: list[dict[str, str | int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def batches(path: Path, kind: str) -> Iterator[ParsedBatch]:
    """Parsed batches of one file; an unreadable file becomes one quarantined record."""
    return _batches(Path(path), source_format(kind), kind)


def _batches(path: Path, source: SourceFormat, kind: str) -> Iterator[ParsedBatch]:
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if source.iter_batches is not None:
        return source.iter_batches(path)
    shape = chunking.layout(path)
    if shape == "ndjson" and source.parse_pieces is not None and not is_gzip(path):
        return source.parse_pieces(path, chunking.line_pieces(path))
    if shape:
        return _chunked(path, source, kind, csv=shape == "csv")
    return iter((source.parse_file(path),))


def _chunked(path: Path, source: SourceFormat, kind: str, csv: bool) -> Iterator[ParsedBatch]:
    for chunk in chunking.chunks(path, csv=csv, source=kind):
        batch = chunking.relocate(source.parse_file(chunk.path), chunk, path)
        yield ParsedBatch(batch.events, chunk.refused + batch.quarantined) if chunk.refused else batch


def ingest(store: Store, paths: Sequence[Path], kind: str) -> IngestResult:
    """Parse every file, store the events once each, quarantine what cannot be parsed.

    Storing a batch and parsing the next overlap (a writer thread; DuckDB and Arrow release the
    GIL), with at most one batch waiting, so two cores are both busy and memory stays bounded.
    Batches are still stored in order.
    """
    source = source_format(kind)
    writes_to = store if source.store_view is None else source.store_view(store)
    total = IngestResult()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cyberwell-store") as writer:
        for path in paths:
            per_file = IngestResult()
            pending: Future[None] | None = None
            for batch in _batches(Path(path), source, kind):
                if pending is not None:
                    pending.result()
                pending = writer.submit(_store_batch, writes_to, batch, per_file)
            if pending is not None:
                pending.result()
            total.ingested += per_file.ingested
            total.quarantined += per_file.quarantined
            total.duplicates += per_file.duplicates
            total.files.append(
                {
                    "path": str(path),
                    "ingested": per_file.ingested,
                    "quarantined": per_file.quarantined,
                    "duplicates": per_file.duplicates,
                }
            )
    store.flush()  # a store that makes writes visible lazily: the next command sees them all
    return total


def _store_batch(store: Store, batch: ParsedBatch, counts: IngestResult) -> None:
    if batch.count:
        appended = store.append(batch.events)
        counts.ingested += appended.stored
        counts.duplicates += appended.duplicates
        counts.quarantined += appended.rejected  # refused by the store, which quarantined them
    counts.quarantined += store.state.quarantine(batch.quarantined)


__all__ = [
    "SOURCE_KINDS",
    "IngestResult",
    "Quarantined",
    "UnknownSource",
    "batches",
    "ingest",
]
