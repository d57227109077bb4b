"""What every command does first: make what it writes private, open the configured store, read
a time option, or stop with a one-line message. The commands of cli.py, console/live/commands.py
and console/live/status.py all use it, so none of them imports another.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from console import config as configuration
from console import render
from store import EmbeddedStore
from store.state.database import StateDB

if TYPE_CHECKING:  # the detections room loads when a command detects, not for every command
    from detections.alerts import AlertVolume
    from detections.loader import RuleProblem, RuleSet
    from detections.scheduling.schedule import ScheduleDefaults, ScheduleGroup

#: Exit codes (README "Exit codes"): 1 is a run that went wrong (``collect``: a source failed).
USAGE = 2  # an option, argument, config value or the home is wrong: nothing was done

#: Only the user may read what Cyberwell writes: sign-ins, alerts, spooled syslog, the config.
PRIVATE_UMASK = 0o077

_errors_in_json = False


def answer_errors_in_json(wanted: bool) -> None:
    """Set once per command by the ``cyberwell`` group, from whether ``--json`` was given: a
    script reading stdout then gets the error as JSON too."""
    global _errors_in_json
    _errors_in_json = wanted


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Stop the command: ``error: message`` on stderr as one line, and with ``--json`` also
    ``{"error": message, "code": code}`` on stdout."""
    render.error(message)
    if _errors_in_json:
        render.emit_json({"error": message, "code": code})
    raise typer.Exit(code)


def private_files() -> Callable[[], None]:
    """Make every file and folder this process creates private to the user (the home at 0700,
    events, state and spool files at 0600), whatever the shell's umask; returns the undo, so
    a command run inside another program (a test's CliRunner) leaves its umask as it was."""
    before = os.umask(PRIVATE_UMASK)

    def undo() -> None:
        os.umask(before)

    return undo


def make_private(*places: Path) -> None:
    """Close Cyberwell's own data to other users where an older Cyberwell, a copy or a restore
    left it open: each folder to 0700 (what is inside is then out of others' reach, so there is
    no tree to walk), each file to 0600. Places that do not exist, or that this user may not
    change, are left as they are: the command itself will say what it cannot read or write."""
    for place in places:
        try:
            mode = stat.S_IMODE(place.stat().st_mode)
            if mode & 0o077:
                place.chmod(mode & 0o700)
        except OSError:
            continue


def home_data(home: Path) -> tuple[Path, ...]:
    """What Cyberwell keeps in the home: the events and the state database (with its WAL). The
    home folder itself is the user's to choose (it may be their own home, or a folder shared
    on purpose) and the config file is theirs to write: neither is changed."""
    return tuple(home / name for name in ("events", "state.sqlite", "state.sqlite-wal", "state.sqlite-shm"))


def open_state(cfg: configuration.Config) -> StateDB:
    """The home's state database alone, for commands that need no event store (audit, webhook):
    they work whatever the store backend is, and without reaching Elasticsearch."""
    return StateDB(cfg.home / "state.sqlite")


def open_store(cfg: configuration.Config):
    """The configured event store: ``EmbeddedStore``, or ``ElasticStore`` for
    ``store.backend = "elasticsearch"`` (settings from ``[store.elasticsearch]``)."""
    if cfg.store_backend == "embedded":
        return EmbeddedStore(cfg.home)
    from store import ElasticStore
    from store.elastic.client import ElasticSettingsError

    if cfg.elasticsearch is None:
        fail(
            "store.backend is 'elasticsearch' but the config has no [store.elasticsearch] table with hosts or cloud_id"
        )
    try:
        store = ElasticStore.from_settings(cfg.elasticsearch, cfg.home)
    except ElasticSettingsError as error:
        fail(str(error))
    problem = elastic_problem(store)
    if problem:
        fail(f"Elasticsearch at {cfg.elasticsearch.describe()}: {problem}")
    return store


def elastic_problem(store) -> str | None:
    """Why the cluster cannot be used, in words without secrets; None when it answers."""
    from elasticsearch import ApiError, TransportError

    try:
        store.client.cluster.health(timeout="10s")
    except ApiError as error:
        if error.status_code == 403:
            return None  # a key allowed to write events but not to read cluster health is fine
        if error.status_code == 401:
            return "the credentials were refused (401)"
        return f"the cluster answered {error.status_code} {error.error}"
    except TransportError as error:
        return f"cannot connect ({type(error).__name__}); is it running, and is the URL right?"
    except ValueError as error:
        # http.client refuses a header holding a line break with the header's value in the
        # message: the API key. Say which kind of thing was refused, never the value.
        return f"the request could not be sent ({type(error).__name__}); check the credentials' settings"
    return None


def parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: expected an ISO 8601 time such as 2026-11-20T09:00:00Z, got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_window(
    start: str | None, end: str | None, default: Callable[[], tuple[datetime, datetime]]
) -> tuple[datetime, datetime]:
    """``--from`` and ``--to``, each defaulting to ``default()``'s end of the window (asked only
    when one is missing); a window that ends before it starts is refused, naming both."""
    window_start, window_end = parse_time(start, "--from"), parse_time(end, "--to")
    if window_start is None or window_end is None:
        default_start, default_end = default()
        window_start, window_end = window_start or default_start, window_end or default_end
    if window_start >= window_end:
        fail(
            f"--from {window_start.isoformat()} is not before --to {window_end.isoformat()}"
            + ("" if start is not None and end is not None else " (the stored events' window fills in the other)")
        )
    return window_start, window_end


def stored_window(store) -> tuple[datetime, datetime]:
    span = store.time_range()
    if span is None:
        now = datetime.now(UTC)
        return now - timedelta(days=1), now
    return span[0], span[1] + timedelta(microseconds=1)


# -- what every command that runs rules passes them (detect, serve, rules list) -------------------


def exception_dirs(cfg: configuration.Config) -> list[Path]:
    """The home's ``exceptions/`` and the config's ``exception_dirs`` (the shipped ones and each
    rule folder's own are always read by the loader)."""
    from detections import EXCEPTIONS_FOLDER

    return list(dict.fromkeys([cfg.home / EXCEPTIONS_FOLDER, *cfg.detections.exception_dirs]))


def alert_defaults(cfg: configuration.Config) -> AlertVolume:
    """Suppression and cap of rules that set neither: the config's, else the room's defaults."""
    from dataclasses import replace

    from detections.alerts import DEFAULT_VOLUME

    settings, volume = cfg.detections, DEFAULT_VOLUME
    if settings.suppress is not None:
        volume = replace(volume, suppression=settings.suppress)
    if settings.max_alerts is not None:
        volume = replace(volume, max_alerts=settings.max_alerts)
    return volume


def schedule_defaults(cfg: configuration.Config) -> ScheduleDefaults:
    """Schedules of rules that set none, catch-up and run bounds: the config's, else the room's."""
    from dataclasses import replace

    from detections.scheduling.schedule import ScheduleDefaults

    settings, defaults = cfg.detections, ScheduleDefaults()
    schedule = defaults.schedule
    for name in ("interval", "lookback", "delay"):
        value = getattr(settings, name)
        if value is not None:
            schedule = replace(schedule, **{name: value})
    return ScheduleDefaults(
        schedule=schedule,
        max_catchup=settings.max_catchup or defaults.max_catchup,
        max_window=settings.backfill_max_window or defaults.max_window,
        start=settings.start,
    )


@dataclass(frozen=True)
class ScheduledRules:
    """The configured rules in their schedule groups, every problem (rules that cannot load,
    schedules that are wrong), and each loaded rule's id and name to its id (what playbook
    triggers may name)."""

    groups: list[ScheduleGroup]
    problems: list[RuleProblem]
    rule_ids: dict[str, str]


def scheduled_rules(cfg: configuration.Config, store) -> ScheduledRules:
    """The configured rules, loaded for the store with the config's exceptions and defaults."""
    from detections.scheduling.schedule import schedule_groups
    from detections.scheduling.scheduler import load_for

    ruleset = load_for(store, cfg.rule_dirs, exception_dirs(cfg), alert_defaults(cfg))
    groups, problems = schedule_groups(ruleset, schedule_defaults(cfg).schedule)
    return ScheduledRules(groups, [*ruleset.problems, *problems], _rule_ids(ruleset))


def rule_ids(cfg: configuration.Config) -> dict[str, str]:
    """Each configured rule's id and name, to its id (for commands that load playbooks but run
    no rules: their triggers may name rules)."""
    from detections.loader import load_rules

    return _rule_ids(load_rules(cfg.rule_dirs, exception_dirs=exception_dirs(cfg), defaults=alert_defaults(cfg)))


def _rule_ids(ruleset: RuleSet) -> dict[str, str]:
    found: dict[str, str] = {}
    for loaded in [*ruleset.detections, *ruleset.correlations]:
        found[loaded.key] = loaded.key
        if loaded.rule.name:
            found.setdefault(str(loaded.rule.name), loaded.key)
    return found
