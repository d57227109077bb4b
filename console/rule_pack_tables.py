"""``cyberwell rules test`` and ``rules check`` as tables: what passed, and for what failed, why.

Every value here comes from rule files and test events a person may have written, so it goes
through ``render.table`` and ``render.text`` (visible controls, never markup), as log values do.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.text import Text

from console import render
from detections.pack.checks import RuleCheckReport
from detections.pack.runner import RuleTestReport


def rule_test_report(report: RuleTestReport) -> list[RenderableType]:
    rows = [
        (
            Path(result.rule_file).name,
            result.rule,
            result.store,
            "pass" if result.passed else "FAIL",
            "\n".join(result.failures),
        )
        for result in report.results
    ]
    shown: list[RenderableType] = [render.table("Rule test events", ["file", "rule", "store", "result", "why"], rows)]
    if report.unknown:
        shown.append(render.text(f"No rule file is called {', '.join(report.unknown)}.", style="red"))
    failed = sum(not result.passed for result in report.results)
    stores = ", ".join(dict.fromkeys(result.store for result in report.results)) or "no store"
    verdict = f"{failed} of {len(report.results)} failed" if failed else f"all {len(report.results)} passed"
    shown.append(Text(f"{verdict} ({stores})."))
    return shown


def rule_check_report(report: RuleCheckReport) -> list[RenderableType]:
    shown: list[RenderableType] = []
    if report.counted:
        shown.append(
            render.table(
                "Rule issues",
                ["validator", "rule", "severity", "issue", "detail", "file"],
                [
                    (
                        issue.validator,
                        issue.title or issue.rule,
                        issue.severity,
                        issue.description,
                        issue.detail,
                        issue.path,
                    )
                    for issue in report.counted
                ],
            )
        )
    quieted = [issue for issue in report.issues if issue.quieted is not None]
    if quieted:
        shown.append(
            render.table(
                "Quieted on vendored rules",
                ["validator", "rule", "detail", "why quieted"],
                [(issue.validator, issue.title or issue.rule, issue.detail, issue.quieted) for issue in quieted],
            )
        )
    if report.not_run:
        shown.append(render.table("Validators not run", ["validator", "why"], sorted(report.not_run.items())))
    verdict = f"{len(report.counted)} issue(s)" if report.counted else "no issues"
    shown.append(Text(f"{report.rules} rules checked: {verdict}."))
    return shown
