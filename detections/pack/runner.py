"""The rule pack's own tests: every shipped rule has events that must raise it and near misses
that must not, and ``cyberwell rules test`` runs them on a store the caller provides.

Where a rule file's test events are (the first that exists):

* ``<the rule's folder>/tests/<stem>.yaml``: Cyberwell's own rules, and a person's;
* ``rules/tests/<rule folder's name>/<path inside the rule folder>.yaml``: for rule folders that
  must stay as they are (the vendored SigmaHQ subset is a byte copy of upstream, so its test
  events cannot sit beside it).

The format (see any file in ``rules/cyberwell/tests``)::

    rule: <id, name or title of the rule the file is about>
    mode: each | together
    match: [<event>, ...]      # each: every event raises `rule` on its own
                               # together: these events, run together, raise `rule`
    groups: [{field: value}]   # together: once per entry, with these group keys
    no_match: [<event>, ...]   # run together, they raise nothing at all
    base:                      # correlation files: per base rule, events that match it or not
      <base rule>: {match: [...], no_match: [...]}

An event is one stored row: column -> value, with the column names of docs/events.md; times
are ISO 8601 text and objects or lists are stored as their JSON text, as the parsers store them.

Each section runs in a fresh, empty store from the caller's factory, through the same
``run_detections`` as ``cyberwell detect`` (shipped exceptions included), so a test that passes
here is what a person would see on that store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from detections.engine import DetectionReport, run_detections
from detections.loader import RULE_SUFFIXES, SKIPPED_FOLDERS, RuleSet, load_rules
from detections.pack.events import TestEventsError, event_tables

#: Test events of rule folders that cannot hold them (``rules/tests/<folder name>/...``).
SHIPPED_TESTS = Path(__file__).resolve().parents[2] / "rules" / "tests"
TESTS_FOLDER = "tests"
_MODES = ("each", "together")


class StoreFactory(Protocol):
    """Fresh, empty event stores for one run of the pack, all removed by ``close``."""

    #: What the results call this store ("embedded", "elasticsearch").
    name: str

    def open(self, label: str) -> Any:
        """A new empty store; ``label`` names it in what is left behind on a failure."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RuleTestResult:
    """One rule file's test events on one store: passed, or every way it failed."""

    rule_file: str
    rule: str  # the rule the file is about, as its test events name it
    store: str
    failures: tuple[str, ...] = ()
    events_file: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_file": self.rule_file,
            "rule": self.rule,
            "store": self.store,
            "passed": self.passed,
            "failures": list(self.failures),
            "events_file": self.events_file,
        }


@dataclass(frozen=True)
class RuleTestReport:
    results: tuple[RuleTestResult, ...]
    #: RULE arguments that named no rule file: a typo must not pass as "nothing failed".
    unknown: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return bool(self.results) and not self.unknown and all(result.passed for result in self.results)

    def to_dict(self) -> dict[str, object]:
        """As ``cyberwell rules test --json`` prints it."""
        return {
            "passed": self.passed,
            "results": [result.to_dict() for result in self.results],
            "unknown": list(self.unknown),
        }


@dataclass(frozen=True)
class PackCase:
    rule_file: Path
    #: Where its test events may be, in order; the first that exists is used, none fails it.
    places: tuple[Path, ...]
    names: frozenset[str] = field(default_factory=frozenset)  # ids, names and titles in the file

    @property
    def events_file(self) -> Path | None:
        return next((place for place in self.places if place.is_file()), None)


def event_places(rule_file: Path, rule_dir: Path) -> tuple[Path, ...]:
    """Where the rule file's test events may be: beside it, then under ``rules/tests``."""
    beside = rule_file.parent / TESTS_FOLDER / f"{rule_file.stem}.yaml"
    if not rule_dir.is_dir():
        return (beside,)
    return beside, SHIPPED_TESTS / rule_dir.name / rule_file.relative_to(rule_dir).with_suffix(".yaml")


def pack_cases(rule_dirs: Sequence[Path]) -> list[PackCase]:
    """Every rule file under the folders, with the places its test events may be."""
    return [
        PackCase(rule_file, event_places(rule_file, rule_dir), _names_in(rule_file))
        for rule_dir in map(Path, rule_dirs)
        for rule_file in rule_files(rule_dir)
    ]


def rule_files(rule_dir: Path) -> list[Path]:
    """The rule files ``load_rules`` reads from ``rule_dir`` (a folder, or one file)."""
    if rule_dir.is_file():
        return [rule_dir]
    return [
        path
        for path in sorted(rule_dir.rglob("*"))
        if path.suffix in RULE_SUFFIXES
        and path.is_file()
        and not any(part in SKIPPED_FOLDERS for part in path.relative_to(rule_dir).parts[:-1])
    ]


def _names_in(rule_file: Path) -> frozenset[str]:
    """What a person may call the rules of a file on the command line: ids, names, titles, the
    file's stem."""
    names = {rule_file.stem, rule_file.name, str(rule_file)}
    try:
        documents = list(yaml.safe_load_all(rule_file.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError):
        return frozenset(names)
    for document in documents:
        if isinstance(document, dict):
            names.update(str(document[key]) for key in ("id", "name", "title") if document.get(key) is not None)
    return frozenset(names)


def select(cases: Sequence[PackCase], wanted: Sequence[str]) -> tuple[list[PackCase], list[str]]:
    """The cases named by ``wanted`` (all when empty), and the names that matched none."""
    if not wanted:
        return list(cases), []
    chosen = [case for case in cases if case.names & set(wanted)]
    unknown = [name for name in wanted if not any(name in case.names for case in cases)]
    return chosen, unknown


def run_rule_tests(
    rule_dirs: Sequence[Path], factories: Iterable[StoreFactory], wanted: Sequence[str] = ()
) -> RuleTestReport:
    """Every selected rule file's test events, on each factory's stores (closed afterwards)."""
    cases, unknown = select(pack_cases(rule_dirs), wanted)
    results: list[RuleTestResult] = []
    for factory in factories:
        try:
            results += [check_case(case, factory) for case in cases]
        finally:
            factory.close()
    return RuleTestReport(tuple(results), tuple(unknown))


def check_case(case: PackCase, factory: StoreFactory) -> RuleTestResult:
    """One rule file's test events on ``factory``'s stores."""
    events_file = case.events_file
    if events_file is None:
        looked = " or ".join(str(place) for place in case.places)
        return RuleTestResult(str(case.rule_file), "", factory.name, (f"no test events (looked for {looked})",))
    try:
        spec = _spec(events_file)
        failures = list(_Checker(case.rule_file, spec, factory).failures())
    except TestEventsError as error:
        return RuleTestResult(str(case.rule_file), "", factory.name, (str(error),), str(events_file))
    return RuleTestResult(str(case.rule_file), str(spec["rule"]), factory.name, tuple(failures), str(events_file))


def _spec(path: Path) -> dict[str, Any]:
    """The test events file, checked for the keys every file needs."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TestEventsError(f"{path}: cannot be read: {' '.join(str(error).split())}") from None
    if not isinstance(spec, dict):
        raise TestEventsError(f"{path}: expected a mapping with rule, mode, match and no_match")
    missing = [key for key in ("rule", "mode", "match", "no_match") if key not in spec]
    if missing:
        raise TestEventsError(f"{path}: missing {', '.join(missing)}")
    if spec["mode"] not in _MODES:
        raise TestEventsError(f"{path}: mode must be one of {', '.join(_MODES)}, got {spec['mode']!r}")
    if not spec["match"] or not spec["no_match"]:
        raise TestEventsError(f"{path}: needs at least one match event and one no_match event")
    return spec


class _Checker:
    """The checks of one test events file; each failure is a sentence a person can act on."""

    def __init__(self, rule_file: Path, spec: dict[str, Any], factory: StoreFactory):
        self.rule_file, self.spec, self.factory = rule_file, spec, factory
        self.ruleset: RuleSet = load_rules([rule_file])
        self.runs = 0

    def failures(self) -> Iterator[str]:
        yield from (f"does not load: {problem.reason}" for problem in self.ruleset.problems)
        key = self._key(self.spec["rule"])
        if key is None:
            yield f"no rule {self.spec['rule']!r} in {self.rule_file.name}"
            return
        yield from self._match(key)
        yield from self._no_match()
        for name, sections in (self.spec.get("base") or {}).items():
            yield from self._base(name, sections)

    def _key(self, reference: str) -> str | None:
        for loaded in (*self.ruleset.detections, *self.ruleset.correlations):
            if reference in (loaded.key, loaded.rule.name, loaded.title):
                return loaded.key
        return None

    def _run(self, events: list[dict[str, Any]], what: str) -> DetectionReport:
        self.runs += 1
        store = self.factory.open(f"{self.rule_file.stem}-{self.runs}")
        tables = event_tables(events, what)
        for table in tables:
            store.append(table)
        times = [time for table in tables for time in table.column("@timestamp").to_pylist()]
        # The window ends a day after the last event: the events are all there will be.
        return run_detections(store, [self.rule_file], min(times), max(times) + timedelta(days=1))

    def _match(self, key: str) -> Iterator[str]:
        if self.spec["mode"] == "each":
            yield from self._each(key)
            return
        report = self._run(self.spec["match"], "match events")
        yield from _failed_rules(report)
        raised = sorted(_items(alert.group_keys) for alert in _alerts_of(report, key))
        wanted = sorted(_items(group) for group in self.spec.get("groups") or [])
        if not wanted and raised:
            return
        if raised != wanted:
            yield f"match events raised {self.spec['rule']} for {_groups_text(raised)}, expected {_groups_text(wanted)}"

    def _each(self, key: str) -> Iterator[str]:
        """Every match event raises the rule on its own. A rule of single events judges each
        event alone whatever else is stored, so they run together first (one store instead of
        one per event: an Elasticsearch index each costs a second); every event in the rule's
        alerts passes them all. Otherwise, and to name the events that fail, one run each."""
        events = self.spec["match"]
        if not self.ruleset.correlations:
            report = self._run(events, "match events")
            if not report.failed and sum(alert.event_count for alert in _alerts_of(report, key)) == len(events):
                return
        for index, event in enumerate(events):
            report = self._run([event], f"match event {index}")
            yield from _failed_rules(report)
            if not _alerts_of(report, key):
                yield f"match event {index} did not raise {self.spec['rule']}{_matched_note(report, key)}"

    def _no_match(self) -> Iterator[str]:
        report = self._run(self.spec["no_match"], "no_match events")
        yield from _failed_rules(report)
        for alert in report.alerts:
            yield f"no_match events raised {alert.rule_title} for {_groups_text([_items(alert.group_keys)])}"

    def _base(self, name: str, sections: dict[str, Any]) -> Iterator[str]:
        key = self._key(name)
        if key is None:
            yield f"base: no rule {name!r} in {self.rule_file.name}"
            return
        for section in ("match", "no_match"):
            events = sections.get(section) or []
            if not events:
                yield f"base {name}: no {section} events"
                continue
            report = self._run(events, f"base {name} {section} events")
            result = next((result for result in report.rules if result.rule_id == key), None)
            wanted = len(events) if section == "match" else 0
            if result is None or result.status != "succeeded":
                yield f"base {name}: did not run ({result.error if result else 'not in the run'})"
            elif result.matched != wanted:
                yield f"base {name}: {section} events matched {result.matched} of {len(events)}, expected {wanted}"


def _alerts_of(report: DetectionReport, key: str) -> list:
    return [alert for alert in report.alerts if alert.rule_id == key]


def _failed_rules(report: DetectionReport) -> Iterator[str]:
    for result in report.failed:
        yield f"{result.title} failed: {result.error}"


def _matched_note(report: DetectionReport, key: str) -> str:
    """Why not, as far as the run says: excepted, or not matched at all."""
    for result in report.rules:
        if result.rule_id == key and result.excepted:
            return f" (an exception took out {result.excepted} event(s))"
    return " (the rule did not match it)"


def _items(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, str(value)) for name, value in mapping.items()))


def _groups_text(groups: Sequence[tuple[tuple[str, str], ...]]) -> str:
    if not groups:
        return "nothing"
    return "; ".join(", ".join(f"{name}={value}" for name, value in group) or "(no group keys)" for group in groups)
