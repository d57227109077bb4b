"""The detection thread of ``serve``: the configured rules on their schedules, beside the collectors.

Rules are loaded once when ``serve`` starts (restart it to pick up changed rules). The thread runs
whatever is due, then sleeps until something is due again or ``serve`` is asked to stop; a stop
lets the run in progress finish (its alerts stored, its watermark moved) and starts no other. A
run cut short by a kill is marked ``abandoned`` at the next start, and its window, whose watermark
never moved, is run again.
"""

from __future__ import annotations

import logging
import threading

from console.config import Config
from console.session import ScheduledRules, alert_defaults, schedule_defaults
from detections.scheduling.scheduler import RecordedRun, Scheduler
from store.protocol import OnSavedAlerts
from store.state.schedule import ScheduleBook

log = logging.getLogger("cyberwell.detect")


def detection_scheduler(cfg: Config, store, rules: ScheduledRules, on_saved: OnSavedAlerts | None) -> Scheduler | None:
    """The configured rules in their schedule groups, ready to run; None when there is none.
    ``on_saved``: what each run does as it stores its alerts (the outbox, playbook runs).

    Called before any thread starts, so a rule set that cannot be read stops ``serve`` cleanly.
    """
    for problem in rules.problems:
        log.warning("not run: %s: %s", problem.name, problem.reason)
    if not rules.groups:
        log.warning("no detection rules to run (detections.rule_dirs)")
        return None
    abandoned = ScheduleBook(store.state).abandon_unfinished("scheduled")
    if abandoned:
        log.warning("%d scheduled detection runs were cut short before; their windows run again", abandoned)
    log.info(
        "detecting: %d rules in %d schedule groups", sum(len(g.rule_keys) for g in rules.groups), len(rules.groups)
    )
    return Scheduler(store, rules.groups, schedule_defaults(cfg), alert_defaults(cfg), on_saved=on_saved)


def start_detecting(scheduler: Scheduler, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=_keep_detecting, args=(scheduler, stop), name="detections")
    thread.start()
    return thread


def _keep_detecting(scheduler: Scheduler, stop: threading.Event) -> None:
    """Run what is due, then wait for the next due time or the stop; never raises."""
    while not stop.is_set():
        try:
            for run in scheduler.tick(stop.is_set):
                _log_run(run)
            wait = scheduler.wait_seconds()
        except Exception:  # noqa: BLE001 — the state database busy or gone: say so, try again
            log.exception("detection scheduling failed; trying again")
            wait = 5.0
        stop.wait(wait)


def _log_run(run: RecordedRun) -> None:
    report = run.report
    if report is None:
        return
    log.info(
        "detections %s .. %s: %s, %d new alerts, %d updated, %d held back, %.2fs",
        run.start,
        run.end,
        run.status,
        report.alerts_new,
        report.alerts_updated,
        report.alerts_held_back,
        report.seconds,
    )
    for failed in report.failed:
        log.warning("rule failed: %s: %s", failed.title, failed.error)
