"""Load Sigma rule files, compile them once, and report every rule that cannot run — by name.

One broken file, one legacy ``| count()`` rule or one correlation pySigma rejects must not stop
the rest of the rule set: each becomes a ``RuleProblem`` (rule title and id, or the file name when
the file cannot be parsed at all) and everything else is returned ready to run.

Base rules of correlations follow the Sigma correlation specification and pySigma: a rule
referenced by a correlation does not raise alerts of its own unless the correlation says
``generate: true`` (pySigma turns the rule's output off; ``DetectionRule.generates`` mirrors it).
"""

from __future__ import annotations

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
from store.schema import DATASET_COLUMNS, OPEN_NAMESPACES

RULE_SUFFIXES = (".yml", ".yaml")
#: Folders holding test events beside the rules, not rules.
SKIPPED_FOLDERS = ("tests", EXCEPTIONS_FOLDER)
#: Rule attribute with Cyberwell's own settings (pySigma keeps unknown keys as custom attributes).
CUSTOM_KEY = "cyberwell"


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
    compiled: Any = None  # detections.compile.CompiledQuery (or another store's equivalent)
    entity: tuple[str, ...] = ()  # group keys of its own alerts


@dataclass
class CorrelationRule(_Loaded):
    correlation: Correlation


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
        from detections.compile import compile_rule

        compile = compile_rule
    result = RuleSet()
    parsed: list[Parsed] = []
    filters: list[tuple[SigmaFilter, Path]] = []
    unparsed_correlations: list[dict[str, Any]] = []
    for path in _rule_files(rule_dirs, result.problems):
        rules, file_filters = _parse_file(path, result.problems, unparsed_correlations)
        parsed.extend(rules)
        filters.extend(file_filters)
    parsed = _drop_duplicate_ids(parsed, result.problems)
    parsed = _apply_filters(parsed, filters, result.problems)
    collection = SigmaCollection([rule for rule, _ in parsed], resolve_references=False)
    _silence_bases_of_unparsed(unparsed_correlations, collection)
    failed: dict[int, str] = {}  # id(rule) -> why it cannot run, for correlations naming it
    for rule, path in parsed:
        if isinstance(rule, SigmaRule):
            detection = _load_detection(rule, path, compile, result.problems, defaults)
            if detection is None:
                failed[id(rule)] = "it could not be loaded"
            else:
                result.detections.append(detection)
    correlations = [(rule, path) for rule, path in parsed if isinstance(rule, SigmaCorrelationRule)]
    for rule, _path in correlations:  # resolve all first: resolving silences the base rules
        _resolve(rule, collection, failed)
    for rule, path in correlations:
        correlation = _load_correlation(rule, path, failed, result.problems, defaults)
        if correlation is not None:
            result.correlations.append(correlation)
    _drop_correlations_on_unknown_fields(result)
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
    path: Path, problems: list[RuleProblem], unparsed_correlations: list[dict[str, Any]]
) -> tuple[list[Parsed], list[tuple[SigmaFilter, Path]]]:
    """The rules and filters of one file; a document pySigma rejects is reported, not fatal.

    Correlation documents pySigma rejects are kept aside as plain dicts, so their base rules can
    still be kept quiet (``_silence_bases_of_unparsed``).
    """
    try:
        text = path.read_text(encoding="utf-8")
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
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
            problems.append(RuleProblem(name, str(path), _explain(error)))
            unparsed_correlations.extend(
                doc for doc in batch if isinstance(doc, dict) and isinstance(doc.get("correlation"), dict)
            )
            continue
        for rule in collection.rules:
            if rule.errors:
                reasons = "; ".join(_explain(error) for error in rule.errors)
                problems.append(RuleProblem(display_name(rule, path), str(path), reasons))
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


def _silence_bases_of_unparsed(documents: list[dict[str, Any]], collection: SigmaCollection) -> None:
    """A correlation that could not be parsed still says its base rules are not alerts alone
    (unless ``generate: true``); honour that rather than let them flood the alert list."""
    for document in documents:
        correlation = document["correlation"]
        if correlation.get("generate") is True:
            continue
        references = correlation.get("rules")
        for reference in [references] if isinstance(references, str) else references or []:
            try:
                collection[str(reference)].disable_output()
            except (SigmaError, ValueError):
                pass  # reported with the correlation's own problem


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
        if not rule.generate:
            # Silence the base rule even if this correlation cannot run: its author said it is
            # not an alert on its own, and the problem list says why the correlation is missing.
            reference.rule.disable_output()
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
            correlation = from_sigma(rule, rule_key)
        except UnsupportedCorrelation as error:
            reason = str(error)
        except Exception as error:  # whatever a hand-written correlation can break; the others load on
            reason = _explain(error)
    if reason is not None:
        failed[id(rule)] = reason
        problems.append(RuleProblem(name, str(path), reason))
        return None
    return CorrelationRule(key=rule_key(rule), rule=rule, path=path, correlation=correlation, volume=volume)


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
                from_sigma(base, rule_key)
            except UnsupportedCorrelation as error:
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


def _explain(error: BaseException) -> str:
    """pySigma appends the absolute file path to messages; the problem already names the file."""
    message = error.args[0] if isinstance(error, SigmaError) and error.args else str(error)
    if "must have exactly one condition item" in str(message):
        message = (
            f"{message}: a range (e.g. gt and lte together) is not supported by pySigma "
            "1.5.1; chain two correlations instead"
        )
    return _one_line(message)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())
