"""The report renderers: HTML, Markdown and JSON from one document, the charts, the palette's
contrast, the JSON Schema, the bounded lists and the evidence pack, over a CE+ report judged from
real snapshots (the estate of tests/reports/test_ce_checks.py, with hostile names planted in it).

Escaping is tested by reading each format back the way a reader's tool would: the HTML with
Python's HTML parser, the Markdown rendered to HTML by markdown-it (CommonMark and tables), the
JSON with json.loads. A value must come back as the same text, and never as markup.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reports.ce_plus_run import build_ce_plus, pack_files
from reports.document import (
    Callout,
    CalloutKind,
    Chart,
    Definition,
    DefinitionList,
    Document,
    Paragraph,
    Point,
    Section,
    Series,
    Table,
)
from reports.registry import EvidenceSource
from reports.rendering import FORMATS, palette, render, write_report
from reports.rendering.evidence_pack import PackError, PackFile, verify_pack, write_pack
from reports.rendering.json_output import report_schema
from reports.rendering.markdown import escape
from reports.rendering.text import visible
from store.snapshots import SnapshotStore
from tests.reports.test_ce_checks import (
    T,
    antivirus,
    firewall_rules,
    machines,
    policies,
    put,
    registrations,
    roles,
    signins,
    software,
    users,
    vulnerabilities,
)

START = T - dt.timedelta(days=30)
HOSTILE = (
    "<script>alert('x')</script>",
    "**x**",
    "[a](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
)
EVIL = " ".join(HOSTILE)


# -- reading a format back ------------------------------------------------------------------------


class _Reader(HTMLParser):
    """Tags and text of an HTML document, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "svg"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "svg"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def read_html(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def markdown_as_html(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(text)


def assert_inert(html: str, where: str) -> None:
    """No element or attribute a hostile value could have introduced."""
    tags = read_html(html).tags
    names = {tag for tag, _ in tags}
    assert not names & {"script", "img", "iframe", "object", "embed"}, f"{where}: {names}"
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), f"{where}: {tag} {attrs}"
        assert not str(attrs.get("href", "")).lower().startswith("javascript"), f"{where}: {tag} {attrs}"
    assert "<strong>x</strong>" not in html, where


# -- the estate with hostile names ---------------------------------------------------------------


def hostile_estate(home: Path) -> SnapshotStore:
    store = SnapshotStore(home)
    people = users()
    for row in people[1412:1420]:  # among the accounts listed as having no MFA
        row["display_name"] = f"{row['display_name']} {EVIL}"
    fixes = vulnerabilities()
    for row in fixes:
        if row["device_id"] == "m03":  # a device with an overdue critical fix: listed
            row["device_name"] = f"pc03 {EVIL}"
    put(store, EvidenceSource.GRAPH_USERS, people)
    put(store, EvidenceSource.GRAPH_AUTHENTICATION_METHODS, registrations())
    put(store, EvidenceSource.GRAPH_DIRECTORY_ROLES, roles())
    put(store, EvidenceSource.GRAPH_CONDITIONAL_ACCESS, policies())
    put(store, EvidenceSource.GRAPH_SIGNINS, signins())
    put(store, EvidenceSource.DEFENDER_MACHINES, machines())
    put(store, EvidenceSource.DEFENDER_MISSING_UPDATES, fixes)
    put(store, EvidenceSource.DEFENDER_ANTIVIRUS_HEALTH, antivirus())
    put(store, EvidenceSource.DEFENDER_SOFTWARE_EOL, software())
    put(store, EvidenceSource.AZURE_FIREWALL_RULES, firewall_rules())
    return store


@pytest.fixture
def home(tmp_path: Path) -> Path:
    hostile_estate(tmp_path / "home")
    return tmp_path / "home"


def attestations_file(home: Path, requirement: str = "SCP-01", by: str = "Priya Shah, IT manager") -> Path:
    folder = home / "attestations"
    (folder / "evidence").mkdir(parents=True, exist_ok=True)
    (folder / "evidence" / "scope.pdf").write_bytes(b"%PDF-1.4 scope signed off")
    file = folder / "attestations.yaml"
    file.write_text(
        "attestations:\n"
        f"  - requirement: {requirement}\n"
        f"    by: {json.dumps(by)}\n"
        "    date: 2026-11-02\n"
        "    statement: The scope covers every office and the cloud tenant.\n"
        "    evidence: evidence/scope.pdf\n",
        encoding="utf-8",
    )
    return file


def hand_made(rows: int = 3, total: int | None = None) -> Document:
    table = Table(
        "Sign-ins",
        ("display name", "device name", "user agent", "count"),
        tuple((f"{EVIL} {n}", f"pc{n} {EVIL}", f"Mozilla/5.0 {EVIL}", n) for n in range(rows)),
        total_rows=total,
    )
    chart = Chart(
        "MFA registration",
        f"Rose from 80% to 95%. {EVIL}",
        (
            Series(EVIL, (Point(dt.date(2026, 11, 1), 80.0), Point(dt.date(2026, 11, 20), 95.0))),
            Series("target", (Point(dt.date(2026, 11, 1), 100.0), Point(dt.date(2026, 11, 20), 100.0))),
        ),
        "registered",
        True,
    )
    return Document(
        title=f"Report {EVIL}",
        subtitle=EVIL,
        period_start=START,
        period_end=T,
        generated_at=T,
        kind="test",
        sections=(
            Section(
                f"Heading {EVIL}",
                (
                    Paragraph(EVIL),
                    table,
                    chart,
                    DefinitionList((Definition(EVIL, EVIL),), EVIL),
                    Callout(CalloutKind.FAIL, EVIL, EVIL),
                ),
                (Section(f"Sub {EVIL}", (Paragraph("inner"),)),),
            ),
        ),
        provenance=(Definition("Made by", EVIL),),
    )


# -- escaping in every format --------------------------------------------------------------------


def test_hostile_names_in_the_ce_plus_report_are_shown_as_text_in_every_format(home):
    document = build_ce_plus(home, START, T, now=T).document
    html = render(document, "html")
    assert_inert(html, "html")
    assert html.count(EVIL) == 0  # the raw markup never appears as written
    shown = " ".join(read_html(html).text)
    assert f"User 1412 {EVIL}" in shown  # the display name, listed among the accounts without MFA
    assert f"pc03 {EVIL}" in shown  # the device name, listed with its overdue critical fix

    markdown = render(document, "md")
    as_html = markdown_as_html(markdown)
    assert_inert(as_html, "markdown")
    text = " ".join(read_html(as_html).text)
    assert f"User 1412 {EVIL}" in text and f"pc03 {EVIL}" in text

    raw = render(document, "json")
    assert "<" not in raw and ">" not in raw
    dumped = json.dumps(json.loads(raw), ensure_ascii=False)
    assert json.dumps(f"User 1412 {EVIL}", ensure_ascii=False)[1:-1] in dumped


def test_display_name_device_name_and_user_agent_are_escaped_in_every_block_and_format():
    document = hand_made()
    html = render(document, "html")
    assert_inert(html, "html")
    reader = read_html(html)
    assert f"Mozilla/5.0 {EVIL}" in " ".join(reader.text)
    # every place a value goes: title, subtitle, heading, paragraph, caption, cells, chart alt, callout
    assert " ".join(reader.text).count(EVIL) >= 14
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "<script" not in svg and "&lt;script&gt;" in svg  # the series label in the legend, as SVG text

    as_html = markdown_as_html(render(document, "md"))
    assert_inert(as_html, "markdown")
    assert " ".join(read_html(as_html).text).count(EVIL) >= 12

    parsed = json.loads(render(document, "json"))
    cells = parsed["sections"][0]["blocks"][1]["rows"][0]
    assert cells == [f"{EVIL} 0", f"pc0 {EVIL}", f"Mozilla/5.0 {EVIL}", 0]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_property_markdown_escape_reads_back_as_the_same_text_and_no_markup(value):
    # A value on its own (a paragraph, a cell) is never more than text...
    alone = read_html(markdown_as_html(escape(value)))
    assert {tag for tag, _ in alone.tags} <= {"p"}, escape(value)
    # ...and between words it reads back as itself, line breaks as spaces, controls made visible.
    rendered = markdown_as_html(f"x {escape(value)} y")
    reader = read_html(rendered)
    assert [tag for tag, _ in reader.tags] == ["p"], rendered
    flat = re.sub(r"\s*\n+\s*", " ", visible(value)).strip(" \t")
    assert "".join(reader.text).rstrip("\n") == f"x {flat} y"


# -- structure of the HTML -----------------------------------------------------------------------


def test_html_is_self_contained_accessible_and_prints_on_a4(home):
    html = render(build_ce_plus(home, START, T, now=T).document, "html")
    reader = read_html(html)
    tags = [tag for tag, _ in reader.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "nothing is fetched"
    assert "@import" not in html and not re.search(r"url\((?!#)", html)  # only the SVG's own clip paths
    assert "default-src 'none'" in html  # the page forbids itself any fetch or script
    assert "@page { size: A4" in html
    levels = [int(tag[1]) for tag in tags if re.fullmatch(r"h[1-6]", tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), "no heading level is skipped"
    tables = tags.count("table")
    assert tables > 10 and tags.count("caption") == tables
    header_cells = [attrs for tag, attrs in reader.tags if tag == "th"]
    assert header_cells and all(attrs.get("scope") == "col" for attrs in header_cells)
    assert tags.count("svg") == 2  # the MFA and overdue-fix trends, inline
    figures = [attrs for tag, attrs in reader.tags if tag == "div" and attrs.get("role") == "img"]
    assert len(figures) == 2 and all(attrs.get("aria-label") for attrs in figures)


def test_palette_passes_wcag_aa_contrast():
    assert round(palette.contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(palette.contrast_ratio("#777777", "#ffffff"), 2) == 4.48  # the classic near miss
    for name, tone in palette.TONES.items():
        assert palette.contrast_ratio(tone.ink, tone.background) >= 4.5, name
        assert palette.contrast_ratio(tone.border, tone.background) >= 3.0, name
    for text in (palette.INK, palette.MUTED, palette.LINK):
        assert palette.contrast_ratio(text, palette.PAGE) >= 4.5
        assert palette.contrast_ratio(text, palette.HEADER_BG) >= 4.5
    for colour in (*palette.SERIES, palette.RULE):
        assert palette.contrast_ratio(colour, palette.PAGE) >= 3.0  # graphics (WCAG 1.4.11)
    html = render(hand_made(), "html")
    for tone in palette.TONES.values():  # the colours tested are the colours used
        assert f"color: {tone.ink}; background: {tone.background}" in html


def test_charts_are_inline_svg_with_text_as_text_and_no_external_reference():
    html = render(hand_made(), "html")
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    assert "<text" in svg and "<image" not in svg and 'xlink:href="http' not in svg
    assert "@font-face" not in svg and "<!DOCTYPE" not in html[html.index("<svg") :]
    assert render(hand_made(), "html") == html, "the same document gives the same bytes"


# -- volume --------------------------------------------------------------------------------------


def test_a_bounded_list_says_how_many_were_held_back_in_every_format():
    document = hand_made(rows=20, total=1_000_000)
    note = "999,980 more not listed (20 of 1,000,000 shown)"
    assert note in " ".join(read_html(render(document, "html")).text)
    assert note in " ".join(read_html(markdown_as_html(render(document, "md"))).text)
    table = json.loads(render(document, "json"))["sections"][0]["blocks"][1]
    assert (table["total_rows"], table["held_back"], len(table["rows"])) == (1_000_000, 999_980, 20)


def test_check_items_are_bounded_with_their_total(home):
    document = build_ce_plus(home, START, T, now=T).document
    parsed = json.loads(render(document, "json"))
    tables = [
        block
        for section in _all_sections(parsed["sections"])
        for block in section["blocks"]
        if block["type"] == "table" and "without MFA" in block["caption"]
    ]
    assert tables and tables[0]["total_rows"] == 88 and len(tables[0]["rows"]) == 20
    assert tables[0]["held_back"] == 68 and tables[0]["note"].startswith("68 more not listed")


def _all_sections(sections):
    for section in sections:
        yield section
        yield from _all_sections(section["subsections"])


# -- the JSON and its schema ---------------------------------------------------------------------


def test_json_output_is_valid_against_the_schema_in_the_repository(home):
    validator = jsonschema.Draft202012Validator(report_schema(), format_checker=jsonschema.FormatChecker())
    validator.check_schema(report_schema())
    for document in (build_ce_plus(home, START, T, now=T).document, hand_made()):
        validator.validate(json.loads(render(document, "json")))
    broken = json.loads(render(hand_made(), "json"))
    broken["sections"][0]["blocks"][4]["kind"] = "passed-ish"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


cells = st.one_of(
    st.none(), st.text(max_size=20), st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def documents(draw) -> Document:
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.tuples(*[cells] * width), max_size=5))
    table = Table(draw(st.text(max_size=20)), tuple(draw(st.text(max_size=10)) for _ in range(width)), tuple(rows))
    kind = draw(st.sampled_from(list(CalloutKind)))
    blocks = (Paragraph(draw(st.text(max_size=40))), table, Callout(kind, draw(st.text(max_size=30))))
    return Document(draw(st.text(max_size=20)), draw(st.text(max_size=20)), START, T, T, (Section("s", blocks),))


@settings(max_examples=60, deadline=None)
@given(documents())
def test_property_every_document_gives_schema_valid_json_that_keeps_every_value(document):
    parsed = json.loads(render(document, "json"))
    jsonschema.Draft202012Validator(report_schema()).validate(parsed)
    table = document.sections[0].blocks[1]
    assert isinstance(table, Table)
    assert [tuple(row) for row in parsed["sections"][0]["blocks"][1]["rows"]] == list(table.rows)
    assert parsed["sections"][0]["blocks"][0]["text"] == document.sections[0].blocks[0].text  # type: ignore[union-attr]


# -- what the CE+ report says --------------------------------------------------------------------


def test_summary_counts_every_verdict_and_lists_automatic_fails_first(home):
    report = build_ce_plus(home, START, T, now=T)
    summary = report.document.sections[0]
    counts = dict(summary.blocks[0].rows)  # type: ignore[union-attr]
    assert sum(counts.values()) == len(report.judgements)
    assert set(counts) == {"fail", "not evidenced", "partial", "manual", "pass"}
    assert counts["fail"] == sum(1 for j in report.judgements if j.verdict.value == "fail")
    callout = summary.blocks[1]
    assert isinstance(callout, Callout) and callout.kind is CalloutKind.AUTOMATIC_FAIL
    assert "SU-05" in callout.text and "UA-07" in callout.text
    attention = summary.blocks[2]
    assert isinstance(attention, Table)
    verdicts = [row[1] for row in attention.rows]
    first_other = verdicts.index("fail")
    assert set(verdicts[:first_other]) == {"automatic fail"}
    assert "pass" not in verdicts


def test_attestations_are_shown_as_attestations_and_gaps_as_needing_one(home):
    attestations_file(home, by=f"Priya {EVIL}")
    report = build_ce_plus(home, START, T, now=T)
    sections = {s.anchor: s for _, s in report.document.walk()}
    scope = sections["req-SCP-01"]
    kinds = [b.kind for b in scope.blocks if isinstance(b, Callout)]
    assert kinds == [CalloutKind.MANUAL, CalloutKind.ATTESTATION]  # the verdict stays manual, never pass
    shown = next(b for b in scope.blocks if isinstance(b, Callout) and b.kind is CalloutKind.ATTESTATION)
    assert f"Priya {EVIL}" in shown.text and "scope.pdf" in shown.text and "SHA-256 " in shown.text
    # a partial requirement with no attestation: what telemetry cannot see needs one, never a pass
    manual = next(j for j in report.judgements if j.verdict.value == "manual" and j.attestation is None)
    blocks = sections[f"req-{manual.requirement.id}"].blocks
    first = blocks[0]
    assert isinstance(first, Callout) and first.kind is CalloutKind.MANUAL
    assert any(
        isinstance(b, Callout) and b.kind is CalloutKind.NEEDS_ATTESTATION and "must attest" in b.text for b in blocks
    )
    html = render(report.document, "html")
    assert_inert(html, "html with a hostile attester")


def test_not_evidenced_requirements_say_why_and_are_never_counted_as_passing(tmp_path):
    report = build_ce_plus(tmp_path / "empty", START, T, now=T)
    assert not any(j.verdict.value == "pass" for j in report.judgements)
    sections = {s.anchor: s for _, s in report.document.walk()}
    first = sections["req-UA-09"].blocks[0]
    assert isinstance(first, Callout) and first.kind is CalloutKind.NOT_EVIDENCED
    assert "no snapshot of graph.signins was taken at or before" in first.text
    trends = sections["trends"].blocks
    assert all(isinstance(b, Callout) and b.kind is CalloutKind.NOT_EVIDENCED for b in trends)


def test_trend_charts_follow_the_snapshot_series(home):
    store = SnapshotStore(home)
    earlier = registrations()
    for row in earlier[:300]:
        row["is_mfa_registered"] = False
    put(store, EvidenceSource.GRAPH_AUTHENTICATION_METHODS, earlier, taken_at=T - dt.timedelta(days=10))
    document = build_ce_plus(home, START, T, now=T).document
    chart = next(
        b for _, s in document.walk() for b in s.blocks if isinstance(b, Chart) and b.caption == "MFA registration"
    )
    values = [round(p.value, 2) for p in chart.series[0].points]
    # 1,504 records: 1,412 registered now, 1,112 ten days earlier (the older snapshot sorts first)
    assert values == [round(100 * 1112 / 1504, 2), round(100 * 1412 / 1504, 2)]
    assert chart.percent and "73.9% on" in chart.alt and "93.9% on" in chart.alt


# -- the evidence pack ---------------------------------------------------------------------------


def make_pack(home: Path, out: Path):
    attestations_file(home)
    report = build_ce_plus(home, START, T, now=T)
    written = write_report(report.document, out, list(FORMATS))
    return report, write_pack(out / "pack.zip", pack_files(report, written, out / "index.jsonl"))


def test_the_pack_holds_the_report_its_snapshots_and_attestations_and_verifies(home, tmp_path):
    report, receipt = make_pack(home, tmp_path / "out")
    with zipfile.ZipFile(receipt.path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"report/ce-plus.html", "report/ce-plus.md", "report/ce-plus.json"} <= names
    assert {"attestations/attestations.yaml", "attestations/evidence/scope.pdf", "evidence/snapshots.jsonl"} <= names
    parquet = {n for n in names if n.endswith(".parquet")}
    assert len(parquet) == len(report.evidence) >= 10
    assert len(manifest["files"]) == receipt.files == len(names) - 1
    verdict = verify_pack(receipt.path, receipt.manifest_sha256)
    assert verdict.ok and verdict.checked == receipt.files


def rewrite(pack: Path, change) -> None:
    with zipfile.ZipFile(pack) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(pack, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_verify_names_each_file_missing_changed_or_extra(home, tmp_path):
    _, receipt = make_pack(home, tmp_path / "out")

    def tamper(members: dict[str, bytes]) -> None:
        members["report/ce-plus.md"] = members["report/ce-plus.md"].replace(b"automatic fail", b"pass")
        del members["attestations/evidence/scope.pdf"]
        members["report/extra.txt"] = b"slipped in"

    rewrite(receipt.path, tamper)
    verdict = verify_pack(receipt.path)
    assert not verdict.ok
    assert verdict.changed == ("report/ce-plus.md",)
    assert verdict.missing == ("attestations/evidence/scope.pdf",)
    assert verdict.extra == ("report/extra.txt",)
    assert verdict.lines() == [
        "missing: attestations/evidence/scope.pdf is in the manifest but not in the pack",
        "changed: report/ce-plus.md does not match its SHA-256 in the manifest",
        "extra: report/extra.txt is in the pack but not in the manifest",
    ]


def test_a_rewritten_manifest_is_caught_by_the_hash_kept_elsewhere(home, tmp_path):
    _, receipt = make_pack(home, tmp_path / "out")

    def forge(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        manifest["files"] = [f for f in manifest["files"] if f["path"] != "report/ce-plus.md"]
        del members["report/ce-plus.md"]
        members["manifest.json"] = json.dumps(manifest).encode()

    rewrite(receipt.path, forge)
    assert verify_pack(receipt.path).ok  # consistent with itself...
    verdict = verify_pack(receipt.path, receipt.manifest_sha256)
    assert not verdict.ok and verdict.problems[0].startswith("manifest: its SHA-256 is ")


def test_a_name_slipped_in_twice_is_named(home, tmp_path):
    _, receipt = make_pack(home, tmp_path / "out")
    with zipfile.ZipFile(receipt.path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("report/ce-plus.md", b"# All requirements pass")
    verdict = verify_pack(receipt.path)
    assert not verdict.ok and verdict.problems == ("doubled: report/ce-plus.md is in the pack more than once",)


def test_a_file_that_is_not_a_pack_is_refused_with_the_reason(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(PackError, match="junk.zip: not a zip file"):
        verify_pack(junk)
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("a.txt", "a")
    with pytest.raises(PackError, match="has no manifest.json; it is not a Cyberwell evidence pack"):
        verify_pack(bare)
    with pytest.raises(PackError, match="'../x' : expected a relative path|expected a relative path without"):
        write_pack(tmp_path / "p.zip", [PackFile(junk, "../x")])


def test_document_model_refuses_a_row_of_the_wrong_width():
    with pytest.raises(ValueError, match="table 'T': row 2 has 1 cells; expected 2"):
        Table("T", ("a", "b"), (("1", "2"), ("3",)))
    assert dataclasses.is_dataclass(Document)


def test_every_block_kind_has_a_writer_in_every_format():
    from typing import get_args

    from reports.document import Block
    from reports.rendering import html, json_output, markdown

    kinds = set(get_args(Block))
    assert set(html.BLOCK_KINDS) == kinds
    assert set(markdown._BLOCKS) == kinds and set(json_output._BLOCKS) == kinds
    schema_kinds = {ref["$ref"].rsplit("/", 1)[1] for ref in report_schema()["$defs"]["block"]["oneOf"]}
    assert schema_kinds == {json_output._BLOCKS[kind](_sample(kind))["type"] for kind in kinds}


def _sample(kind: type) -> object:
    document = hand_made()
    return next(block for block in document.sections[0].blocks if isinstance(block, kind))
