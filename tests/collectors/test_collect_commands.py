"""``cyberwell collect``, ``serve`` and ``status`` as an operator runs them, against the Graph
stand-in (tests/support/graph_standin.py: Microsoft's signIn and alert samples from
microsoftgraph/microsoft-graph-docs and microsoft-graph-docs-contrib).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from store import EmbeddedStore
from store.state.checkpoints import Checkpoints
from tests.support.graph_standin import GraphStandIn, make_alerts, make_signins, sample_alert, sample_signins

REPO = Path(__file__).resolve().parents[2]
SECRET = "cli-secret-Never-printed-5k2"
NOW = dt.datetime.now(dt.UTC)
runner = CliRunner()


@pytest.fixture
def standin(shared_data):
    server = GraphStandIn().start()
    server.add_client("cyberwell-app", SECRET)
    server.add(
        signins=make_signins(sample_signins(shared_data), 40, NOW - dt.timedelta(hours=2), dt.timedelta(minutes=2)),
        alerts=make_alerts(sample_alert(shared_data), 6, NOW - dt.timedelta(hours=1), dt.timedelta(minutes=5)),
    )
    yield server
    server.stop()


def graph_settings(standin: GraphStandIn, **more: str | int | float) -> str:
    """A Graph collector's TOML settings pointing at the stand-in, its secret in CW_GRAPH_SECRET
    (tests/collectors/test_collector_durability.py writes its config with them too)."""
    settings = {
        "tenant_id": standin.tenant_id,
        "client_id": "cyberwell-app",
        "client_secret_env": "CW_GRAPH_SECRET",
        "authority_host": standin.authority,
        "ca_bundle": str(standin.ca_bundle),
        "base_url": standin.graph_url,
        "retry_delay": 0.05,
        **more,
    }
    # JSON's strings and numbers are TOML's too.
    return "\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())


def write_config(home: Path, standin: GraphStandIn, extra: str = "", interval: str = "5m") -> None:
    home.mkdir(parents=True, exist_ok=True)
    identity = graph_settings(standin, interval=interval, page_size=15)
    (home / "cyberwell.toml").write_text(
        f'[collectors.entra-signins]{identity}\n[collectors.defender]{identity}listings = ["alerts_v2"]\n{extra}'
    )


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_collect_runs_every_source_once_and_status_reports_them(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("CW_GRAPH_SECRET", SECRET)
    home = tmp_path / "home"
    write_config(home, standin)

    result = cli(home, "collect", "--once", "--json")

    assert result.exit_code == 0, result.output
    runs = {run["source"]: run for run in json.loads(result.output)}
    assert runs["entra-signins"]["stored"] == 40 and runs["defender"]["stored"] == 6
    assert SECRET not in result.output

    status = cli(home, "status", "--json")
    rows = {row["source"]: row for row in json.loads(status.output)}
    signins = rows["entra-signins"]
    assert signins["last_success"] is not None and signins["last_error"] is None
    assert signins["events_per_minute"] == round(40 / 60, 2)
    newest = max(s["createdDateTime"] for s in standin.tenant.signins)
    lag = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(newest.replace("Z", "+00:00"))).total_seconds()
    assert abs(signins["lag_seconds"] - lag) < 30
    table = cli(home, "status")
    assert "entra-" in table.output and "defender" in table.output  # folded to the terminal width


def test_a_failing_source_exits_1_and_status_shows_its_error(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("CW_GRAPH_SECRET", SECRET)
    home = tmp_path / "home"
    write_config(home, standin)
    standin.fault(
        403,
        path="signIns",
        code="Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        message="Neither tenant is B2C or tenant doesn't have premium license",
    )

    result = cli(home, "collect")

    assert result.exit_code == 1
    assert "P1 or P2" in result.output
    rows = {row["source"]: row for row in json.loads(cli(home, "status", "--json").output)}
    assert rows["entra-signins"]["failing"] and "P1 or P2" in rows["entra-signins"]["last_error"]
    assert not rows["defender"]["failing"]


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[collectors.entra-signins]\ninterval = "soon"\n', "collectors.entra-signins.interval"),
        ('[collectors.entra-signins]\nkinds = ["nonInteractiveUser"]\n', "collectors.entra-signins.kinds"),
        (
            '[collectors.entra-signins]\nclient_secret_env = "NOT_SET_ANYWHERE"\n',
            "collectors.entra-signins.client_secret_env: environment variable NOT_SET_ANYWHERE is not set",
        ),
        ("[collectors.entra-signins]\npage_size = 5000\n", "collectors.entra-signins.page_size"),
        ('[collectors.entra-signins]\ncolour = "blue"\n', "collectors.entra-signins.colour"),
        ("[collectors.mystery]\nenabled = true\n", "collectors.mystery.type"),
    ],
)
def test_config_errors_name_the_key(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("CW_GRAPH_SECRET", SECRET)
    home = tmp_path / "home"
    home.mkdir()
    base = "".join(
        line
        for line in ('tenant_id = "t"\n', 'client_id = "c"\n', 'client_secret_env = "CW_GRAPH_SECRET"\n')
        if line.split(" =")[0] not in extra
    )
    text = extra.replace("]\n", "]\n" + base, 1) if "entra-signins" in extra else extra
    (home / "cyberwell.toml").write_text(text)
    result = cli(home, "collect")
    assert result.exit_code == 2
    assert "".join(message.split()) in "".join(result.output.split())  # rich folds long lines
    assert SECRET not in result.output


def test_no_collectors_configured_says_how_to_add_one(tmp_path):
    result = cli(tmp_path / "home", "collect")
    assert result.exit_code == 2 and "[collectors.<name>]" in result.output


def test_a_disabled_source_is_not_run(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("CW_GRAPH_SECRET", SECRET)
    home = tmp_path / "home"
    write_config(home, standin)
    text = (
        (home / "cyberwell.toml").read_text().replace("[collectors.defender]", "[collectors.defender]\nenabled = false")
    )
    (home / "cyberwell.toml").write_text(text)
    result = cli(home, "collect", "--json")
    assert [run["source"] for run in json.loads(result.output)] == ["entra-signins"]


def _serve(home: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, CW_GRAPH_SECRET=SECRET, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--home", str(home), "serve", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serve_runs_on_intervals_and_stops_cleanly_on_sigterm_mid_batch(standin, tmp_path):
    home = tmp_path / "home"
    write_config(home, standin, interval="1s")
    store = EmbeddedStore(home)
    checkpoints = Checkpoints(store.state)
    process = _serve(home, "--log-level", "DEBUG")
    try:
        _wait_for(lambda: len(checkpoints.runs("entra-signins")) >= 2)  # it runs again after 1 s
        # Make the next sign-in run slow (Graph throttles for 3 s), and stop the daemon during it.
        late = make_signins([standin.tenant.signins[0]], 1, NOW - dt.timedelta(minutes=1), dt.timedelta(0), seed="t")
        standin.add(signins=late)
        standin.fault(429, path="signIns", retry_after="3")
        _wait_for(lambda: standin.requests("signIns")[-1].status == 429)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in err
    last = checkpoints.runs("entra-signins")[-1]
    assert last.error is None and last.stored == 1  # the batch in flight was finished and stored
    newest = dt.datetime.fromisoformat(checkpoints.get("entra-signins")["signIns"])
    assert newest >= dt.datetime.fromisoformat(late[0]["createdDateTime"].replace("Z", "+00:00"))
    assert SECRET not in out and SECRET not in err


def test_syslog_and_azure_firewall_tables_build_their_collectors(tmp_path, monkeypatch):
    from console.live.settings import build_collectors

    tables = {
        "syslog": {"spool_dir": str(tmp_path / "spool"), "udp_port": 0, "tcp_port": False},
        "azure-firewall": {
            "workspace_id": "ws-1",
            "tenant_id": "t",
            "client_id": "c",
            "client_secret_env": "CW_GRAPH_SECRET",
        },
    }
    configured = build_collectors(tables, environ={"CW_GRAPH_SECRET": SECRET}, with_receiver=True)
    assert [c.name for c in configured.collectors] == ["syslog", "azure-firewall"]
    assert type(configured.receiver).__name__ == "SyslogReceiver"
    assert configured.collectors[1].interval.total_seconds() == 300


def test_syslog_source_runs_with_collect(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cyberwell.toml").write_text(f'[collectors.syslog]\nspool_dir = "{tmp_path / "spool"}"\n')
    result = cli(home, "collect", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["source"] == "syslog"


def _receiver_status(home: Path) -> dict:
    result = cli(home, "status", "--json")
    assert result.exit_code == 0, result.output
    return {row["source"]: row for row in json.loads(result.stdout)}["syslog"]["receiver"]


def test_status_tells_a_stopped_receiver_from_a_dead_one_and_shows_its_error_as_written(tmp_path):
    from collectors.live.syslog_receiver import STATS_FILE, SyslogReceiver

    home, spool = tmp_path / "home", tmp_path / "spool"
    home.mkdir()
    (home / "cyberwell.toml").write_text(f'[collectors.syslog]\nspool_dir = "{spool}"\n')
    assert _receiver_status(home)["state"] == "never started"

    receiver = SyslogReceiver({"spool_dir": spool, "udp_port": 0, "tcp_port": None})
    receiver.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(3):
            sender.sendto(f"<134>Mar  1 09:30:0{i} fw1 test {i}".encode(), receiver.addresses["udp"])
    _wait_for(lambda: receiver.stats()["received"] == 3)
    receiver.stop()
    stopped = _receiver_status(home)
    assert (stopped["state"], stopped["running"], stopped["received"], stopped["udp_lost"]) == ("stopped", False, 3, 0)
    assert "UDP datagrams lost" not in cli(home, "status").output

    # What a receiver killed a minute ago leaves behind: "running", but no longer written.
    published = json.loads((spool / STATS_FILE).read_text())
    published.update(
        running=True,
        dropped_udp=7,
        error="[bold red]spool write failed[/] [link=x]",
        updated_at=(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(),
    )
    (spool / STATS_FILE).write_text(json.dumps(published))
    dead = _receiver_status(home)
    assert (dead["state"], dead["running"], dead["udp_lost"]) == ("not responding", False, 7)
    assert 55 <= dead["age_seconds"] <= 120
    table = "".join(cli(home, "status").output.split())  # rich folds long cells
    assert "notresponding" in table and "7UDPdatagramslost" in table
    assert "[boldred]spoolwritefailed[/][link=x]" in table  # shown as written, not as markup


def test_status_with_collectors_serve_would_refuse_still_shows_the_run_records(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cyberwell.toml").write_text("collectors = 5\n")
    Checkpoints(EmbeddedStore(home).state).commit("defender", {"alerts_v2": "2026-03-01T00:00:00Z"})
    result = cli(home, "status", "--json")
    assert result.exit_code == 0
    assert [row["source"] for row in json.loads(result.stdout)] == ["defender"]
    assert "receiver counters not shown: collectors: expected tables" in result.stderr


def test_the_config_reads_collector_tables_into_typed_records(tmp_path):
    from console.config import CollectorTable, load

    (tmp_path / "cyberwell.toml").write_text(
        '[collectors.signins-schools]\ntype = "entra-signins"\ntenant_id = "t"\n\n'
        '[collectors.syslog]\nenabled = false\nspool_dir = "/var/spool/cw"\n'
    )
    tables = load(tmp_path).collectors.checked()
    assert tables == (
        CollectorTable("signins-schools", "entra-signins", True, {"tenant_id": "t"}),
        CollectorTable("syslog", "syslog", False, {"spool_dir": "/var/spool/cw"}),
    )
    assert tables[0].where == "collectors.signins-schools"


@pytest.mark.parametrize(
    "text, message",
    [
        ("collectors = 5\n", "collectors: expected tables [collectors.<name>]"),
        ('[collectors.syslog]\nenabled = "yes"\n', "collectors.syslog.enabled: expected true or false, got 'yes'"),
        ("[collectors.syslog]\ntype = 5\n", "collectors.syslog.type: expected the name of a collector kind"),
    ],
)
def test_a_broken_collectors_section_stops_collect_and_no_other_command(tmp_path, text, message):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cyberwell.toml").write_text(text)
    refused = cli(home, "collect")
    assert refused.exit_code == 2 and message in " ".join(refused.output.split())
    listed = cli(home, "alerts", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.output) == []


def test_an_unknown_kind_names_every_registered_one(tmp_path):
    from console.config import ConfigError
    from console.live.settings import KINDS, build_collectors

    with pytest.raises(ConfigError) as raised:
        build_collectors({"splunk": {}})
    assert str(raised.value).startswith("collectors.splunk.type: unknown collector 'splunk'")
    assert set(KINDS) == {"entra-signins", "defender", "syslog", "azure-firewall"}
    assert all(kind in str(raised.value) for kind in KINDS)


def test_status_takes_the_syslog_spools_from_the_config_given_with_config(tmp_path):
    home, spool, config = tmp_path / "home", tmp_path / "spool", tmp_path / "elsewhere.toml"
    home.mkdir()
    config.write_text(f'[collectors.firewalls]\ntype = "syslog"\nspool_dir = "{spool}"\n')
    result = runner.invoke(app, ["--home", str(home), "--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["source"], row["receiver"]["state"], row["receiver"]["spool_dir"]) == (
        "firewalls",
        "never started",
        str(spool),
    )


def test_building_a_syslog_source_loads_no_microsoft_sdk(tmp_path):
    """Builders import their collector's module when called: the Graph and Azure SDKs are slow."""
    check = (
        "import sys\n"
        "from console.live.settings import build_collectors\n"
        f"build_collectors({{'syslog': {{'spool_dir': {str(tmp_path / 'spool')!r}}}}})\n"
        "print([m for m in ('msgraph', 'azure.identity', 'azure.monitor.query') if m in sys.modules])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
