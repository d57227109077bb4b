"""Load Sigma rule files, compile them once, and report every rule that cannot run — by name.

One broken file, one legacy ``| count()`` rule or one correlation pySigma rejects must not stop
the rest of the rule set: each becomes a ``RuleProblem`` (rule title and id, or the file name when
the file cannot be parsed at all) and everything else is returned ready to run.

Base rules of correlations follow the Sigma correlation specification and pySigma: a rule
referenced by a correlation does not raise alerts of its own unless the correlation says
``generate: true`` (pySigma turns the rule's output off; ``DetectionRule.generates`` mirrors it).
A correlation that cannot run is not there to stand in for its base rules, so they raise their
own alerts and its problem says so ("its base rules 'A', 'B' run on their own") — unless it says
``generate: false`` in so many words: then its author wanted them quiet whatever happens.

A correlation names fields as its base rules do (``group-by: [IPAddress]`` over Log Analytics
sign-ins): each name goes through the base rule's pipeline (``rules.pipelines.stored_field``) to
the stored column, so it means what it means in the rule; one that maps to nothing is a problem
naming the rule and the field. Its condition is read from the file as written (a range such as
``gte: 10, lte: 20``, a fraction such as ``gte: 2.5``), which pySigma 1.5.1 refuses or truncates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition, SigmaRuleReference
from sigma.exceptions import SigmaConditionError, SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from detections.alerts import DEFAULT_SEVERITY, DEFAULT_VOLUME, AlertVolume, alert_volume, entity_fields
from detections.correlate import Correlation, UnsupportedCorrelation, from_sigma
from detections.exceptions import EXCEPTIONS_FOLDER, SHIPPED_EXCEPTIONS, RuleException, load_exceptions
from detections.problems import RuleProblem
from rules.pipelines import UnknownField, stored_field
from store.schema import DATASET_COLUMNS, OPEN_NAMESPACES

RULE_SUFFIXES = (".yml", ".yaml")
#: Folders holding test events beside the rules, not rules.
SKIPPED_FOLDERS = ("tests", EXCEPTIONS_FOLDER)
#: Rule attribute with Cyberwell's own settings (pySigma keeps unknown keys as custom attributes).
CUSTOM_KEY = "cyberwell"
#: Where a correlation's condition as written is kept (a custom attribute) while pySigma, which
#: refuses ranges and truncates fractions, is given a stand-in (``_with_written_condition``).
WRITTEN_CONDITION = "cyberwell-written-condition"


@dataclass
class _Loaded:
    """What every loaded rule has: its key (the alert rule id), its pySigma object and file."""

    key: str
    rule: Any
    path: Path
    volume: AlertVolume = field(default_factory=AlertVolume, kw_only=True)  # suppression and cap

    @property
    def title(self) -> str:
        return self.rule.title

    @property
    def severity(self) -> str:
        return self.rule.level.name.lower() if self.rule.level is not None else DEFAULT_SEVERITY

    @property
    def tags(self) -> list[str]:
        """ATT&CK tags (``attack.t1110.003``, ``attack.credential-access``)."""
        return [str(tag) for tag in self.rule.tags if tag.namespace == "attack"]

    @property
    def generates(self) -> bool:
        """False when a correlation uses this rule without ``generate: true``."""
        return bool(self.rule._output)


@dataclass
class DetectionRule(_Loaded):
    compiled: Any = None  # detections.backends.compile.CompiledQuery (or another store's equivalent)
    entity: tuple[str, ...] = ()  # group keys of its own alerts


@dataclass
class CorrelationRule(_Loaded):
    correlation: Correlation


@dataclass(frozen=True)
class _Unrun:
    """A correlation that cannot run: its problem, the rules it names, and whether it says
    ``generate: false`` in so many words (then its base rules stay quiet)."""

    problem: RuleProblem
    references: tuple[str, ...]
    silent: bool

    @classmethod
    def written(cls, problem: RuleProblem, correlation: dict[str, Any]) -> _Unrun:
        """From the ``correlation:`` mapping as the file has it (pySigma may have refused it)."""
        references = correlation.get("rules")
        names = [references] if isinstance(references, str) else references if isinstance(references, list) else []
        return cls(problem, tuple(map(str, names)), correlation.get("generate") is False)


@dataclass
class RuleSet:
    detections: list[DetectionRule] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    exceptions: list[RuleException] = field(default_factory=list)  # in force (expired ones are problems)

    def get(self, key: str) -> DetectionRule | CorrelationRule | None:
        rules: list[DetectionRule | CorrelationRule] = [*self.detections, *self.correlations]
        for loaded in rules:
            if loaded.key == key:
                return loaded
        return None

    def to_dict(self) -> dict:
        """JSON-ready: the rules that run (with whether they raise alerts themselves) and problems."""
        rules = [
            {
                "id": loaded.key,
                "title": loaded.title,
                "level": loaded.severity,
                "kind": kind,
                "generates": loaded.generates,
                "path": str(loaded.path),
            }
            for kind, group in (("detection", self.detections), ("correlation", self.correlations))
            for loaded in group
        ]
        return {"rules": rules, "problems": [problem.to_dict() for problem in self.problems]}


def load_rules(
    rule_dirs: Sequence[Path | str],
    compile: Callable[[SigmaRule], Any] | None = None,
    exception_dirs: Sequence[Path | str] = (),
    defaults: AlertVolume = DEFAULT_VOLUME,
) -> RuleSet:
    """Every rule under the folders (``tests/`` and ``exceptions/`` folders skipped), compiled,
    with the problems; and the exceptions in force: the shipped ones, each rule folder's
    ``exceptions/`` and ``exception_dirs``.

    ``compile`` turns a SigmaRule into the store's query; the default is the DuckDB compiler.
    ``defaults``: suppression and cap for rules that do not set their own.
    """
    if compile is None:
        from detections.backends.compile import compile_rule

        compile = compile_rule
    result = RuleSet()
    parsed: list[Parsed] = []
    filters: list[tuple[SigmaFilter, Path]] = []
    unrun: list[_Unrun] = []  # correlations that cannot run, and the problem that says so
    for path in _rule_files(rule_dirs, result.problems):
        rules, file_filters = _parse_file(path, result.problems, unrun)
        parsed.extend(rules)
        filters.extend(file_filters)
    parsed = _drop_duplicate_ids(parsed, result.problems)
    parsed = _apply_filters(parsed, filters, result.problems)
    collection = SigmaCollection([rule for rule, _ in parsed], resolve_references=False)
    failed: dict[int, str] = {}  # id(rule) -> why it cannot run, for correlations naming it
    for rule, path in parsed:
        if isinstance(rule, SigmaRule):
            detection = _load_detection(rule, path, compile, result.problems, defaults)
            if detection is None:
                failed[id(rule)] = "it could not be loaded"
            else:
                result.detections.append(detection)
    correlations = [(rule, path) for rule, path in parsed if isinstance(rule, SigmaCorrelationRule)]
    for rule, _path in correlations:  # resolve all first: a correlation may use another
        _resolve(rule, collection, failed)
    for rule, path in correlations:
        correlation = _load_correlation(rule, path, failed, result.problems, defaults)
        if correlation is not None:
            result.correlations.append(correlation)
    _drop_correlations_on_unknown_fields(result)
    unrun += _unrun_of(correlations, result)
    _silence_base_rules(result, unrun, collection)
    folders = [SHIPPED_EXCEPTIONS, *(Path(d) / EXCEPTIONS_FOLDER for d in rule_dirs), *map(Path, exception_dirs)]
    result.exceptions, exception_problems = load_exceptions(dict.fromkeys(folders))
    result.problems.extend(exception_problems)
    return result


def rule_key(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """The rule id alerts carry: the Sigma id, else its name, else its title."""
    if rule.id is not None:
        return str(rule.id)
    return rule.name or rule.title


def display_name(rule, path: Path | None = None) -> str:
    if rule.id is not None:
        return f"{rule.title} ({rule.id})"
    return rule.title or (rule.name or "") or (path.name if path else "?")


# -- files -------------------------------------------------------------------------------------


def _rule_files(rule_dirs: Iterable[Path | str], problems: list[RuleProblem]) -> list[Path]:
    files: list[Path] = []
    for folder in map(Path, rule_dirs):
        if folder.is_file():
            files.append(folder)
            continue
        if not folder.is_dir():
            problems.append(RuleProblem(folder.name, str(folder), "rule folder not found"))
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).parts
            if (
                path.suffix in RULE_SUFFIXES
                and path.is_file()
                and not any(part in SKIPPED_FOLDERS for part in relative[:-1])
            ):
                files.append(path)
    return files


#: A parsed rule (detection or correlation) and the file it came from.
Parsed = tuple[SigmaRule | SigmaCorrelationRule, Path]


def _parse_file(
    path: Path, problems: list[RuleProblem], unrun: list[_Unrun]
) -> tuple[list[Parsed], list[tuple[SigmaFilter, Path]]]:
    """The rules and filters of one file; a document pySigma rejects is reported, not fatal.

    Correlations pySigma rejects are noted in ``unrun`` with their problem, so that what happens
    to their base rules is decided, and said, with the others (``_silence_base_rules``).
    """
    try:
        text = path.read_text(encoding="utf-8")
        documents = [_with_written_condition(doc) for doc in yaml.safe_load_all(text) if doc is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problems.append(RuleProblem(path.name, str(path), f"not readable YAML: {_one_line(error)}"))
        return [], []
    uses_actions = any(isinstance(doc, dict) and "action" in doc for doc in documents)
    # Whole file first (``action: global`` spans documents); if pySigma raises despite
    # collect_errors, retry document by document so the good documents still load.
    batches = [documents] if uses_actions else [[doc] for doc in documents]
    rules: list[Parsed] = []
    filters: list[tuple[SigmaFilter, Path]] = []
    for batch in batches:
        try:
            collection = SigmaCollection.from_dicts(
                batch,
                collect_errors=True,
                source=SigmaRuleLocation(path),
                collect_filters=True,
                resolve_references=False,
            )
        except Exception as error:  # pySigma raises some rule errors even when collecting
            name = _document_name(batch[0], path) if len(batch) == 1 else path.name
            problem = RuleProblem(name, str(path), _explain(error))
            problems.append(problem)
            unrun.extend(
                _Unrun.written(problem, doc["correlation"])
                for doc in batch
                if isinstance(doc, dict) and _is_correlation(doc)
            )
            continue
        for rule in collection.rules:
            if rule.errors:
                reasons = "; ".join(_explain(error) for error in rule.errors)
                problem = RuleProblem(display_name(rule, path), str(path), reasons)
                problems.append(problem)
                written = rule.custom_attributes.get("correlation")
                if isinstance(rule, SigmaCorrelationRule) and isinstance(written, dict):
                    unrun.append(_Unrun.written(problem, written))
            else:
                rules.append((rule, path))
        filters.extend((f, path) for f in collection.filters if not f.errors)
        for f in collection.filters:
            if f.errors:
                problems.append(RuleProblem(display_name(f, path), str(path), "; ".join(_explain(e) for e in f.errors)))
        for own_error in collection.errors:  # errors of the file itself, e.g. an unknown action
            if not any(own_error in owner.errors for owner in (*collection.rules, *collection.filters)):
                problems.append(RuleProblem(path.name, str(path), _explain(own_error)))
    return rules, filters


def _is_correlation(document: dict[str, Any]) -> bool:
    return isinstance(document.get("correlation"), dict)


def _with_written_condition(document: Any) -> Any:
    """A correlation document with its condition kept aside (``WRITTEN_CONDITION``) and pySigma
    given a one-bound stand-in it accepts: pySigma 1.5.1 refuses a range and reads ``gte: 2.5``
    as 2. ``detections.correlate.parse_condition`` reads the condition as written instead."""
    if not isinstance(document, dict) or not _is_correlation(document):
        return document
    correlation = document["correlation"]
    written = correlation.get("condition")
    if not isinstance(written, dict):
        return document  # an extended (temporal) condition or none: pySigma reads it well
    stand_in: dict[str, Any] = {"gte": 1}
    if "field" in written:
        stand_in["field"] = written["field"]
    return {**document, WRITTEN_CONDITION: written, "correlation": {**correlation, "condition": stand_in}}


def _written_condition(rule: SigmaCorrelationRule) -> dict[str, Any] | None:
    written = rule.custom_attributes.get(WRITTEN_CONDITION)
    return written if isinstance(written, dict) else None


def _document_name(document: Any, path: Path) -> str:
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        if document.get("id"):
            return f"{document['title']} ({document['id']})"
        return document["title"]
    return path.name


def _drop_duplicate_ids(parsed: list[Parsed], problems: list[RuleProblem]) -> list[Parsed]:
    """Two rules with one id would share alert ids, and a correlation naming a rule must mean one
    rule; the first (by path) wins and the other is reported."""
    seen: dict[str, Path] = {}
    names: dict[str, Path] = {}
    kept: list[Parsed] = []
    for rule, path in parsed:
        key = rule_key(rule)
        if key in seen:
            problems.append(
                RuleProblem(
                    display_name(rule, path), str(path), f"rule id {key} is already used by a rule in {seen[key]}"
                )
            )
            continue
        if rule.name is not None and rule.name in names:
            problems.append(
                RuleProblem(
                    display_name(rule, path), str(path), f"rule name {rule.name} is already used in {names[rule.name]}"
                )
            )
            continue
        seen[key] = path
        if rule.name is not None:
            names[rule.name] = path
        kept.append((rule, path))
    return kept


def _apply_filters(
    parsed: list[Parsed], filters: list[tuple[SigmaFilter, Path]], problems: list[RuleProblem]
) -> list[Parsed]:
    """Sigma filters (v2) are exceptions to rules; apply each to the rules it names."""
    if not filters:
        return parsed
    result: list[Parsed] = []
    for rule, path in parsed:
        if isinstance(rule, SigmaRule):
            for sigma_filter, filter_path in filters:
                try:
                    rule = sigma_filter.apply_on_rule(rule)
                except SigmaError as error:
                    problems.append(
                        RuleProblem(display_name(sigma_filter, filter_path), str(filter_path), _explain(error))
                    )
        result.append((rule, path))
    return result


# -- detection rules ---------------------------------------------------------------------------


def _load_detection(
    rule: SigmaRule,
    path: Path,
    compile: Callable[[SigmaRule], Any],
    problems: list[RuleProblem],
    defaults: AlertVolume,
) -> DetectionRule | None:
    name = display_name(rule, path)
    try:
        for condition in rule.detection.parsed_condition:
            _ = condition.parsed  # parse now: a legacy aggregation is a clear, early refusal
    except SigmaConditionError as error:
        reason = _explain(error)
        if "pipe" in reason.lower():
            reason = (
                "uses the legacy aggregation syntax ('| count()' and the like), which "
                "Sigma replaced by correlation rules; rewrite it as an event_count or "
                "value_count correlation"
            )
        problems.append(RuleProblem(name, str(path), reason))
        return None
    try:
        entity_override = _entity_override(rule)
        volume = alert_volume(_settings(rule), CUSTOM_KEY, defaults)
    except ValueError as error:
        problems.append(RuleProblem(name, str(path), str(error)))
        return None
    try:
        compiled = compile(rule)
    except Exception as error:  # RuleConversionError or anything pySigma raises while converting
        problems.append(RuleProblem(name, str(path), _explain(error)))
        return None
    if not compiled.datasets:
        problems.append(RuleProblem(name, str(path), "its log source maps to no stored dataset"))
        return None
    return DetectionRule(
        key=rule_key(rule),
        rule=rule,
        path=path,
        compiled=compiled,
        entity=entity_fields(compiled.datasets, entity_override),
        volume=volume,
    )


def _settings(rule: SigmaRule | SigmaCorrelationRule) -> dict[str, Any]:
    """The rule's ``cyberwell:`` mapping (empty when it has none)."""
    settings = rule.custom_attributes.get(CUSTOM_KEY)
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ValueError(f"'{CUSTOM_KEY}' must be a mapping")
    return settings


def _entity_override(rule: SigmaRule) -> list[str] | None:
    settings = _settings(rule)
    group_by = settings.get("group-by")
    if group_by is None:
        return None
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list) or not all(isinstance(name, str) for name in group_by):
        raise ValueError(f"'{CUSTOM_KEY}: group-by' must be a field name or a list of them")
    return group_by


# -- correlation rules -------------------------------------------------------------------------


def _resolve(rule: SigmaCorrelationRule, collection: SigmaCollection, failed: dict[int, str]) -> None:
    """Point the correlation's references at rules; record why it cannot run, if it cannot."""
    references = rule.rules if rule.rules is not None else []
    if rule.rules is None and isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        # an extended condition may name its rules only in the expression
        references = [SigmaRuleReference(name) for name in rule.condition.get_referenced_rules()]
    rule.referenced_rules = references
    missing = []
    for reference in references:
        try:
            reference.rule = collection[reference.reference]
        except SigmaError:
            missing.append(reference.reference)
            continue
        reference.rule.add_backreference(rule)
    if missing:
        failed[id(rule)] = f"it references rules not found: {', '.join(missing)}"
        return
    try:
        rule.aliases.resolve_rule_references(collection)
    except SigmaError as error:
        failed[id(rule)] = f"an alias names a rule that was not found ({_explain(error)})"


def _load_correlation(
    rule: SigmaCorrelationRule,
    path: Path,
    failed: dict[int, str],
    problems: list[RuleProblem],
    defaults: AlertVolume,
) -> CorrelationRule | None:
    name = display_name(rule, path)
    reason = _correlation_problem(rule, failed, set())
    if reason is None:
        try:
            volume = alert_volume(_settings(rule), CUSTOM_KEY, defaults)
            correlation = _stored_names(_translate(rule), rule)
        except (UnsupportedCorrelation, UnknownField) as error:
            reason = str(error)
        except Exception as error:  # whatever a hand-written correlation can break; the others load on
            reason = _explain(error)
    if reason is not None:
        failed[id(rule)] = reason
        problems.append(RuleProblem(name, str(path), reason))
        return None
    return CorrelationRule(key=rule_key(rule), rule=rule, path=path, correlation=correlation, volume=volume)


def _translate(rule: SigmaCorrelationRule) -> Correlation:
    """The correlation as the engine runs it, its condition read as the file wrote it."""
    return from_sigma(rule, rule_key, _written_condition(rule))


def _stored_names(correlation: Correlation, rule: SigmaCorrelationRule) -> Correlation:
    """``correlation`` with its field names turned into the stored columns its base rules mean.

    A name every base rule stores in one column becomes that column (``IPAddress`` ->
    ``source.ip``), so alerts show the column as docs/events.md names it; a name the base rules
    store in different columns becomes an alias, as if the author had written one. Raises
    ``UnknownField`` naming a field a base rule's pipeline maps to nothing.
    """
    bases = {rule_key(reference.rule): reference.rule for reference in rule.referenced_rules}
    aliases: dict[str, dict[str, str]] = {
        alias: {key: _column_for(name, bases[key]) for key, name in mapping.items()}
        for alias, mapping in correlation.aliases.items()
    }
    renamed: dict[str, str] = {}
    for name in correlation.fields():
        if name in aliases:
            continue
        columns = {key: _column_for(name, base) for key, base in bases.items()}
        if len(set(columns.values())) == 1:
            renamed[name] = next(iter(columns.values()))
        else:
            aliases[name] = columns
    value_field = correlation.value_field
    return dataclasses.replace(
        correlation,
        group_by=tuple(dict.fromkeys(renamed.get(name, name) for name in correlation.group_by)),
        value_field=renamed.get(value_field, value_field) if value_field else None,
        aliases=aliases,
    )


def _column_for(name: str, base: SigmaRule | SigmaCorrelationRule) -> str:
    """The column ``base`` keeps ``name`` in: through its pipeline for a rule; for a correlation,
    the column its own base rules agree on, else the name it carries as an alias."""
    if isinstance(base, SigmaCorrelationRule):
        if name in {alias.alias for alias in base.aliases}:
            return name
        columns = {_column_for(name, reference.rule) for reference in base.referenced_rules}
        return columns.pop() if len(columns) == 1 else name
    try:
        return stored_field(base.logsource, name)
    except UnknownField as error:
        raise UnknownField(f"{error} (field {name!r} as base rule '{base.title}' reads it)") from None


def _correlation_problem(rule: SigmaCorrelationRule, failed: dict[int, str], visiting: set[int]) -> str | None:
    """Why the correlation cannot run: its own references, or a referenced rule's problem."""
    if id(rule) in failed:
        return failed[id(rule)]
    if id(rule) in visiting:
        return "its references form a cycle"
    visiting.add(id(rule))
    for reference in rule.referenced_rules:
        base = reference.rule
        if id(base) in failed:
            return f"it references '{base.title}', which cannot run: {failed[id(base)]}"
        if isinstance(base, SigmaCorrelationRule):
            inner = _correlation_problem(base, failed, visiting)
            if inner is not None:
                return f"it references '{base.title}', which cannot run: {inner}"
            try:
                _stored_names(_translate(base), base)
            except (UnsupportedCorrelation, UnknownField) as error:
                return f"it references '{base.title}', which cannot run: {error}"
    visiting.discard(id(rule))
    return None


def _drop_correlations_on_unknown_fields(result: RuleSet) -> None:
    """A correlation groups and counts by stored columns (docs/events.md), not by Sigma names the
    pipeline would map: ``group-by: [IPAddress]`` would read NULL everywhere and never fire, so it
    is refused with the field's name — as are correlations using one refused here."""
    by_key = {loaded.key: loaded for loaded in (*result.detections, *result.correlations)}
    reasons: dict[str, str | None] = {}

    def reason_for(loaded: CorrelationRule) -> str | None:
        if loaded.key not in reasons:
            reasons[loaded.key] = None  # the loader refused cycles already
            for key in loaded.correlation.rules:
                used = by_key[key]
                inner = reason_for(used) if isinstance(used, CorrelationRule) else None
                reason = (
                    f"it references '{used.title}', which cannot run: {inner}"
                    if inner
                    else _unknown_field(loaded.correlation, used)
                )
                if reason:
                    reasons[loaded.key] = reason
                    break
        return reasons[loaded.key]

    kept = []
    for loaded in result.correlations:
        reason = reason_for(loaded)
        if reason is None:
            kept.append(loaded)
        else:
            result.problems.append(RuleProblem(display_name(loaded.rule, loaded.path), str(loaded.path), reason))
    result.correlations = kept


def _unknown_field(correlation: Correlation, used) -> str | None:
    for name in correlation.fields():
        field_name = correlation.field_for(name, used.key)
        if isinstance(used, CorrelationRule):
            if field_name not in used.correlation.group_by:
                return (
                    f"field '{field_name}' is not a group-by field of '{used.title}', whose "
                    f"windows carry only {', '.join(used.correlation.group_by) or 'no fields'}"
                )
            continue
        datasets = used.compiled.datasets
        if not all(dataset in DATASET_COLUMNS for dataset in datasets):
            continue  # a dataset without a column list: nothing to check against
        known = frozenset().union(*(DATASET_COLUMNS[dataset] for dataset in datasets))
        prefixes = tuple(prefix for dataset in datasets for prefix in OPEN_NAMESPACES.get(dataset, ()))
        if field_name not in known and not any(field_name.startswith(p) for p in prefixes):
            return (
                f"field '{field_name}' is not a stored column of {', '.join(datasets)} "
                "(correlations name stored columns, as in docs/events.md)"
            )
    return None


def _unrun_of(correlations: list[tuple[SigmaCorrelationRule, Path]], result: RuleSet) -> list[_Unrun]:
    """The parsed correlations that will not run, each with the problem the loader recorded."""
    running = {id(loaded.rule) for loaded in result.correlations}
    problems = {(problem.name, problem.path): problem for problem in result.problems}
    unrun = []
    for rule, path in correlations:
        problem = problems.get((display_name(rule, path), str(path)))
        if id(rule) in running or problem is None:
            continue
        written = rule.custom_attributes.get("correlation")
        silent = isinstance(written, dict) and written.get("generate") is False
        unrun.append(_Unrun(problem, tuple(ref.reference for ref in rule.referenced_rules), silent))
    return unrun


def _silence_base_rules(result: RuleSet, unrun: list[_Unrun], collection: SigmaCollection) -> None:
    """Turn off the own alerts of rules used by a running correlation without ``generate: true``,
    and of those a correlation that cannot run names with ``generate: false``; say in each other
    unrunnable correlation's problem which of its base rules raise alerts on their own."""
    for loaded in result.correlations:
        if not loaded.rule.generate:
            for reference in loaded.rule.referenced_rules:
                reference.rule.disable_output()
    loaded_ids = {id(loaded.rule) for loaded in (*result.detections, *result.correlations)}
    bases = {entry: _named_rules(entry.references, collection, loaded_ids) for entry in unrun}
    for entry in unrun:
        if entry.silent:
            for base in bases[entry]:
                base.disable_output()
    alone: dict[int, list[str]] = {}  # id(problem) -> titles of its base rules that run alone
    for entry in unrun:
        if not entry.silent:
            titles = alone.setdefault(id(entry.problem), [])
            titles += [base.title for base in bases[entry] if base._output and base.title not in titles]
    for position, problem in enumerate(result.problems):
        running_alone = alone.get(id(problem))
        if running_alone:
            result.problems[position] = dataclasses.replace(
                problem, reason=f"{problem.reason}; {_alone(running_alone)}"
            )


def _named_rules(
    references: Iterable[str], collection: SigmaCollection, loaded_ids: set[int]
) -> list[SigmaRule | SigmaCorrelationRule]:
    """The loaded rules ``references`` name (names that find nothing are in the problem already)."""
    found = []
    for reference in references:
        try:
            rule = collection[reference]
        except (SigmaError, ValueError):
            continue
        if id(rule) in loaded_ids:
            found.append(rule)
    return found


def _alone(titles: list[str]) -> str:
    quoted = ", ".join(f"'{title}'" for title in titles)
    if len(titles) == 1:
        return f"its base rule {quoted} runs on its own"
    return f"its base rules {quoted} run on their own"


def _explain(error: BaseException) -> str:
    """pySigma appends the absolute file path to messages; the problem already names the file."""
    message = error.args[0] if isinstance(error, SigmaError) and error.args else str(error)
    return _one_line(message)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())
