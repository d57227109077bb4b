"""GoPhish results from files, for a GoPhish the council cannot reach from here: the JSON the API
answers (a campaign, a list of campaigns, or a campaign's results), or the CSV exports of the
campaign page ("Export CSV" of the results, and optionally of the raw events).

An import is one snapshot of ``gophish.results`` holding the campaigns of the files given; the
report takes each campaign's latest reading, so campaigns imported one at a time add up.

A record that cannot be counted (no address, a status GoPhish does not have) is set aside with
its reason, counted, and named in the snapshot's notes; the rest are kept. A file that cannot be
read at all (not JSON, a CSV without the ``email`` or ``status`` column) is refused with an error
naming it, before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from collectors.evidence.awareness.columns import GOPHISH, GOPHISH_COLUMNS, GOPHISH_STATUSES
from collectors.evidence.awareness.gophish import TIMELINE_COLUMNS, campaign_rows
from collectors.evidence.columns import PageConverter
from collectors.evidence.job import Records
from store.snapshots import SnapshotEntry, SnapshotStore

#: How many set-aside records are named in the snapshot's notes; the count is always given.
NAMED_SET_ASIDE = 20
CSV_REQUIRED = ("email", "status")


class GophishExportError(ValueError):
    """A file that cannot be read as a GoPhish export; the message names it and what was expected."""


@dataclass(frozen=True)
class ExportFile:
    """One file to import. ``campaign`` names a CSV's campaign (a CSV export does not carry it;
    the file's name stands in when left out); ``events`` is the raw-events CSV of the same
    campaign, which gives the times (sent, clicked, reported) the results CSV lacks."""

    path: Path
    campaign: str | None = None
    events: Path | None = None


@dataclass(frozen=True)
class ImportResult:
    entry: SnapshotEntry
    kept: int
    set_aside: tuple[str, ...]  # every reason, "file row n: why"


def import_exports(
    snapshots: SnapshotStore, files: Sequence[ExportFile], taken_at: datetime | None = None
) -> ImportResult:
    """Read every file, then write one snapshot of ``gophish.results`` with what could be counted."""
    rows: Records = []
    set_aside: list[str] = []
    for export in files:
        read = _read_csv(export) if export.path.suffix.lower() == ".csv" else _read_json(export.path)
        for number, row in enumerate(read, 1):
            why = _problem(row)
            if why is None:
                rows.append(row)
            else:
                set_aside.append(f"{export.path.name} record {number}: {why}")
    converter = PageConverter(GOPHISH_COLUMNS)
    moment = taken_at or datetime.now(UTC)
    try:
        with snapshots.writer(GOPHISH, moment, converter.schema, uuid.uuid4().hex) as writer:
            writer.write(converter.table(rows))
            for note in converter.notes():
                writer.note(note)
            if set_aside:
                writer.note(f"{len(set_aside)} record(s) set aside and not counted")
                for reason in set_aside[:NAMED_SET_ASIDE]:
                    writer.note(reason)
            entry = writer.commit()
    finally:
        converter.close()
    return ImportResult(entry, len(rows), tuple(set_aside))


def _problem(row: dict[str, Any]) -> str | None:
    if not row.get("email"):
        return "no email address"
    if row.get("status") not in GOPHISH_STATUSES:
        return f"status {row.get('status')!r} is not a GoPhish result status (expected one of {', '.join(GOPHISH_STATUSES)})"
    if not row.get("campaign_id"):
        return "no campaign id"
    return None


def _read_json(path: Path) -> Records:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise GophishExportError(f"{path}: cannot be read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise GophishExportError(f"{path}: is not JSON ({exc}); expected GoPhish's campaign or results JSON") from None
    campaigns = document if isinstance(document, list) else [document]
    rows: Records = []
    for number, campaign in enumerate(campaigns, 1):
        if not isinstance(campaign, dict) or not isinstance(campaign.get("results"), list):
            raise GophishExportError(
                f"{path}: campaign {number} has no 'results' list; expected GoPhish's campaign or results JSON"
            )
        rows.extend(campaign_rows(campaign, path.name))
    return rows


def _read_csv(export: ExportFile) -> Records:
    """The results CSV (and the raw-events CSV) read and joined by DuckDB, not row by row."""
    name = export.campaign or export.path.stem
    with duckdb.connect() as con:
        results = _csv_relation(con, export.path, CSV_REQUIRED)
        results.create_view("results")
        columns = {c.lower() for c in results.columns}
        if export.events is not None:
            _csv_relation(con, export.events, ("email", "time", "message")).create_view("events")
        else:
            con.execute(
                "CREATE VIEW events AS SELECT NULL::VARCHAR email, NULL::VARCHAR time, NULL::VARCHAR message WHERE false"
            )
        firsts = ", ".join(
            f"min(time) FILTER (WHERE message = '{message}') AS {column}"
            for message, column in TIMELINE_COLUMNS.items()
        )
        optional = {c: (f"r.{c}" if c in columns else "NULL") for c in ("id", "position", "reported", "send_date")}
        sql = f"""
            WITH times AS (SELECT lower(trim(email)) AS email, {firsts} FROM events GROUP BY 1)
            SELECT $campaign AS campaign_id, $campaign AS campaign_name, NULL AS campaign_status,
                   min(coalesce(t.sent_at, {optional["send_date"]})) OVER () AS launched_at, NULL AS completed_at,
                   {optional["id"]} AS result_id, nullif(lower(trim(r.email)), '') AS email,
                   nullif({optional["position"]}, '') AS position, r.status AS status,
                   lower(CAST({optional["reported"]} AS VARCHAR)) = 'true' AS reported,
                   coalesce(t.sent_at, {optional["send_date"]}) AS sent_at, t.opened_at, t.clicked_at,
                   t.submitted_at, t.reported_at, $origin AS origin
            FROM results AS r LEFT JOIN times AS t ON t.email = lower(trim(r.email))
        """
        table = con.sql(sql, params={"campaign": name, "origin": export.path.name}).to_arrow_table()
    rows: Records = table.to_pylist()
    for row in rows:
        if row["launched_at"] is not None and str(row["launched_at"]).startswith("0001-01-01"):
            row["launched_at"] = None
    return rows


def _csv_relation(con: duckdb.DuckDBPyConnection, path: Path, required: tuple[str, ...]) -> duckdb.DuckDBPyRelation:
    if not path.is_file():
        raise GophishExportError(f"{path}: no such file")
    try:
        relation = con.read_csv(str(path), header=True, all_varchar=True)
    except duckdb.Error as exc:
        raise GophishExportError(f"{path}: is not a CSV file DuckDB can read ({exc})") from None
    have = {c.lower() for c in relation.columns}
    missing = [c for c in required if c not in have]
    if missing:
        raise GophishExportError(
            f"{path}: has no {', '.join(missing)} column; expected GoPhish's CSV export with {', '.join(required)}"
        )
    return relation
