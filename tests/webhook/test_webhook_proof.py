"""The proof (issue 12, point 5): a real receiver process that fails 30% of requests, sometimes
hangs past the client's timeout and goes away for a while, and a real deliverer process that is
SIGKILLed mid-flight. Every alert arrives, repeats carry the same idempotency key and the same
body, every signature verifies, and the messages of one alert arrive in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from playbooks.webhook.hook import outbox_hook
from playbooks.webhook.settings import WebhookSettings
from store.state.alerts import AlertBook
from store.state.database import StateDB
from store.state.outbox import outbox_status
from tests.support.webhook_alerts import alert
from tests.support.webhook_receiver import ReceiverProcess

SECRET = "proof-secret-91c2"
RUNNER = Path(__file__).resolve().parents[1] / "support" / "webhook_deliverer.py"


class DelivererProcess:
    def __init__(self, state_path: Path, table: dict):
        self.state_path, self.table = state_path, table
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "CYBERWELL_TEST_WEBHOOK_SECRET": SECRET}
        command = [sys.executable, str(RUNNER), str(self.state_path), json.dumps(self.table)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "delivering"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


@pytest.fixture
def processes(tmp_path):
    receiver = ReceiverProcess(tmp_path, SECRET)
    made: list[DelivererProcess] = []

    def deliverer(**extra) -> DelivererProcess:
        table = {"url": receiver.url, "secret_env": "CYBERWELL_TEST_WEBHOOK_SECRET", "timeout": 0.5, "lease": 2.0}
        table |= {"backoff_base": 0.05, "backoff_max": 1.0, "max_attempts": 10_000, "concurrency": 16, **extra}
        made.append(DelivererProcess(tmp_path / "state.sqlite", table))
        return made[-1]

    yield receiver, deliverer
    for process in made:
        process.kill()
    receiver.stop()


def write_alerts(state: StateDB, url: str, count: int, updated: int) -> None:
    """``count`` alerts, then a suppressed repeat (more events) of the first ``updated``."""
    hook = outbox_hook(WebhookSettings.from_dict({"url": url, "secret_env": "X"}))
    book = AlertBook(state)
    book.save_run([alert(n) for n in range(count)], on_saved=hook)
    book.save_run([alert(n, events=6) for n in range(updated)], on_saved=hook)


def wait_delivered(state: StateDB, expected: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (status := outbox_status(state)).delivered < expected:
        assert time.monotonic() < deadline, f"not all delivered in time: {status.to_dict()}"
        time.sleep(0.2)
    assert (status.pending, status.parked) == (0, 0)


def check_received(state: StateDB, requests: list[dict]) -> dict[str, list[dict]]:
    """Everything the outbox holds arrived, signed, the same bytes under one key, in order per
    alert. Returns the requests by idempotency key."""
    with state.connect() as con:
        messages = {key: (alert_id, seq) for key, alert_id, seq in con.execute(
            "SELECT idempotency_key, alert_id, sequence FROM webhook_outbox")}  # fmt: skip
    by_key: dict[str, list[dict]] = defaultdict(list)
    for request in requests:
        by_key[request["key"]].append(request)
    assert all(r["signature_ok"] for r in requests), "every signature verifies"
    assert set(by_key) == set(messages), "nothing but the outbox's messages was sent"
    for key, attempts in by_key.items():
        assert any(r["status"] == 200 for r in attempts), f"{key} never arrived"
        assert len({r["body_sha256"] for r in attempts}) == 1, f"{key} was sent with different bodies"
        assert {(r["alert_id"], r["sequence"]) for r in attempts} == {messages[key]}
    for key, (alert_id, sequence) in messages.items():
        earlier = [k for k, (a, s) in messages.items() if a == alert_id and s < sequence]
        for before in earlier:  # an update is first sent after its alert's new was accepted
            accepted = min(r["at"] + r["delay"] for r in by_key[before] if r["status"] == 200)
            assert min(r["at"] for r in by_key[key]) >= accepted
    return by_key


def test_every_alert_arrives_through_failures_hangs_and_an_absent_receiver(tmp_path, processes):
    receiver, deliverer = processes
    receiver.start(
        "--fail-rate", "0.3", "--hang-rate", "0.05", "--hang-seconds", "1.5", "--retry-after", "1", "--seed", "12"
    )
    state = StateDB(tmp_path / "state.sqlite")
    write_alerts(state, receiver.url, count=300, updated=100)
    deliverer().start()
    while outbox_status(state).delivered < 100:
        time.sleep(0.05)
    receiver.stop()  # gone for a while, mid-delivery
    time.sleep(2.0)
    assert outbox_status(state).pending > 0
    receiver.start()  # back on the same port, as unreliable as before
    wait_delivered(state, 400, seconds=120)

    requests = receiver.requests()
    by_key = check_received(state, requests)
    statuses = {r["status"] for r in requests}
    assert {200, 500, 503} <= statuses and any(r["delay"] > 0.5 for r in requests)  # the chaos happened
    repeated = [key for key, attempts in by_key.items() if len(attempts) > 1]
    assert len(repeated) > 50  # and was survived by sending again under the same key
    kinds = defaultdict(list)
    for r in sorted(requests, key=lambda r: r["at"]):
        if r["status"] == 200 and r["kind"] not in kinds[r["alert_id"]]:
            kinds[r["alert_id"]].append(r["kind"])
    assert sum(k == ["new", "update"] for k in kinds.values()) == 100
    assert sum(k == ["new"] for k in kinds.values()) == 200


def test_a_deliverer_killed_mid_flight_loses_nothing(tmp_path, processes):
    receiver, deliverer = processes
    receiver.start("--hang-rate", "1.0", "--hang-seconds", "0.2")  # every answer takes 0.2 s
    state = StateDB(tmp_path / "state.sqlite")
    write_alerts(state, receiver.url, count=400, updated=50)
    first = deliverer(timeout=1.0)
    first.start()
    while outbox_status(state).delivered < 60:
        time.sleep(0.02)
    first.kill()  # SIGKILL: no chance to finish or settle anything
    with state.connect() as con:
        (held,) = con.execute("SELECT count(*) FROM webhook_outbox WHERE state = 'pending' AND attempts > 0").fetchone()
    assert held > 0  # claimed and in flight when it died
    assert outbox_status(state).delivered < 450

    deliverer(timeout=1.0).start()
    wait_delivered(state, 450, seconds=120)
    by_key = check_received(state, receiver.requests())
    sent_twice = [key for key, attempts in by_key.items() if len(attempts) > 1]
    assert sent_twice  # what was in flight went again, under the same key, with the same body
    assert len({r["pid"] for r in receiver.requests()}) == 1
