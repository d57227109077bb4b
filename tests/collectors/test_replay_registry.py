"""The parser registry: every kind it names replays into a store, and it is what the command accepts.

Samples are one tiny valid record per kind, built by the helpers each parser's own tests use.
"""

from __future__ import annotations

import json

import orjson
import pytest
from typer.testing import CliRunner

from collectors.formats.registry import SOURCE_FORMATS, SOURCE_KINDS, SourceFormat, source_format
from collectors.replay import UnknownSource, ingest
from console.cli import app
from scenario import INGESTABLE_KINDS
from store import EmbeddedStore
from tests.console.test_cli import signin
from tests.parsers.test_parse_azure_firewall import legacy
from tests.parsers.test_parse_defender_alerts import mde_alert
from tests.parsers.test_parse_entra_signins_la import la_row
from tests.parsers.test_parse_syslog import FORTI


def _ndjson(*records: dict) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


#: Kind -> (file name, its content, the dataset its events land in).
SAMPLES: dict[str, tuple[str, bytes, str]] = {
    "entra-signins": ("signins.ndjson", _ndjson(signin(1)), "azure.signinlogs"),
    "entra-signins-la": ("signinlogs.json", _ndjson(la_row(signin(2))), "azure.signinlogs"),
    "defender-alerts": ("alerts.ndjson", _ndjson(mde_alert()), "m365_defender.alert"),
    "azure-firewall": (
        "firewall.ndjson",
        _ndjson(legacy("UDP request from 10.0.0.9:5353 to 10.0.0.53:53. Action: Allow. ")),
        "azure.firewall",
    ),
    "syslog": ("fw.log", f"<189>Mar  1 09:30:00 FGT-CORE {FORTI}\n".encode(), "fortinet.firewall"),
}


def _words(text: str) -> str:
    """Output as words, whatever a terminal's width wrapped (and a help panel's borders)."""
    return " ".join(text.replace("│", " ").split())


def test_every_kind_has_a_sample_here():
    assert tuple(SAMPLES) == SOURCE_KINDS


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_registered_kind_replays_a_sample_into_the_store(tmp_path, kind):
    name, content, dataset = SAMPLES[kind]
    export = tmp_path / name
    export.write_bytes(content)
    store = EmbeddedStore(tmp_path / "home")
    result = ingest(store, [export], kind)
    assert (result.ingested, result.quarantined, result.duplicates) == (1, 0, 0)
    assert store.datasets()[dataset] == 1
    assert store.state.quarantined() == []


def test_a_store_view_is_what_the_kind_writes_through(tmp_path):
    """Defender alerts are written through their history view: each version is kept there too."""
    name, content, _ = SAMPLES["defender-alerts"]
    assert source_format("defender-alerts").store_view is not None
    export = tmp_path / name
    export.write_bytes(content)
    store = EmbeddedStore(tmp_path / "home")
    ingest(store, [export], "defender-alerts")
    assert store.datasets()["m365_defender.alert_history"] == 1


def test_every_loader_gives_a_record_with_a_parse_file():
    for kind, load in SOURCE_FORMATS.items():
        record = load()
        assert isinstance(record, SourceFormat), kind
        assert callable(record.parse_file), kind


def test_an_unknown_kind_is_refused_with_the_kinds_there_are(tmp_path):
    export = tmp_path / "any.ndjson"
    export.write_bytes(_ndjson(signin(1)))
    with pytest.raises(UnknownSource) as refused:
        ingest(EmbeddedStore(tmp_path / "home"), [export], "okta-signins")
    message = str(refused.value)
    assert "'okta-signins'" in message
    assert message.endswith("expected one of: " + ", ".join(SOURCE_KINDS))


def test_the_command_accepts_exactly_the_registered_kinds(tmp_path):
    runner = CliRunner()
    helped = runner.invoke(app, ["ingest", "--help"], catch_exceptions=False)
    assert "Source kind: " + ", ".join(SOURCE_KINDS) + "." in _words(helped.output)

    home = str(tmp_path / "home")
    for kind in SOURCE_KINDS:
        name, content, _ = SAMPLES[kind]
        export = tmp_path / name
        export.write_bytes(content)
        run = runner.invoke(
            app, ["--home", home, "ingest", str(export), "--source", kind, "--json"], catch_exceptions=False
        )
        assert run.exit_code == 0, run.output
        assert json.loads(run.output)["ingested"] == 1

    refused = runner.invoke(
        app, ["--home", home, "ingest", str(export), "--source", "okta-signins"], catch_exceptions=False
    )
    assert refused.exit_code != 0
    assert "expected one of: " + ", ".join(SOURCE_KINDS) in _words(refused.output)


def test_the_scenario_writes_every_kind_replay_reads():
    assert tuple(INGESTABLE_KINDS) == SOURCE_KINDS


def test_samples_are_files_the_parsers_read_whole(tmp_path):
    """The samples are small enough that replay hands each file to ``parse_file`` (no chunking)."""
    for kind, (name, content, _) in SAMPLES.items():
        path = tmp_path / name
        path.write_bytes(content)
        batch = source_format(kind).parse_file(path)
        assert (batch.count, batch.quarantined) == (1, []), kind
