"""The dashboard keeps up with another process writing to the same home, on both stores.

A second Python process (as ``cyberwell serve`` would) appends events and saves a detection
run's alert through the store interface while the dashboard runs; the queue and the overview
must show it by themselves, without a key pressed or a restart. The Elasticsearch variant uses
the shared node (``CYBERWELL_ES_URL``) or the session's own, like the other Elasticsearch tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from store import EmbeddedStore
from tests.dashboard.test_dashboard_home import fill_home
from tests.dashboard.test_dashboard_pilot import make_app, settle

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[2]

#: The other process: one event and the alert a rule raised over it, into the same home.
WRITER = """
import sys
from datetime import UTC, datetime
import pyarrow as pa
from store.batch import REQUIRED_COLUMNS
from store.state.alert_record import Alert

home, backend = sys.argv[1], sys.argv[2]
if backend == "embedded":
    from store import EmbeddedStore
    store = EmbeddedStore(home)
else:
    from store import ElasticStore
    from store.elastic.client import ElasticSettings
    store = ElasticStore.from_settings(ElasticSettings(hosts=(sys.argv[3],), index_prefix=sys.argv[4]), home)
moment = datetime(2026, 11, 20, 11, 58, tzinfo=UTC)
columns = {"@timestamp": [moment], "event.ingested": [moment], "event.dataset": ["azure.signinlogs"],
           "event.id": ["late-1"], "event.original": ["{}"], "user.name": ["carol@westbrook-dc.gov.uk"]}
types = dict(REQUIRED_COLUMNS)
store.append(pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in columns.items()}))
store.flush()
store.alerts.save_run([Alert.build("rule-late", "Impossible travel (late)", "critical", [],
                                   {"user.name": "carol@westbrook-dc.gov.uk"}, moment, moment, moment, ["late-1"])])
store.close()
"""


def write_from_another_process(*args: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, *args], cwd=REPO, check=True, timeout=60)


async def wait_for(pilot, app, condition, seconds: float = 15.0) -> None:
    """Wait for the dashboard's own refresh (no key pressed) to make ``condition`` true."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the dashboard did not show the new alert by itself"
        await pilot.pause(0.1)


async def see_the_late_alert(store, home: Path, *writer_args: str) -> None:
    app = make_app(store, refresh=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert "3 open of 3" in str(app.screen.query_one("#panel-open", Static).render())
        write_from_another_process(str(home), *writer_args)
        await wait_for(pilot, app, lambda: "4 open of 4" in str(app.screen.query_one("#panel-open", Static).render()))
        await pilot.press("2")
        table = app.screen.query_one("#queue", DataTable)
        await wait_for(pilot, app, lambda: table.row_count == 4)
        assert "Impossible travel (late)" in str(table.get_row_at(0)[2])
        # Still live after being left and come back to: a second write shows too.
        await pilot.press("enter")
        await settle(pilot, app)
        assert "carol@westbrook-dc.gov.uk" in str(app.screen.query_one("#timeline", Static).render())
    # Closing waits for a read in flight, and a read that starts later reads nothing.
    app.ctx.close_store()
    assert app.ctx.closed


async def test_new_alerts_appear_without_a_restart_on_the_embedded_store(tmp_path):
    home = tmp_path / "home"
    store = EmbeddedStore(home)
    fill_home(store)
    await see_the_late_alert(store, home, "embedded")


async def test_new_alerts_appear_without_a_restart_on_elasticsearch(tmp_path, elastic_url, es_prefix):
    from store import ElasticStore
    from store.elastic.client import ElasticSettings

    home = tmp_path / "home"
    store = ElasticStore.from_settings(ElasticSettings(hosts=(elastic_url,), index_prefix=es_prefix), home)
    fill_home(store)
    await see_the_late_alert(store, home, "elasticsearch", elastic_url, es_prefix)
