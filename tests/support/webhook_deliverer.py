"""Runs the webhook deliverer on a state database as its own process, for the kill tests.

    python tests/support/webhook_deliverer.py STATE_DB SETTINGS_JSON

``SETTINGS_JSON`` is a ``[webhook]`` table as JSON; the secret comes from the environment
variable it names. It runs until SIGTERM (finishing what is in flight) or a SIGKILL (which is
the point: nothing claimed may be lost). ``serve`` will run the same ``run_forever``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playbooks.webhook.deliverer import Deliverer  # noqa: E402
from playbooks.webhook.settings import WebhookSettings  # noqa: E402
from store.state.database import StateDB  # noqa: E402


def main() -> None:
    state = StateDB(Path(sys.argv[1]))
    settings = WebhookSettings.from_dict(json.loads(sys.argv[2]))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print("delivering", flush=True)
    Deliverer(state, settings, settings.load_secret()).run_forever(stopping.is_set)


if __name__ == "__main__":
    main()
