"""``cyberwell report``: write the Cyber Essentials Plus or the awareness report into a folder as
HTML, Markdown and JSON, with an evidence pack; and verify a pack someone hands back.

``verify`` exits 0 when every file of the manifest is in the pack with its hash and nothing else
is, 1 naming each file missing, changed or extra (2 stays "the command was wrong"), so a script
can check an archived pack. Values shown come from the pack or the evidence and go out through
``render`` (escaped for the terminal).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from console import render
from console.session import fail, parse_time

if TYPE_CHECKING:  # rendering loads matplotlib (~1 s): only when a report is written
    from reports.document import Document
    from reports.rendering.evidence_pack import PackReceipt

#: Exit code of ``verify`` when the pack does not match its manifest.
PACK_BROKEN = 1
#: The period when ``--from`` is not given: the last 30 days before ``--to``.
DEFAULT_PERIOD = timedelta(days=30)

report_app = typer.Typer(
    help="Compliance reports as HTML, Markdown and JSON, with an evidence pack (docs/reports.md).",
    no_args_is_help=True,
)

FromOption = Annotated[
    str | None,
    typer.Option("--from", metavar="TIME", help="Start of the period, ISO 8601 [default: 30 days before --to]."),
]
ToOption = Annotated[
    str | None, typer.Option("--to", metavar="TIME", help="End of the period, the moment judged [default: now].")
]
OutOption = Annotated[
    Path, typer.Option("--out", metavar="DIR", help="Folder to write the report into (created if missing).")
]
FormatOption = Annotated[
    str, typer.Option("--format", metavar="FORMATS", help="Comma-separated formats: html, md, json.", show_default=True)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print what was written as JSON instead of text.")]


@dataclass(frozen=True)
class Written:
    """What a report command wrote, for the person (text) or a script (``--json``)."""

    report: str
    start: datetime
    end: datetime
    files: tuple[Path, ...]
    verdicts: dict[str, int] = field(default_factory=dict)
    automatic_fails: tuple[str, ...] = ()
    pack: PackReceipt | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "report": self.report,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "files": [str(path) for path in self.files],
            "verdicts": self.verdicts,
            "automatic_fails": list(self.automatic_fails),
            "pack": None
            if self.pack is None
            else {"path": str(self.pack.path), "files": self.pack.files, "manifest_sha256": self.pack.manifest_sha256},
        }


@report_app.command("ce-plus")
def ce_plus_command(
    ctx: typer.Context,
    out: OutOption,
    start: FromOption = None,
    end: ToOption = None,
    formats: FormatOption = "html,md,json",
    attestations: Annotated[
        Path | None,
        typer.Option(
            "--attestations", metavar="FILE", help="Attestations file [default: HOME/attestations/attestations.yaml]."
        ),
    ] = None,
    pack: Annotated[bool, typer.Option("--pack/--no-pack", help="Write the evidence pack zip.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Judge every Cyber Essentials requirement at --to and write the report and its evidence pack."""
    from reports.attestations import AttestationError
    from reports.catalogue_errors import CatalogueError
    from reports.ce_plus_run import build_ce_plus, pack_files
    from reports.latest import record_latest
    from reports.rendering import write_report
    from reports.rendering.evidence_pack import write_pack

    names = _formats(formats)
    window_start, window_end = _period(start, end)
    try:
        report = build_ce_plus(ctx.obj.home, window_start, window_end, attestations)
    except (AttestationError, CatalogueError) as error:
        fail(str(error))
    written = _write(report.document, out, names, write_report)
    counts = Counter(judgement.verdict.value for judgement in report.judgements)
    receipt = None
    if pack:
        index = out / ".ce-plus.snapshots.jsonl"
        try:
            receipt = write_pack(
                out / "ce-plus-evidence-pack.zip",
                pack_files(report, written, index),
                {"report": "ce-plus", "from": window_start.isoformat(), "to": window_end.isoformat()},
            )
        finally:
            index.unlink(missing_ok=True)
    fails = tuple(j.requirement.id for j in report.judgements if j.fails_assessment)
    # The dashboard's overview shows the latest report from this record.
    record_latest(ctx.obj.home, report, [*written, *([receipt.path] if receipt else [])])
    _tell(Written("ce-plus", window_start, window_end, tuple(written), dict(counts), fails, receipt), as_json)


@report_app.command("awareness")
def awareness_command(
    ctx: typer.Context,
    out: OutOption,
    start: FromOption = None,
    end: ToOption = None,
    formats: FormatOption = "html,md,json",
    pack: Annotated[bool, typer.Option("--pack/--no-pack", help="Write the evidence pack zip.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Write the security-awareness report (phishing simulations, training) and its evidence pack."""
    from reports.awareness import build_awareness
    from reports.rendering import write_report
    from reports.rendering.evidence_pack import report_files, write_pack

    names = _formats(formats)
    window_start, window_end = _period(start, end)
    try:
        report = build_awareness(ctx.obj.home, window_start, window_end)
    except ValueError as error:
        fail(str(error))
    written = _write(report.document, out, names, write_report)
    receipt = None
    if pack:
        index = out / ".awareness.snapshots.jsonl"
        try:
            receipt = write_pack(
                out / "awareness-evidence-pack.zip",
                report_files(written, report.evidence, report.snapshots.root, index),
                {"report": "awareness", "from": window_start.isoformat(), "to": window_end.isoformat()},
            )
        finally:
            index.unlink(missing_ok=True)
    _tell(Written("awareness", window_start, window_end, tuple(written), pack=receipt), as_json)


@report_app.command("verify")
def verify_command(
    pack: Annotated[Path, typer.Argument(metavar="PACK", help="The evidence pack zip to check.")],
    expect_manifest: Annotated[
        str | None,
        typer.Option(
            "--expect-manifest", metavar="SHA256", help="The manifest hash printed when the pack was written."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON instead of text.")] = False,
) -> None:
    """Check every file of the pack against its manifest; exit 1 naming each file missing, changed or extra."""
    from reports.rendering.evidence_pack import PackError, verify_pack

    try:
        verdict = verify_pack(pack, expect_manifest)
    except PackError as error:
        fail(str(error))
    if as_json:
        render.emit_json(
            {
                "ok": verdict.ok,
                "checked": verdict.checked,
                "missing": list(verdict.missing),
                "changed": list(verdict.changed),
                "extra": list(verdict.extra),
                "problems": list(verdict.problems),
                "manifest_sha256": verdict.manifest_sha256,
            }
        )
    elif verdict.ok:
        render.show(f"evidence pack intact: {verdict.checked} files match the manifest")
        render.show(f"manifest SHA-256: {verdict.manifest_sha256}")
    else:
        for line in verdict.lines():
            render.error(line)
    if not verdict.ok:
        raise typer.Exit(PACK_BROKEN)


def _formats(value: str) -> list[str]:
    from reports.rendering import FORMATS

    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        fail(f"--format: {unknown[0] if unknown else value!r} is not a format; expected a list of {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def _period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    window_end = parse_time(end, "--to") or datetime.now(UTC)
    window_start = parse_time(start, "--from") or window_end - DEFAULT_PERIOD
    if window_start >= window_end:
        fail(f"--from {window_start.isoformat()} is not before --to {window_end.isoformat()}")
    return window_start, window_end


def _write(
    document: Document, out: Path, names: list[str], write: Callable[[Document, Path, Sequence[str]], list[Path]]
) -> list[Path]:
    try:
        return write(document, out, names)
    except OSError as error:
        fail(f"--out {out}: cannot write the report there: {error.strerror}")


def _tell(written: Written, as_json: bool) -> None:
    if as_json:
        render.emit_json(written.to_dict())
        return
    for path in written.files:
        render.show(f"wrote {path}")
    if written.verdicts:
        render.show("verdicts: " + ", ".join(f"{count} {name}" for name, count in sorted(written.verdicts.items())))
    if written.automatic_fails:
        render.show(f"automatic fails (the assessment would fail): {', '.join(written.automatic_fails)}")
    if written.pack is not None:
        render.show(f"wrote {written.pack.path} ({written.pack.files} files)")
        render.show(
            f"manifest SHA-256: {written.pack.manifest_sha256} "
            "(keep it elsewhere; later: cyberwell report verify PACK --expect-manifest HASH)"
        )
