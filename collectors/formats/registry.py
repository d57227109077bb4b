"""Which parser reads which source kind, and how replay may drive it: one typed record per kind.

Replay reads a record's fields instead of asking a parser module what it happens to define, so a
parser that gains or loses a way of being read changes this file, where the type checker sees it.
Each kind's record is made by a small loader that imports its parser on first use: importing all
of them costs time (they build their SQL and schemas at import), which ``cyberwell --help`` and
commands that parse nothing need not pay.

This lives beside the parsers rather than in ``collectors/formats/__init__.py`` because
``collectors.formats.syslog`` imports its vendor parsers from the package
(``from collectors.formats import cef, ...``): a package that imported its parsers back would be
an import cycle (``tests/console/test_layers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from collectors.reading.chunking import Lines
from store.batch import ParsedBatch
from store.protocol import Store


@dataclass(frozen=True)
class SourceFormat:
    """How replay reads one source kind.

    ``parse_file`` reads any export of the kind. The others are there only where the parser has
    them, and replay prefers them in this order: ``iter_batches`` yields a big file in bounded
    batches by itself; ``parse_pieces`` takes a big plain NDJSON export's lines piece by piece
    from memory (``collectors.reading.chunking.line_pieces``), and ``parse_csv_pieces`` a big
    plain CSV export's. ``store_view`` is how the kind's
    events are written (Defender alerts also keep their history); None writes to the store as is.
    """

    parse_file: Callable[[Path], ParsedBatch]
    iter_batches: Callable[[Path], Iterator[ParsedBatch]] | None = None
    parse_pieces: Callable[[Path, Iterable[Lines]], Iterator[ParsedBatch]] | None = None
    parse_csv_pieces: Callable[[Path, Iterable[Lines]], Iterator[ParsedBatch]] | None = None
    store_view: Callable[[Store], Store] | None = None


def _entra_signins() -> SourceFormat:
    from collectors.formats.signins import entra_signins

    return SourceFormat(parse_file=entra_signins.parse_file, parse_pieces=entra_signins.parse_pieces)


def _entra_signins_la() -> SourceFormat:
    from collectors.formats.signins import entra_signins_la

    return SourceFormat(
        parse_file=entra_signins_la.parse_file,
        parse_pieces=entra_signins_la.parse_pieces,
        parse_csv_pieces=entra_signins_la.parse_csv_pieces,
    )


def _defender_alerts() -> SourceFormat:
    from collectors.formats import defender_alerts

    return SourceFormat(parse_file=defender_alerts.parse_file, store_view=defender_alerts.KeepingHistory)


def _azure_firewall() -> SourceFormat:
    from collectors.formats import azure_firewall

    return SourceFormat(parse_file=azure_firewall.parse_file)


def _syslog() -> SourceFormat:
    from collectors.formats import syslog

    return SourceFormat(parse_file=syslog.parse_file, iter_batches=syslog.iter_batches)


#: Source kind -> the loader of its record. The kinds, in this order, are what
#: ``cyberwell ingest --source`` accepts and lists.
SOURCE_FORMATS: Mapping[str, Callable[[], SourceFormat]] = MappingProxyType(
    {
        "entra-signins": _entra_signins,
        "entra-signins-la": _entra_signins_la,
        "defender-alerts": _defender_alerts,
        "azure-firewall": _azure_firewall,
        "syslog": _syslog,
    }
)

SOURCE_KINDS: tuple[str, ...] = tuple(SOURCE_FORMATS)


class UnknownSource(ValueError):
    """A source kind no parser reads; the message lists the kinds there are."""

    def __init__(self, kind: str):
        super().__init__(f"unknown source kind {kind!r}; expected one of: {', '.join(SOURCE_KINDS)}")


def source_format(kind: str) -> SourceFormat:
    """The record of ``kind``, its parser imported; :class:`UnknownSource` if there is none."""
    loader = SOURCE_FORMATS.get(kind)
    if loader is None:
        raise UnknownSource(kind)
    return loader()
