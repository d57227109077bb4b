"""File replay: exports on disk into the store, through the same parsers the collectors use."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from collectors.batch import ParsedBatch, Quarantined

#: Source kind -> the module that parses it. Each module has ``parse_file(path) -> ParsedBatch``
#: and may have ``iter_batches(path) -> Iterator[ParsedBatch]`` to keep memory flat on big files.
SOURCE_MODULES: dict[str, str] = {
    "entra-signins": "collectors.entra_signins",
    "entra-signins-la": "collectors.entra_signins_la",
    "defender-alerts": "collectors.defender_alerts",
    "azure-firewall": "collectors.azure_firewall",
    "syslog": "collectors.syslog",
}


class UnknownSource(ValueError):
    def __init__(self, kind: str):
        super().__init__(
            f"unknown source kind {kind!r}; expected one of: {', '.join(SOURCE_MODULES)}"
        )


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
    else:
        yield module.parse_file(Path(path))


def ingest(store, paths: Sequence[Path], kind: str) -> IngestResult:
    """Parse every file, store the events once each, quarantine what cannot be parsed."""
    if kind not in SOURCE_MODULES:
        raise UnknownSource(kind)
    total = IngestResult()
    for path in paths:
        per_file = IngestResult()
        for batch in batches(Path(path), kind):
            appended = store.append(batch.events) if batch.count else None
            if appended is not None:
                per_file.ingested += appended.stored
                per_file.duplicates += appended.duplicates
            per_file.quarantined += store.state.quarantine(batch.quarantined)
        total.ingested += per_file.ingested
        total.quarantined += per_file.quarantined
        total.duplicates += per_file.duplicates
        total.files.append({"path": str(path), **{k: v for k, v in per_file.to_dict().items() if k != "files"}})
    return total


__all__ = ["IngestResult", "Quarantined", "SOURCE_MODULES", "UnknownSource", "batches", "ingest"]
