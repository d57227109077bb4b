"""The overview's Cyber Essentials panel, from the record ``reports.latest`` keeps of the newest
CE+ report: a real report judged over a real (hostile) estate's evidence snapshots, recorded as
``cyberwell report ce-plus`` records it, and the dashboard run under Textual's Pilot."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.dashboard.app import DashboardApp
from console.dashboard.context import DashboardContext
from reports.ce_plus_run import build_ce_plus
from reports.latest import LATEST_FILE, LatestReport, LatestUnreadable, read_latest, record_latest
from reports.rendering.formats import write_report
from store import EmbeddedStore
from tests.dashboard.test_dashboard_home import NOW, fill_home
from tests.dashboard.test_dashboard_pilot import settle, shown
from tests.reports.test_ce_checks import T
from tests.reports.test_report_rendering import attestations_file, hostile_estate

pytestmark = pytest.mark.anyio
START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path):
    hostile_estate(tmp_path / "home")
    attestations_file(tmp_path / "home")
    store = EmbeddedStore(tmp_path / "home")
    fill_home(store)
    yield tmp_path / "home", store
    store.close()


def make_app(home: Path, store: EmbeddedStore) -> DashboardApp:
    ctx = DashboardContext(
        store=store,
        actor="alice",
        exceptions_folder=home / "exceptions",
        clock=lambda: NOW,
        notes={},
        compliance=lambda: read_latest(home),
    )
    return DashboardApp(ctx, refresh_seconds=60)


async def test_the_overview_shows_the_latest_reports_verdicts_and_automatic_fails(home):
    folder, store = home
    report = build_ce_plus(folder, START, T, now=T)
    record_latest(folder, report, write_report(report.document, folder / "reports", ["md", "json"]))
    counts = Counter(judgement.verdict.value for judgement in report.judgements)
    fails = [j.requirement.id for j in report.judgements if j.fails_assessment]
    assert counts["fail"] and len(fails) > 3  # the estate fails, so the panel has something to bound

    app = make_app(folder, store)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        panel = shown(app, "#panel-compliance")
    assert "report of 2026-12-01 09:00 UTC, 2026-11-01 to 2026-12-01" in panel
    for verdict in ("pass", "partial", "fail", "manual", "not evidenced"):
        assert f"{counts[verdict]} {verdict}" in panel  # a word beside every count, not colour alone
    assert f"✖ {len(fails)} automatic fails: the assessment fails" in panel
    assert all(fail in panel for fail in fails[:3]) and fails[3] not in panel
    assert f"… and {len(fails) - 3} more (in the report)" in panel
    assert "No Cyber Essentials report yet." not in panel


async def test_a_corrupt_record_is_said_to_be_unusable_and_the_overview_still_works(home):
    folder, store = home
    path = folder / LATEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"kind": "cyberwell.ce-plus-latest", "version": 1, "verdicts": {"pass": [bold red]', "utf-8")

    app = make_app(folder, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        panel = shown(app, "#panel-compliance")
        assert "3 open of 3" in shown(app, "#panel-open")
    assert "⚠ The latest report's record cannot be used:" in panel
    assert "ce-plus-latest.json is not JSON" in panel and "No Cyber Essentials report yet." not in panel


def test_read_latest_tells_no_report_from_a_record_of_another_shape(tmp_path):
    assert read_latest(tmp_path) is None
    (tmp_path / LATEST_FILE).parent.mkdir(parents=True)
    (tmp_path / LATEST_FILE).write_text('{"kind": "cyberwell.ce-plus-latest", "version": 1, "verdicts": {}}')
    unreadable = read_latest(tmp_path)
    assert isinstance(unreadable, LatestUnreadable) and "KeyError" in unreadable.reason
    (tmp_path / LATEST_FILE).write_text('{"kind": "something else", "version": 1}')
    unreadable = read_latest(tmp_path)
    assert isinstance(unreadable, LatestUnreadable) and "expected kind 'cyberwell.ce-plus-latest'" in unreadable.reason


def test_the_demo_records_the_ce_plus_report_it_writes(tmp_path):
    from console.demo import write_demo_reports

    written = write_demo_reports(tmp_path / "home", 7, datetime(2026, 11, 20, 12, tzinfo=UTC))
    latest = read_latest(tmp_path / "home")
    assert isinstance(latest, LatestReport)
    assert dict(latest.verdicts) == written.verdicts
    assert tuple(fail.id for fail in latest.automatic_fails) == written.automatic_fails
    assert latest.folder == str(written.folder.resolve()) and "ce-plus.html" in latest.files
