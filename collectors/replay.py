"""File replay: exports on disk into the store, through the same parsers the collectors use."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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


@dataclass(frozen=True)
class IngestProgress:
    """How far an ingest has gone, after each stored batch and each finished file: what a
    progress bar shows (the console draws it; this room only counts)."""

    path: Path
    files_done: int
    files: int
    #: Records handled so far over every file: stored, duplicates and quarantined.
    records: int


OnProgress = Callable[[IngestProgress], None]


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
    if shape == "csv" and source.parse_csv_pieces is not None and not is_gzip(path):
        return source.parse_csv_pieces(path, chunking.line_pieces(path))
    if shape:
        return _chunked(path, source, kind, csv=shape == "csv")
    return iter((source.parse_file(path),))


def _chunked(path: Path, source: SourceFormat, kind: str, csv: bool) -> Iterator[ParsedBatch]:
    for chunk in chunking.chunks(path, csv=csv, source=kind):
        batch = chunking.relocate(source.parse_file(chunk.path), chunk, path)
        yield ParsedBatch(batch.events, chunk.refused + batch.quarantined) if chunk.refused else batch


def ingest(store: Store, paths: Sequence[Path], kind: str, on_progress: OnProgress | None = None) -> IngestResult:
    """Parse every file, store the events once each, quarantine what cannot be parsed.

    Storing a batch and parsing the next overlap (a writer thread; DuckDB and Arrow release the
    GIL), with at most one batch waiting, so two cores are both busy and memory stays bounded.
    Batches are still stored in order. ``on_progress`` is called in the caller's thread after
    each batch is stored and after each file.
    """
    told = on_progress or (lambda _: None)
    source = source_format(kind)
    writes_to = store if source.store_view is None else source.store_view(store)
    total = IngestResult()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cyberwell-store") as writer:
        for number, path in enumerate(paths):
            per_file = IngestResult()
            pending: Future[None] | None = None
            for batch in _batches(Path(path), source, kind):
                if pending is not None:
                    pending.result()  # the writer is idle until the next submit: its counts hold still
                    told(_progress(Path(path), number, len(paths), total, per_file))
                pending = writer.submit(_store_batch, writes_to, batch, per_file)
            if pending is not None:
                pending.result()
            told(_progress(Path(path), number + 1, len(paths), total, per_file))
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


def _progress(path: Path, done: int, files: int, before: IngestResult, this_file: IngestResult) -> IngestProgress:
    handled = sum(c.ingested + c.duplicates + c.quarantined for c in (before, this_file))
    return IngestProgress(path, done, files, handled)


def _store_batch(store: Store, batch: ParsedBatch, counts: IngestResult) -> None:
    if batch.count:
        appended = store.append(batch.events)
        counts.ingested += appended.stored
        counts.duplicates += appended.duplicates
        counts.quarantined += appended.rejected  # refused by the store, which quarantined them
    counts.quarantined += store.state.quarantine(batch.quarantined)


__all__ = [
    "SOURCE_KINDS",
    "IngestProgress",
    "IngestResult",
    "OnProgress",
    "Quarantined",
    "UnknownSource",
    "batches",
    "ingest",
]
