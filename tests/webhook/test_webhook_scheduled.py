"""The outbox hook through ``serve``'s scheduler on a real embedded store: a scheduled run's new
alert is queued as ``new``, a late sighting of it in the next run as ``update`` of the same id."""

from __future__ import annotations

import json
from datetime import timedelta

from detections.alerts import DEFAULT_VOLUME
from detections.scheduling.schedule import schedule_groups
from detections.scheduling.scheduler import Scheduler, load_for
from playbooks.webhook.hook import outbox_hook
from playbooks.webhook.settings import WebhookSettings
from tests.detections.test_schedule import DEFAULTS, LEGACY, T0, Clock, append, rule_folder, signin, store  # noqa: F401


def test_scheduled_runs_queue_a_new_alert_and_its_update(store, tmp_path):  # noqa: F811
    settings = WebhookSettings.from_dict({"url": "https://soc.example.net/in", "secret_env": "X"})
    groups, _ = schedule_groups(
        load_for(store, [rule_folder(tmp_path, legacy=LEGACY)], [], DEFAULT_VOLUME), DEFAULTS.schedule
    )
    clock = Clock(T0 + timedelta(minutes=10))
    scheduler = Scheduler(store, groups, DEFAULTS, clock=clock, on_saved=outbox_hook(settings))
    append(store, [signin(1, 5), signin(2, 6)])
    scheduler.tick()
    append(store, [signin(4, 8), signin(5, 12)])
    clock.now = T0 + timedelta(minutes=15)
    scheduler.tick()

    [alert] = store.alerts.list()
    with store.state.connect() as con:
        rows = con.execute("SELECT alert_id, kind, sequence, payload FROM webhook_outbox ORDER BY id").fetchall()
    assert [(r["alert_id"], r["kind"]) for r in rows] == [(alert.id, "new"), (alert.id, "update")]
    assert rows[-1]["sequence"] == alert.sequence
    assert json.loads(rows[-1]["payload"])["cyberwell"]["event_count"] == 4
