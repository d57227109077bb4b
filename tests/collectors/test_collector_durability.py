"""Kill the collector with SIGKILL at random moments, many times: every record is stored once.

A child process runs ``cyberwell collect --once`` over and over against the Graph stand-in
(tests/support/graph_standin.py, in this process so it outlives every kill; its records are Microsoft's
signIn and alert samples from microsoftgraph/microsoft-graph-docs and
microsoft-graph-docs-contrib). Between kills new sign-ins arrive, some late (created before the
newest one stored, inside the overlap), and alerts are updated. At the end one clean pass runs
and the store is compared with the stand-in: each sign-in id exactly once, each alert once in
its latest state (its newest version), and no version twice in the alerts' history.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.live.graph_defender import latest_alerts
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.collectors.test_collect_commands import graph_settings
from tests.support.graph_standin import GraphStandIn, iso, make_alerts, make_signins, sample_alert, sample_signins

REPO = Path(__file__).resolve().parents[2]
SECRET = "durability-secret-q8"
NOW = dt.datetime.now(dt.UTC)
WIDE = (NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=1))
KILLS = 10

#: The child: import once, then collect again and again until killed.
LOOP = """
import sys
from console.cli import app
while True:
    try:
        app(["--home", sys.argv[1], "collect", "--once", "--json"], standalone_mode=False)
    except SystemExit:
        pass
"""


@pytest.fixture
def standin():
    server = GraphStandIn().start()
    server.add_client("cyberwell-app", SECRET)
    server.delay = 0.01
    yield server
    server.stop()


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def write_config(home: Path, standin: GraphStandIn) -> None:
    home.mkdir(parents=True)
    identity = graph_settings(standin, overlap="10m", initial_lookback="2d")
    (home / "cyberwell.toml").write_text(
        f"[collectors.entra-signins]{identity}page_size = 9\n\n[collectors.defender]{identity}page_size = 5\n"
    )


def test_sigkill_at_random_points_loses_and_doubles_nothing(standin, shared_data, tmp_path):
    rng = random.Random(20261127)
    samples = sample_signins(shared_data)
    alerts = make_alerts(sample_alert(shared_data), 40, NOW - dt.timedelta(hours=20), dt.timedelta(minutes=13))
    standin.add(
        signins=make_signins(samples, 400, NOW - dt.timedelta(hours=30), dt.timedelta(minutes=4)), alerts=alerts
    )
    home = tmp_path / "home"
    write_config(home, standin)
    env = dict(os.environ, CW_GRAPH_SECRET=SECRET, PYTHONPATH=str(REPO))
    store = EmbeddedStore(home)
    checkpoints = Checkpoints(store.state)

    killed_mid_collection = 0
    for kill in range(KILLS):
        served_before = len(standin.requests())
        child = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(home)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if kill % 4 == 3:  # now and then anywhere, start-up included
            time.sleep(rng.uniform(0.5, 3.0))
        else:  # mostly at a random moment once it is talking to Graph
            _wait_for(lambda before=served_before: len(standin.requests()) > before)
            time.sleep(rng.uniform(0.0, 1.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        if len(standin.requests()) > served_before:
            killed_mid_collection += 1
        # The world moves on while the collector is down: new sign-ins, late ones, alert updates.
        newest = checkpoints.get("entra-signins")
        anchor = dt.datetime.fromisoformat(newest["signIns"]) if newest else NOW - dt.timedelta(hours=1)
        standin.add(
            signins=make_signins(
                samples, 15, anchor - dt.timedelta(minutes=8), dt.timedelta(seconds=50), seed=f"k{kill}"
            )
        )
        for alert in rng.sample(alerts, 3):
            standin.update_alert(
                alert["id"],
                status=rng.choice(["inProgress", "resolved"]),
                lastUpdateDateTime=iso(dt.datetime.now(dt.UTC)),
            )

    finish = subprocess.run(
        [sys.executable, "-m", "console.cli", "--home", str(home), "collect", "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert killed_mid_collection >= KILLS // 2  # most kills landed while it was talking to Graph

    signins = store.search(["azure.signinlogs"], *WIDE).column("event.id").to_pylist()
    assert len(signins) == len(set(signins))
    assert set(signins) == standin.signin_ids()
    # One event per alert, its own id, in its latest state; every version once in the history.
    latest = latest_alerts(store, *WIDE)
    assert latest.num_rows == store.count(["m365_defender.alert"]) == len(standin.tenant.alerts)
    stored_latest = dict(
        zip(latest.column("event.id").to_pylist(), latest.column("m365_defender.alert.status").to_pylist())
    )
    assert stored_latest == {a["id"]: a["status"] for a in standin.tenant.alerts}
    history = store.search(["m365_defender.alert_history"], *WIDE).column("event.id").to_pylist()
    assert len(history) == len(set(history))
    assert {version.split("@")[0] for version in history} == set(stored_latest)
