"""When each rule runs: its interval, look-back and source delay, and the groups that run together.

A rule's schedule comes from its ``cyberwell:`` mapping (``interval``, ``lookback``, ``delay``),
else from the defaults (the config's ``[detections]`` table). What each means:

* ``interval`` — how often the rule runs: a run is due once the window since its watermark is
  this long;
* ``delay`` — how long a source takes to deliver: a run reaches up to ``now - delay`` only, so
  events still on their way are not missed (Entra sign-ins arrive minutes late);
* ``lookback`` — how far before the watermark a run starts searching, so an event that arrived
  later than the delay allowed is still seen. The overlap costs nothing else: alert ids are
  deterministic (rule, entity, span), so an alert seen twice is updated, never raised twice.

A correlation needs its base rules' matches in the same run (the engine reads them from that run),
so a correlation and every rule it uses, however deeply, are one **schedule group**: one
watermark, run together, on the correlation's schedule (several correlations sharing a base rule:
the shortest interval, the longest look-back and delay of them). Any other rule is a group alone.
A group's key — the name of its watermark — is its rule's id, or the smallest id of its governing
correlations, so it survives a restart and a reordering of the rule files.

Windows: a group's first run covers the interval before ``now - delay`` (or starts at the configured
start); a group whose watermark is older than ``max_catchup`` records the older part as a gap (for
``detect --backfill``) instead of running it now; and no run covers more than ``max_window`` — a
longer catch-up or backfill is done in several runs, each moving the watermark or filling gaps as
it succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from detections.alerts import parse_duration
from detections.loader import CUSTOM_KEY, CorrelationRule, DetectionRule, RuleProblem, RuleSet, display_name
from store.state.schedule import Gap

#: The durations a rule may set, by the name it sets them under.
SCHEDULE_KEYS = ("interval", "lookback", "delay")


@dataclass(frozen=True)
class Schedule:
    interval: timedelta = timedelta(minutes=5)
    lookback: timedelta = timedelta(minutes=1)
    delay: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class ScheduleDefaults:
    """The config's ``[detections]`` schedule keys, for every rule that does not set its own."""

    schedule: Schedule = Schedule()
    #: Older than this behind, a group's missed window is recorded as a gap rather than run now.
    max_catchup: timedelta = timedelta(days=1)
    #: The longest window of one run (catch-up and backfill are cut into runs of at most this).
    max_window: timedelta = timedelta(hours=6)
    #: Where a group that never ran starts; None: one interval before ``now - delay``.
    start: datetime | None = None


def parse_span(value: object, key: str, zero: bool = False) -> timedelta:
    """A duration (``parse_duration``); ``zero`` allows ``0`` (no look-back, no delay)."""
    if zero and str(value).strip().lower() in ("0", "0s", "0m", "0h", "0d"):
        return timedelta(0)
    return parse_duration(value, key)


def rule_schedule(settings: Mapping[str, object], default: Schedule) -> Schedule:
    """The schedule a rule's ``cyberwell:`` settings give, over the default; ``ValueError`` naming
    the key when a value is not a duration."""
    found = {}
    for name in SCHEDULE_KEYS:
        if settings.get(name) is not None:
            found[name] = parse_span(settings[name], f"{CUSTOM_KEY}: {name}", zero=name != "interval")
    return replace(default, **found)


@dataclass(frozen=True)
class ScheduleGroup:
    """Rules that run together over one window, with one watermark."""

    key: str
    schedule: Schedule
    rules: RuleSet  # a subset of the loaded rule set (no problems: those are reported once)

    @property
    def rule_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in (*self.rules.detections, *self.rules.correlations))

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for r in self.rules.detections for d in r.compiled.datasets))


def schedule_groups(ruleset: RuleSet, default: Schedule) -> tuple[list[ScheduleGroup], list[RuleProblem]]:
    """The rule set cut into schedule groups, and the rules left out for a bad schedule value
    (with the correlations that use them: a correlation cannot run without its rules)."""
    schedules, problems = _own_schedules(ruleset, default)
    members = _components(ruleset)
    groups = []
    for keys in members:
        bad = [key for key in keys if key not in schedules]
        if bad:
            problems += _left_out(ruleset, keys, bad)
            continue
        governing = [c.key for c in ruleset.correlations if c.key in keys and not _used(ruleset, c.key)] or keys
        groups.append(
            ScheduleGroup(
                key=min(governing),
                schedule=_combined([schedules[key] for key in governing]),
                rules=_subset(ruleset, keys),
            )
        )
    return sorted(groups, key=lambda g: g.key), problems


def _own_schedules(ruleset: RuleSet, default: Schedule) -> tuple[dict[str, Schedule], list[RuleProblem]]:
    found: dict[str, Schedule] = {}
    problems = []
    for loaded in (*ruleset.detections, *ruleset.correlations):
        settings = loaded.rule.custom_attributes.get(CUSTOM_KEY)
        try:
            found[loaded.key] = rule_schedule(settings if isinstance(settings, dict) else {}, default)
        except ValueError as error:
            problems.append(RuleProblem(display_name(loaded.rule, loaded.path), str(loaded.path), str(error)))
    return found, problems


def _components(ruleset: RuleSet) -> list[list[str]]:
    """Rules joined by correlations (union-find), each component in rule-set order."""
    parent: dict[str, str] = {r.key: r.key for r in (*ruleset.detections, *ruleset.correlations)}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for correlation in ruleset.correlations:
        for used in correlation.correlation.rules:
            if used in parent:
                parent[root(used)] = root(correlation.key)
    components: dict[str, list[str]] = {}
    for key in parent:
        components.setdefault(root(key), []).append(key)
    return list(components.values())


def _used(ruleset: RuleSet, key: str) -> bool:
    return any(key in c.correlation.rules for c in ruleset.correlations)


def _combined(schedules: list[Schedule]) -> Schedule:
    """Several correlations govern one group: run as often as the most frequent, look back and
    wait as long as the most patient, so each gets at least what it asked for."""
    return Schedule(
        interval=min(s.interval for s in schedules),
        lookback=max(s.lookback for s in schedules),
        delay=max(s.delay for s in schedules),
    )


def _subset(ruleset: RuleSet, keys: list[str]) -> RuleSet:
    wanted = set(keys)
    return replace(
        ruleset,
        detections=[r for r in ruleset.detections if r.key in wanted],
        correlations=[r for r in ruleset.correlations if r.key in wanted],
        problems=[],
    )


def _left_out(ruleset: RuleSet, keys: list[str], bad: list[str]) -> list[RuleProblem]:
    """The rules of a group left out because one of them has a bad schedule value."""
    problems = []
    for key in keys:
        loaded = ruleset.get(key)
        if key in bad or loaded is None:
            continue
        assert isinstance(loaded, DetectionRule | CorrelationRule)
        reason = f"not scheduled: it runs with {', '.join(bad)}, whose schedule is wrong"
        problems.append(RuleProblem(display_name(loaded.rule, loaded.path), str(loaded.path), reason))
    return problems


# -- windows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueWindow:
    """A run a group is due for: search ``[start, end)``; on success its watermark is ``end``."""

    group: ScheduleGroup
    start: datetime
    end: datetime
    #: The part of the missed time too old to catch up now: recorded as a gap before the run.
    skipped: Gap | None = None


def due_window(
    group: ScheduleGroup, watermark: datetime | None, now: datetime, defaults: ScheduleDefaults
) -> DueWindow | None:
    """The group's next run at ``now``, or None when a whole interval has not passed yet."""
    schedule = group.schedule
    end = now - schedule.delay
    if watermark is None:
        watermark = defaults.start if defaults.start is not None else end - schedule.interval
    if end - watermark < schedule.interval:
        return None
    skipped = None
    if end - watermark > defaults.max_catchup:
        skipped = Gap(group.key, watermark, end - defaults.max_catchup, "missed: longer ago than max_catchup")
        watermark = skipped.end
    end = min(end, watermark + defaults.max_window)  # the rest is due again at once
    return DueWindow(group, watermark - schedule.lookback, end, skipped)


def seconds_until_due(group: ScheduleGroup, watermark: datetime | None, now: datetime) -> float:
    """How long until the group is due again (0 when it is due now)."""
    if watermark is None:
        return 0.0
    due_at = watermark + group.schedule.interval + group.schedule.delay
    return max((due_at - now).total_seconds(), 0.0)


def chunks(start: datetime, end: datetime, longest: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of at most ``longest``."""
    found = []
    while start < end:
        found.append((start, min(start + longest, end)))
        start = found[-1][1]
    return found
