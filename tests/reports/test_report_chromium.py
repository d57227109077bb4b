"""The CE+ report's HTML opened in a real browser: Debian's headless Chromium renders it, prints
it to PDF on A4, and its console stays silent.

Chromium is not optional here: CI installs it (``.ci/run``), so when it is missing the test
fails naming the package to install rather than skipping and passing quietly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from reports.ce_plus_run import build_ce_plus
from reports.rendering import write_report
from tests.reports.test_ce_checks import T
from tests.reports.test_report_rendering import START, hostile_estate

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)
#: Chromium's log line for a page's console message (an error, a warning, a refused load).
CONSOLE = re.compile(r":CONSOLE[:(]")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(
            "headless Chromium is needed at /usr/bin/chromium: install Debian's package "
            "(sudo apt-get install chromium); .ci/run installs it in CI",
            pytrace=False,
        )
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture
def report_html(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    hostile_estate(home)
    document = build_ce_plus(home, START, T, now=T).document
    return write_report(document, tmp_path / "out", ["html"])[0]


def test_the_report_renders_with_content_and_a_silent_console(report_html, tmp_path):
    run = chromium(tmp_path, "--dump-dom", report_html.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "Cyber Essentials Plus readiness" in dom and dom.count("<table") > 10 and "<svg" in dom
    assert "<script" not in dom  # the hostile names stayed text in the live DOM
    assert "User 1412 &lt;script&gt;" in dom
    assert console_messages(run.stderr) == []


def test_the_page_is_not_blank_on_screen(report_html, tmp_path):
    shot = tmp_path / "shot.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", report_html.as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("L")
    dark = sum(count for level, count in enumerate(image.histogram()) if level < 128)
    assert dark > 0.005 * image.width * image.height, "the page is blank"
    assert console_messages(run.stderr) == []


def test_it_prints_on_a4(report_html, tmp_path):
    pdf = tmp_path / "report.pdf"
    run = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", report_html.as_uri())
    assert run.returncode == 0 and pdf.exists(), run.stderr[-2000:]
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    assert len(boxes) > 3  # a report of many pages
    for width, height in boxes:  # A4 is 595 x 842 points (210 x 297 mm)
        assert abs(float(width) - 595.3) < 1.5 and abs(float(height) - 841.9) < 1.5


def test_the_console_check_would_see_an_error(tmp_path):
    """The detector itself: a page that logs an error and breaks its own policy is caught."""
    page = tmp_path / "bad.html"
    # (no alert(): a dialog would hold headless Chromium open)
    page.write_text("<!DOCTYPE html><title>x</title><p>x</p><script>undefinedFn()</script>", encoding="utf-8")
    run = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert any("undefinedFn is not defined" in line for line in console_messages(run.stderr))
    assert shutil.which(str(CHROMIUM))


def test_without_chromium_the_test_fails_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match=r"install Debian's package \(sudo apt-get install chromium\)"):
        chromium(tmp_path, "--version")
