"""Log Analytics ``SigninLogs`` rows → ``azure.signinlogs`` (source ``entra-signins-la``).

Accepted, told apart by content (gzip by its magic bytes):

* CSV with a header, as the Log Analytics portal exports it: a BOM, CRLF line ends, dynamic
  columns as JSON text in cells (spanning lines when pretty-printed), and the portal's suffixes
  on column names (``CreatedDateTime [UTC]``, ``Status_dynamic``/``Status_string``) and time
  format (``4/28/2021, 2:08:45.221 PM``, UTC);
* JSON rows keyed by column name: an array, NDJSON, or the query API's response
  ``{"tables": [{"columns": [{"name": ..., "type": ...}], "rows": [[...]]}]}``. Dynamic columns
  may be objects or JSON text (the query API sends text).

The rows of either form become one relation ``la`` of text columns named as in the table (see
``LA_COLUMNS``); one SQL (:func:`collectors.formats.signins.entra_signins_la_sql.la_select`) turns it
into the dataset's columns, the same ones the Graph parser fills. CSV is read as
:mod:`collectors.formats.signins.entra_signins_la_csv` says, JSON framed as in
:mod:`collectors.formats.signins.entra_signins`.

Decisions, so a reader need not guess:

* ``@timestamp`` is ``TimeGenerated``, else ``CreatedDateTime``; a time without a zone is UTC.
* ``azure.tenant_id`` is ``HomeTenantId``, else ``ResourceTenantId``, else ``AADTenantId``, as the
  Graph form of the same sign-in has it; never ``TenantId``, which in Log Analytics is the
  workspace's id, not the Entra tenant's.
* Empty strings: a string column of Log Analytics cannot be null, so its ``""`` (an empty CSV
  cell) is stored as null, as Graph's null is; inside a dynamic column (``DeviceDetail``,
  ``Status``, ``LocationDetails``) the JSON is Graph's, and its ``""`` is kept as an empty string
  (``DeviceDetail.deviceId: ""`` is how an unknown device looks).
* ``azure.signinlogs.category``: ``Category``, else from the table name in ``Type``
  (``AADNonInteractiveUserSignInLogs`` → ``NonInteractiveUserSignInLogs``).
* ``event.original`` of a CSV row is the record as it is in the file (its line, or its lines
  when a quoted cell spans several). Of a JSON row, the NDJSON line, or the row re-serialised
  compactly. JSON text in dynamic columns is stored minified, whichever form it came in.
* Quarantined, with the reason: a CSV row with the wrong number of cells, one with a byte that is
  not UTF-8 (in any column: the record must be text to keep), one whose quoting Python's ``csv``
  module would refuse (a character after a closing quote, a quote never closed), a row without a
  readable time, and for JSON what the Graph parser quarantines. A file that cannot be read at
  all becomes one quarantined record.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from collectors.formats.signins.entra_signins import parse_json_records
from collectors.formats.signins.entra_signins import parse_pieces as _signin_pieces
from collectors.formats.signins.entra_signins_la_csv import BOM, parse_csv, parse_csv_pieces, unreadable
from collectors.formats.signins.entra_signins_la_sql import LA_COLUMNS, LA_JSON, SOURCE
from collectors.formats.signins.signin_schema import COLUMNS, DATASET
from collectors.reading.rawfile import opening
from store.batch import ParsedBatch

__all__ = ["COLUMNS", "DATASET", "LA_COLUMNS", "SOURCE", "parse_csv_pieces", "parse_file", "parse_pieces"]


def _opening(path: Path, size: int = 4096) -> bytes:
    """The first bytes of the file's content (decompressed when gzip), BOM removed."""
    head = opening(path, size)
    return head[3:] if head.startswith(BOM) else head


def parse_file(path: Path) -> ParsedBatch:
    """Every ``SigninLogs`` row in ``path`` as ``azure.signinlogs`` events, and the rejects."""
    path = Path(path)
    try:
        head = _opening(path)
    except (OSError, zlib.error) as exc:
        return unreadable(path, f"cannot read the file: {exc}")
    if not head.strip() or head.lstrip()[:1] in (b"{", b"["):  # blank: JSON framing says why, if anything
        return parse_json_records(path, LA_JSON)
    return parse_csv(path)


def parse_pieces(path: Path, pieces: Iterable) -> Iterator[ParsedBatch]:
    """A big plain NDJSON export of rows, piece by piece, as replay reads it (see
    :func:`collectors.formats.signins.entra_signins.parse_pieces`)."""
    return _signin_pieces(path, pieces, LA_JSON)
