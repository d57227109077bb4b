"""``cyberwell rules check``: pySigma's validators over every rule folder in use, plus the one
thing Cyberwell asks of its own rules that Sigma does not (a "what to do" note).

Every validator of the installed pySigma (``sigma.validators.core``) runs on every rule; each
issue names the rule, its file and the validator. Two kinds of finding are set apart, never
hidden:

* **Not run.** The ATT&CK and D3FEND tag validators need MITRE's data, which pySigma downloads on
  first use; offline it cannot, and the validator is reported as not run with pySigma's reason
  (``--attack-data FILE`` gives it a local ``enterprise-attack.json``). One validator failing
  never stops the others.
* **Quieted for vendored rules** (``VENDORED_NOISE``). The SigmaHQ subset is a byte copy of one
  upstream commit, checked by SigmaHQ's own CI with these same validators. What can still fire on
  it is the ATT&CK (or D3FEND) catalogue moving on after that commit — a technique revoked, a
  tactic renamed (``attack.stealth`` is newer than some data sets) — and the fix for that is a
  newer vendored commit, not an edit to the copy. Those issues are listed as quieted, with the
  reason, and do not fail the check. Everything else on a vendored rule is reported like any
  other issue: a broken condition or a duplicate id is real wherever the rule came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.data import mitre_attack
from sigma.rule import SigmaRule
from sigma.validators.base import SigmaRuleValidator, SigmaValidationIssue, SigmaValidationIssueSeverity
from sigma.validators.core import validators as CORE_VALIDATORS

from detections.loader import CUSTOM_KEY
from detections.pack.runner import rule_files

AnyRule = SigmaRule | SigmaCorrelationRule

#: The vendored SigmaHQ subset (rules/sigmahq/README.md): a byte copy of upstream.
VENDORED = Path(__file__).resolve().parents[2] / "rules" / "sigmahq"
_TAG_DATA_MOVES = (
    "judged against MITRE's newest catalogue, while the vendored copy is pinned at one SigmaHQ "
    "commit: update the vendored commit, never the copy"
)
#: Validators whose issues on vendored rules are quieted, and why (module docstring).
VENDORED_NOISE = {"attacktag": _TAG_DATA_MOVES, "d3_fendtag": _TAG_DATA_MOVES}
#: Cyberwell's own note for the person handling an alert: ``cyberwell: {what-to-do: ...}``.
WHAT_TO_DO = "what-to-do"


def what_to_do(rule: AnyRule) -> str | None:
    """The rule's note for the person handling its alert (``cyberwell: {what-to-do: ...}``),
    as one line; None when it has none. ``rules list`` and alerts show it."""
    settings = rule.custom_attributes.get(CUSTOM_KEY)
    note = settings.get(WHAT_TO_DO) if isinstance(settings, dict) else None
    if not isinstance(note, str):
        return None
    return " ".join(note.split()) or None


@dataclass(frozen=True)
class RuleIssue:
    validator: str
    rule: str  # id, else title
    title: str
    path: str
    severity: str
    description: str
    detail: str
    quieted: str | None = None  # why it does not count (vendored noise), or None

    def to_dict(self) -> dict[str, object]:
        return {
            "validator": self.validator,
            "rule": self.rule,
            "title": self.title,
            "path": self.path,
            "severity": self.severity,
            "description": self.description,
            "detail": self.detail,
            "quieted": self.quieted,
        }


@dataclass(frozen=True)
class RuleCheckReport:
    rules: int
    issues: tuple[RuleIssue, ...]
    #: validator -> why it could not run (its data could not be loaded)
    not_run: dict[str, str]

    @property
    def counted(self) -> tuple[RuleIssue, ...]:
        return tuple(issue for issue in self.issues if issue.quieted is None)

    @property
    def passed(self) -> bool:
        return not self.counted

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell rules check --json`` prints it."""
        return {
            "passed": self.passed,
            "rules": self.rules,
            "issues": [issue.to_dict() for issue in self.counted],
            "quieted": [issue.to_dict() for issue in self.issues if issue.quieted is not None],
            "not_run": self.not_run,
        }


@dataclass
class MissingWhatToDoIssue(SigmaValidationIssue):
    description: ClassVar[str] = f"Cyberwell rule without a '{CUSTOM_KEY}: {WHAT_TO_DO}' note, ATT&CK tag or level"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.MEDIUM
    missing: str


class CyberwellMetadataValidator(SigmaRuleValidator):
    """A rule a person will be alerted by says what it is about (ATT&CK), how bad (level) and
    what to do first; the vendored rules are upstream's and exempt."""

    def validate(self, rule: AnyRule) -> list[SigmaValidationIssue]:
        if rule.source is not None and _is_vendored(Path(str(rule.source.path))):
            return []
        missing = []
        if not any(tag.namespace == "attack" for tag in rule.tags):
            missing.append("an attack.* tag")
        if rule.level is None:
            missing.append("a level")
        if what_to_do(rule) is None:
            missing.append(f"{CUSTOM_KEY}: {WHAT_TO_DO}")
        return [MissingWhatToDoIssue([rule], ", ".join(missing))] if missing else []


def check_rules(rule_dirs: Sequence[Path], attack_data: Path | None = None) -> RuleCheckReport:
    """Every validator over every rule file under ``rule_dirs``."""
    files = [path for rule_dir in rule_dirs for path in rule_files(Path(rule_dir))]
    collection = SigmaCollection.load_ruleset([str(path) for path in files], collect_errors=True)
    rules = list(collection.rules)
    issues = [issue for rule in rules for issue in _parse_issues(rule)]
    not_run: dict[str, str] = {}
    named: dict[str, type[SigmaRuleValidator]] = {**CORE_VALIDATORS, "cyberwell_metadata": CyberwellMetadataValidator}
    with _attack_data(attack_data):
        for name, validator_class in sorted(named.items()):
            try:
                issues += [_issue(name, found) for found in _validate(validator_class(), rules)]
            except RuntimeError as error:  # pySigma's "Failed to load MITRE ... data: ..."
                not_run[name] = " ".join(str(error).split())
    return RuleCheckReport(len(rules), tuple(issues), not_run)


def _validate(validator: SigmaRuleValidator, rules: Sequence[AnyRule]) -> list[SigmaValidationIssue]:
    found = [issue for rule in rules for issue in validator.validate(rule)]
    return found + validator.finalize()


def _parse_issues(rule: AnyRule) -> Iterator[RuleIssue]:
    """pySigma's own parse errors, as issues of a validator called ``parse``."""
    for error in rule.errors:
        yield RuleIssue("parse", _name(rule), rule.title or "", _path(rule), "high", "rule does not parse", str(error))


def _issue(validator: str, issue: SigmaValidationIssue) -> RuleIssue:
    rule = issue.rules[0] if issue.rules else None
    path = _path(rule) if rule is not None else ""
    detail = ", ".join(f"{item.name}: {getattr(issue, item.name)}" for item in fields(issue) if item.name != "rules")
    if len(issue.rules) > 1:
        detail = "; ".join(filter(None, [detail, "also " + ", ".join(_path(other) for other in issue.rules[1:])]))
    quieted = VENDORED_NOISE.get(validator) if path and _is_vendored(Path(path)) else None
    return RuleIssue(
        validator,
        _name(rule) if rule is not None else "",
        (rule.title or "") if rule is not None else "",
        path,
        issue.severity.name.lower(),
        issue.description,
        detail,
        quieted,
    )


def _name(rule: AnyRule) -> str:
    return str(rule.id) if rule.id is not None else (rule.title or "")


def _path(rule: AnyRule) -> str:
    return str(rule.source.path) if rule.source is not None and rule.source.path is not None else ""


def _is_vendored(path: Path) -> bool:
    return path.resolve().is_relative_to(VENDORED)


@contextmanager
def _attack_data(path: Path | None) -> Iterator[None]:
    """pySigma reads ATT&CK from ``path`` for the check, and from its usual source afterwards;
    the file's data is cached in a folder of its own, so the person's pySigma cache of the real
    catalogue is neither replaced nor cleared."""
    if path is None:
        yield
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cyberwell-attack-") as cache:
        mitre_attack.set_cache_dir(cache)
        mitre_attack.set_url(str(path))
        try:
            yield
        finally:
            mitre_attack.set_url(mitre_attack.MITRE_ATTACK_ENTERPRISE_URL)
            mitre_attack.set_cache_dir(str(mitre_attack._DEFAULT_CACHE_DIR))
