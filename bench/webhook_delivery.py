"""Benchmark the SOC webhook deliverer: N alerts delivered to a local receiver process.

    .venv/bin/python bench/webhook_delivery.py --alerts 10000 [--concurrency 16]

Stores N alerts with the outbox hook (one transaction, as a detection run does), starts the
test receiver (tests/support/webhook_receiver.py, which verifies every signature and records every
request) on 127.0.0.1, and times ``Deliverer.deliver_due`` until every message is delivered.
Prints deliveries/s, seconds and the peak memory of this process. Writing the alerts is not
timed; the receiver runs in its own process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playbooks.webhook.deliverer import Deliverer  # noqa: E402
from playbooks.webhook.hook import outbox_hook  # noqa: E402
from playbooks.webhook.settings import Secret, WebhookSettings  # noqa: E402
from store.state.alerts import AlertBook  # noqa: E402
from store.state.database import StateDB  # noqa: E402
from store.state.outbox import outbox_status  # noqa: E402
from tests.support.webhook_alerts import alert  # noqa: E402
from tests.support.webhook_receiver import ReceiverProcess  # noqa: E402

SECRET = "bench-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        receiver = ReceiverProcess(Path(folder), SECRET).start()
        try:
            table = {"url": receiver.url, "secret_env": "UNUSED", "concurrency": args.concurrency}
            settings = WebhookSettings.from_dict(table | {"batch_size": args.batch_size})
            state = StateDB(Path(folder) / "state.sqlite")
            AlertBook(state).save_run([alert(n) for n in range(args.alerts)], on_saved=outbox_hook(settings))
            began = time.perf_counter()
            tally = Deliverer(state, settings, Secret(SECRET.encode())).deliver_due()
            seconds = time.perf_counter() - began
            status = outbox_status(state)
            received = receiver.requests()
        finally:
            receiver.stop()
    assert status.delivered == args.alerts == tally.delivered, status.to_dict()
    assert len(received) == args.alerts and all(r["signature_ok"] for r in received)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"alerts delivered   {tally.delivered}")
    print(f"deliveries/s       {tally.delivered / seconds:,.0f}")
    print(f"seconds            {seconds:.2f}")
    print(f"peak memory        {peak:.0f} MiB (this process; the receiver is another)")


if __name__ == "__main__":
    main()
