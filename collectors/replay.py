"""File replay: exports on disk into the store, through the same parsers the collectors use."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from collectors.reading import chunking
from collectors.reading.rawfile import is_gzip
from store.batch import ParsedBatch, Quarantined

#: Source kind -> the module that parses it. Each module has ``parse_file(path) -> ParsedBatch``
#: (and may have ``store_view(store)``: how its events are written, e.g. Defender alerts with history)
#: and may have ``iter_batches(path) -> Iterator[ParsedBatch]`` to keep memory flat on big files,
#: or ``parse_pieces(path, pieces) -> Iterator[ParsedBatch]`` to take a big plain NDJSON
#: export's lines piece by piece straight from memory (``collectors.reading.chunking.line_pieces``).
SOURCE_MODULES: dict[str, str] = {
    "entra-signins": "collectors.formats.entra_signins",
    "entra-signins-la": "collectors.formats.entra_signins_la",
    "defender-alerts": "collectors.formats.defender_alerts",
    "azure-firewall": "collectors.formats.azure_firewall",
    "syslog": "collectors.formats.syslog",
}


class UnknownSource(ValueError):
    def __init__(self, kind: str):
        super().__init__(f"unknown source kind {kind!r}; expected one of: {', '.join(SOURCE_MODULES)}")


@dataclass
class IngestResult:
    ingested: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def batches(path: Path, kind: str) -> Iterator[ParsedBatch]:
    """Parsed batches of one file; an unreadable file becomes one quarantined record."""
    if kind not in SOURCE_MODULES:
        raise UnknownSource(kind)
    module = importlib.import_module(SOURCE_MODULES[kind])
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if hasattr(module, "iter_batches"):
        yield from module.iter_batches(Path(path))
    elif (
        (shape := chunking.layout(Path(path))) == "ndjson"
        and hasattr(module, "parse_pieces")
        and not is_gzip(Path(path))
    ):
        yield from module.parse_pieces(Path(path), chunking.line_pieces(Path(path)))
    elif shape:
        for chunk in chunking.chunks(Path(path), csv=shape == "csv"):
            yield chunking.relocate(module.parse_file(chunk.path), chunk, Path(path))
    else:
        yield module.parse_file(Path(path))


def ingest(store, paths: Sequence[Path], kind: str) -> IngestResult:
    """Parse every file, store the events once each, quarantine what cannot be parsed.

    Storing a batch and parsing the next overlap (a writer thread; DuckDB and Arrow release the
    GIL), with at most one batch waiting, so two cores are both busy and memory stays bounded.
    Batches are still stored in order.
    """
    if kind not in SOURCE_MODULES:
        raise UnknownSource(kind)
    module = importlib.import_module(SOURCE_MODULES[kind])
    writes_to = getattr(module, "store_view", lambda plain: plain)(store)
    total = IngestResult()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cyberwell-store") as writer:
        for path in paths:
            per_file = IngestResult()
            pending = None
            for batch in batches(Path(path), kind):
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
    if hasattr(store, "flush"):  # a store that makes writes visible lazily: the next command sees all
        store.flush()
    return total


def _store_batch(store, batch: ParsedBatch, counts: IngestResult) -> None:
    if batch.count:
        appended = store.append(batch.events)
        counts.ingested += appended.stored
        counts.duplicates += appended.duplicates
        counts.quarantined += getattr(appended, "rejected", 0)  # refused by the store, which quarantined them
    counts.quarantined += store.state.quarantine(batch.quarantined)


__all__ = ["IngestResult", "Quarantined", "SOURCE_MODULES", "UnknownSource", "batches", "ingest"]
