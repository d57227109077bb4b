"""The deliverer against a real receiver process on 127.0.0.1: signed requests, Retry-After,
back-off, parking with the reason, replay, and the ``notify.soc`` action's notices."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import jsonschema
import pytest

from playbooks.webhook.deliverer import Deliverer, backoff, retry_after
from playbooks.webhook.hook import outbox_hook
from playbooks.webhook.notify_action import NotifySoc, NotifySocArguments
from playbooks.webhook.payload import schema
from playbooks.webhook.settings import Secret, WebhookSettings
from store.state.alerts import AlertBook
from store.state.audit import recent_audit, verify_audit
from store.state.database import StateDB
from store.state.outbox import outbox_status, replay_parked
from tests.support.webhook_alerts import alert
from tests.support.webhook_receiver import ReceiverProcess

SECRET = "test-webhook-secret-7f3a"


@pytest.fixture
def receiver(tmp_path):
    process = ReceiverProcess(tmp_path, SECRET)
    yield process
    process.stop()


@pytest.fixture
def state(tmp_path) -> StateDB:
    return StateDB(tmp_path / "state.sqlite")


def settings_for(receiver: ReceiverProcess, **extra) -> WebhookSettings:
    table = {"url": receiver.url + "?token=do-not-log", "secret_env": "X", "timeout": 1.0, "lease": 3.0}
    return WebhookSettings.from_dict(table | extra)


def deliverer(state, receiver, secret: str = SECRET, **extra) -> Deliverer:
    return Deliverer(state, settings_for(receiver, **extra), Secret(secret.encode()))


def until(condition, seconds: float = 20.0, step=lambda: None):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        step()
        time.sleep(0.05)


def outbox_rows(state) -> list[dict]:
    with state.connect() as con:
        return [dict(row) for row in con.execute("SELECT * FROM webhook_outbox ORDER BY id")]


def test_alerts_are_delivered_signed_with_their_idempotency_keys_and_event_names(state, receiver):
    receiver.start()
    book = AlertBook(state)
    hook = outbox_hook(settings_for(receiver))
    book.save_run([alert(1), alert(2)], on_saved=hook)
    book.save_run([alert(1, events=6)], on_saved=hook)
    tally = deliverer(state, receiver).deliver_due()
    assert (tally.delivered, tally.retried, tally.parked) == (3, 0, 0)
    got = receiver.requests()
    assert all(r["signature_ok"] and r["status"] == 200 and r["method"] == "POST" for r in got)
    expected = {
        (m["idempotency_key"], {"new": "alert.new", "update": "alert.update"}[m["kind"]]) for m in outbox_rows(state)
    }
    assert {(r["key"], r["event"]) for r in got} == expected
    one = [r["kind"] for r in got if r["alert_id"] == alert(1).id]
    assert one == ["new", "update"]  # in order, although two alerts went out together
    assert outbox_status(state).delivered == 3
    delivered = recent_audit(state, kind="delivery")
    assert len(delivered) == 3 and {r.result for r in delivered} == {"succeeded"}
    assert all(r.actor == "cyberwell deliverer" and f"127.0.0.1:{receiver.port}" in r.what for r in delivered)
    assert "do-not-log" not in json.dumps([r.__dict__ for r in delivered], default=str)


def test_a_receiver_that_refuses_the_signature_gets_the_message_parked_with_the_reason(state, receiver):
    receiver.start()
    AlertBook(state).save_run([alert(1)], on_saved=outbox_hook(settings_for(receiver)))
    tally = deliverer(state, receiver, secret="the-wrong-secret").deliver_due()
    assert tally.parked == 1
    [request] = receiver.requests()
    assert (request["signature_ok"], request["status"]) == (False, 401)
    [parked] = outbox_status(state).parked_messages
    assert parked.reason == f"HTTP 401 Unauthorized from 127.0.0.1:{receiver.port}: refused, not retried"
    everything = json.dumps([outbox_rows(state), [r.__dict__ for r in recent_audit(state)]], default=str)
    assert "the-wrong-secret" not in everything and "do-not-log" not in everything


def test_retry_after_is_honoured(state, receiver):
    receiver.start("--always", "503", "--retry-after", "2")
    AlertBook(state).save_run([alert(1)], on_saved=outbox_hook(settings_for(receiver)))
    send = deliverer(state, receiver, backoff_base=300.0)  # a back-off could not explain a 2 s wait
    before = datetime.now(UTC)
    assert send.deliver_due().retried == 1
    [row] = outbox_rows(state)
    waited = (datetime.fromisoformat(row["next_attempt_at"]) - before).total_seconds()
    assert 1.5 < waited < 3.0
    assert row["last_error"] == f"HTTP 503 Service Unavailable from 127.0.0.1:{receiver.port}"
    receiver.stop()
    receiver.start()  # the same port, answering 200 now
    until(lambda: send.deliver_due().delivered == 1)
    first, second = receiver.requests()
    assert 1.8 < second["at"] - first["at"] < 4.0
    assert first["key"] == second["key"] and first["body_sha256"] == second["body_sha256"]


def test_retry_after_reads_seconds_and_http_dates_and_is_bounded():
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert retry_after("7", now, 3600) == 7
    assert retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now, 3600) == 90
    assert retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now, 3600) == 0
    assert retry_after("86400", now, 3600) == 3600
    assert retry_after("soon", now, 3600) is None
    ceilings = [backoff(n, 2.0, 900.0, draw=lambda: 1.0) for n in (1, 2, 3, 10, 40)]
    assert ceilings == [2.0, 4.0, 8.0, 900.0, 900.0]
    assert backoff(3, 2.0, 900.0, draw=lambda: 0.25) == 2.0  # full jitter: anywhere below the ceiling


def test_a_message_that_keeps_failing_is_parked_after_max_attempts_and_replay_delivers_it(state, receiver):
    receiver.start("--always", "500")
    AlertBook(state).save_run([alert(1)], on_saved=outbox_hook(settings_for(receiver)))
    send = deliverer(state, receiver, max_attempts=3, backoff_base=0.05)
    until(lambda: outbox_status(state).parked == 1, step=send.deliver_due)
    assert [r["status"] for r in receiver.requests()] == [500, 500, 500]
    assert len({r["key"] for r in receiver.requests()}) == 1
    [parked] = outbox_status(state).parked_messages
    assert parked.reason == f"HTTP 500 Internal Server Error from 127.0.0.1:{receiver.port} (after 3 attempts)"
    assert parked.attempts == 3

    receiver.stop()
    receiver.start()
    assert send.deliver_due().delivered == 0  # parked stays parked until a person replays it
    assert replay_parked(state, None) == [parked.id]
    assert send.deliver_due().delivered == 1
    assert receiver.requests()[-1]["status"] == 200
    results = [r.result for r in reversed(recent_audit(state, kind="delivery"))]
    assert results == [f"parked: {parked.reason}", "pending", "succeeded"]
    assert verify_audit(state).ok


def test_a_refusal_that_will_not_change_is_parked_at_once(state, receiver):
    receiver.start("--always", "410")
    AlertBook(state).save_run([alert(1)], on_saved=outbox_hook(settings_for(receiver)))
    assert deliverer(state, receiver).deliver_due().parked == 1
    assert len(receiver.requests()) == 1


def test_a_receiver_that_is_not_there_means_a_retry_with_the_reason(state, receiver):
    receiver.start()
    receiver.stop()  # its port, with nobody listening
    AlertBook(state).save_run([alert(1)], on_saved=outbox_hook(settings_for(receiver)))
    assert deliverer(state, receiver).deliver_due().retried == 1
    assert outbox_rows(state)[0]["last_error"] == f"could not connect to 127.0.0.1:{receiver.port}"


def test_notify_soc_queues_one_notice_per_step_and_it_is_delivered(state, receiver):
    receiver.start()
    action = NotifySoc(state)
    args = NotifySocArguments(summary="Sessions revoked for a.user@council.gov.uk", alert_id="a" * 64)
    assert action.describe(args) == f"tell the SOC partner about alert {'a' * 64}: {args.summary}"
    first = asyncio.run(action.run(args, "run-4:step-2"))
    again = asyncio.run(action.run(args, "run-4:step-2"))  # the step retried after a restart
    assert (first.outcome, again.outcome) == ("succeeded", "succeeded")
    assert deliverer(state, receiver).deliver_due().delivered == 1
    [request] = receiver.requests()
    assert (request["event"], request["key"], request["signature_ok"]) == ("playbook", "run-4:step-2", True)
    [row] = outbox_rows(state)
    notice = json.loads(row["payload"])
    jsonschema.validate(notice, schema("notice"))
    assert notice["message"] == args.summary
    [entry] = recent_audit(state, kind="delivery")
    assert entry.what == f"playbook for alert:{'a' * 64} to 127.0.0.1:{receiver.port}"
