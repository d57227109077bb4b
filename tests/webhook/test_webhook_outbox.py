"""The SOC webhook's outbox in the state database: written with its alert, claimed in order,
leased so a crash loses nothing, parked and replayed; and triage changes in the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from playbooks.webhook.hook import outbox_hook
from playbooks.webhook.settings import WebhookSettings
from store.state.alerts import AlertBook
from store.state.audit import recent_audit, verify_audit
from store.state.database import StateDB
from store.state.outbox import Delivered, Park, Retry, claim_due, outbox_status, replay_parked, settle
from tests.support.webhook_alerts import alert

LEASE = timedelta(seconds=60)


def settings(**extra) -> WebhookSettings:
    return WebhookSettings.from_dict({"url": "https://soc.example.net/in", "secret_env": "X", **extra})


@pytest.fixture
def state(tmp_path) -> StateDB:
    return StateDB(tmp_path / "state.sqlite")


def outbox(state: StateDB) -> list[dict]:
    with state.connect() as con:
        return [dict(row) for row in con.execute("SELECT * FROM webhook_outbox ORDER BY id")]


def test_a_new_alert_and_its_message_are_written_in_one_transaction(state):
    book = AlertBook(state)
    hook = outbox_hook(settings())
    book.save_run([alert(1)], on_saved=hook)
    [message] = outbox(state)
    stored = book.get(alert(1).id)
    assert stored is not None
    assert (message["alert_id"], message["kind"], message["state"]) == (stored.id, "new", "pending")
    assert message["idempotency_key"] == f"{stored.id}:{stored.sequence}"

    def then_fail(con, new, updated):
        hook(con, new, updated)
        assert len(outbox_in(con)) == 2  # written, inside the transaction ...
        raise RuntimeError("the disk filled up")

    with pytest.raises(RuntimeError, match="disk"):
        book.save_run([alert(2)], on_saved=then_fail)
    assert book.get(alert(2).id) is None  # ... and gone with the alert when it failed
    assert len(outbox(state)) == 1


def outbox_in(con) -> list:
    return con.execute("SELECT id FROM webhook_outbox").fetchall()


def test_only_alerts_at_or_above_the_configured_severity_are_queued(state):
    levels = ["informational", "low", "medium", "high", "critical"]
    AlertBook(state).save_run(
        [alert(n, severity=level) for n, level in enumerate(levels)],
        on_saved=outbox_hook(settings(min_severity="high")),
    )
    sent = [json.loads(m["payload"])["cyberwell"]["severity"] for m in outbox(state)]
    assert sorted(sent) == ["critical", "high"]


def test_a_suppressed_repeat_is_one_update_of_the_same_alert(state):
    book, hook = AlertBook(state), outbox_hook(settings())
    book.save_run([alert(7, events=3)], on_saved=hook)
    book.save_run([alert(7, events=5)], on_saved=hook)  # the same alert id: two more events
    book.save_run([alert(7, events=5)], on_saved=hook)  # nothing new: no message
    first, second = outbox(state)
    assert first["alert_id"] == second["alert_id"] == alert(7).id
    assert (first["kind"], second["kind"]) == ("new", "update")
    assert second["sequence"] > first["sequence"]
    assert second["idempotency_key"] == f"{alert(7).id}:{second['sequence']}" != first["idempotency_key"]
    update = json.loads(second["payload"])["cyberwell"]
    assert (update["kind"], update["event_count"], update["sequence"]) == ("update", 5, second["sequence"])
    assert book.get(alert(7).id).sequence == second["sequence"]  # type: ignore[union-attr]


def test_claims_take_the_oldest_message_of_each_alert_and_a_lapsed_lease_makes_it_due_again(state):
    book, hook = AlertBook(state), outbox_hook(settings())
    book.save_run([alert(1, events=2), alert(2)], on_saved=hook)
    book.save_run([alert(1, events=4)], on_saved=hook)
    now = datetime.now(UTC)
    claimed = claim_due(state, 10, LEASE, now)
    assert [(m.alert_id, m.kind, m.attempts) for m in claimed] == [(alert(1).id, "new", 1), (alert(2).id, "new", 1)]
    assert claim_due(state, 10, LEASE, now) == []  # held; the update waits behind its alert's new

    # The deliverer died: after the lease the same message is due again, with the same key.
    again = claim_due(state, 10, LEASE, now + LEASE + timedelta(seconds=1))
    assert [(m.idempotency_key, m.attempts) for m in again] == [(c.idempotency_key, 2) for c in claimed]
    # The dead deliverer's late answer is stale: the newer claim decides.
    assert settle(state, [Delivered(claimed[0].id, 1, 200)], "test", "soc:443") == 0
    assert settle(state, [Delivered(m.id, 2, 200) for m in again], "test", "soc:443") == 2
    [update] = claim_due(state, 10, LEASE, now + 2 * LEASE)
    assert (update.alert_id, update.kind) == (alert(1).id, "update")
    assert outbox_status(state).to_dict() | {"parked_messages": []} == {
        "pending": 1,
        "due": 0,
        "delivered": 2,
        "parked": 0,
        "oldest_pending": outbox(state)[2]["created_at"],
        "parked_messages": [],
    }


def test_a_message_waiting_to_be_retried_holds_back_the_rest_of_its_alert(state):
    book, hook = AlertBook(state), outbox_hook(settings())
    book.save_run([alert(1, events=2)], on_saved=hook)
    book.save_run([alert(1, events=4)], on_saved=hook)
    now = datetime.now(UTC)
    [first] = claim_due(state, 10, LEASE, now)
    settle(state, [Retry(first.id, 1, now + timedelta(seconds=30), "HTTP 500")], "test", "soc:443")
    assert claim_due(state, 10, LEASE, now + timedelta(seconds=10)) == []
    [same] = claim_due(state, 10, LEASE, now + timedelta(seconds=31))
    assert same.id == first.id
    assert outbox(state)[0]["last_error"] == "HTTP 500"


def test_parked_messages_are_shown_with_their_reason_and_replay_makes_them_due(state):
    AlertBook(state).save_run([alert(1), alert(2)], on_saved=outbox_hook(settings()))
    now = datetime.now(UTC)
    one, two = claim_due(state, 10, LEASE, now)
    settle(state, [Park(one.id, 1, "HTTP 410 Gone from soc:443: refused, not retried"), Delivered(two.id, 1, 202)],
           "cyberwell deliverer", "soc:443")  # fmt: skip
    status = outbox_status(state)
    assert (status.parked, status.delivered, status.pending) == (1, 1, 0)
    [parked] = status.parked_messages
    assert (parked.id, parked.alert_id, parked.reason) == (
        one.id,
        alert(1).id,
        "HTTP 410 Gone from soc:443: refused, not retried",
    )

    assert replay_parked(state, [one.id, two.id]) == [one.id]  # the delivered one is left alone
    [again] = claim_due(state, 10, LEASE)
    assert (again.id, again.attempts, again.payload) == (one.id, 1, one.payload)
    trail = [(r.kind, r.subject, r.result) for r in reversed(recent_audit(state, kind="delivery"))]
    assert trail == [
        ("delivery", f"webhook:{one.id}", "parked: HTTP 410 Gone from soc:443: refused, not retried"),
        ("delivery", f"webhook:{two.id}", "succeeded"),
        ("delivery", f"webhook:{one.id}", "pending"),
    ]
    assert verify_audit(state).ok


def test_a_status_change_is_appended_to_the_audit_trail(state):
    book = AlertBook(state)
    book.save_run([alert(3)])
    book.set_status(alert(3).id, "closed", "alice", reason="false_positive", note="the printer again")
    [entry] = recent_audit(state, kind="triage")
    assert (entry.actor, entry.subject, entry.what) == (
        "alice",
        f"alert:{alert(3).id}",
        "status new -> closed (false_positive)",
    )
    assert entry.detail["note"] == "the printer again"
    assert verify_audit(state).ok
