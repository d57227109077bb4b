"""The demo scenario generator: deterministic, sized, stories present, normal activity benign, formats real.

Sample data used (via the ``shared_data`` fixture, see ../shared/data/README.md):
- microsoftgraph/microsoft-graph-docs: api-reference/v1.0/api/signin-list.md (Graph signIn shape)
- microsoftgraph/microsoft-graph-docs-contrib: security-list-alerts_v2.md, attacksimulationroot-list-simulations.md,
  usersimulationdetails-list.md (Defender alert and Attack Simulation Training shapes)
- Azure/Azure-Sentinel via CraigRennich/DCSA-Security-Champs-Sentinel-Workshop: Artifacts/Telemetry/sign-in_adelete.csv
  (Log Analytics SigninLogs export columns)
- elastic/integrations: packages/azure/data_stream/firewall_logs/_dev/test/pipeline/*.log (Azure Firewall records)
"""

from __future__ import annotations

import csv
import functools
import json
import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenario import EXPECTED_ALERTS, INGESTABLE_KINDS, generate

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "cyberwell"
LEGACY_CLIENTS = {"IMAP4", "POP3", "Authenticated SMTP", "Exchange ActiveSync"}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario")
    return generate(out, size=20_000)


@pytest.fixture(scope="module")
def big_scenario(tmp_path_factory):
    """Big enough that ordinary activity is dense: stories must still stand out."""
    out = tmp_path_factory.mktemp("big-scenario")
    return generate(out, size=100_000, seed=11)


@functools.lru_cache(maxsize=16)
def ndjson(path: Path) -> list[dict]:
    """Parsed once per file: several tests read the same scenario."""
    with open(path, "rb") as handle:
        return [orjson.loads(line) for line in handle]


def signins(manifest) -> list[dict]:
    return ndjson(manifest.files_of("entra-signins")[0])


def firewall(manifest) -> list[dict]:
    return [r for path in manifest.files_of("azure-firewall") for r in ndjson(path)]


def alerts_of(manifest) -> list[dict]:
    return json.loads(manifest.files_of("defender-alerts")[0].read_bytes())["value"]


def when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def most_in_window(events: list[tuple[float, object]], seconds: float, distinct: bool) -> int:
    """The most events (or distinct values) inside any window of ``seconds``: a sliding window."""
    events = sorted(events, key=lambda e: e[0])
    best, left, counts = 0, 0, Counter()
    for right, (t, value) in enumerate(events):
        counts[value] += 1
        while t - events[left][0] > seconds:
            counts[events[left][1]] -= 1
            if not counts[events[left][1]]:
                del counts[events[left][1]]
            left += 1
        best = max(best, len(counts) if distinct else right - left + 1)
    return best


def correlation(stem: str) -> dict:
    """The correlation section of a Cyberwell rule file (thresholds come from the rules themselves)."""
    docs = list(yaml.safe_load_all((RULES / f"{stem}.yml").read_text()))
    return next(d["correlation"] for d in docs if "correlation" in d)


def timespan_seconds(spec: str) -> int:
    return int(spec[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[spec[-1]]


# --- determinism and size ----------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_size_seed_and_start_give_byte_identical_files(tmp_path):
    first = generate(tmp_path / "a", size=10_000, seed=3)
    second = generate(tmp_path / "b", size=10_000, seed=3)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.stories == second.stories
    other = generate(tmp_path / "c", size=10_000, seed=4)
    assert _tree(tmp_path / "c")["entra-signins.ndjson"] != _tree(tmp_path / "a")["entra-signins.ndjson"]
    # The stories' particulars do not depend on the seed (expected_alerts.yaml relies on it).
    assert other.stories.spray_ip == first.stories.spray_ip
    assert other.stories.fatigue_user == first.stories.fatigue_user


def test_start_moves_the_window_and_the_stories_with_it(tmp_path):
    default = generate(tmp_path / "default", size=10_000)
    moved = generate(tmp_path / "moved", size=10_000, start=datetime(2026, 1, 5, 15, 30))
    assert default.start == datetime(2025, 6, 9, tzinfo=UTC)
    assert moved.start == datetime(2026, 1, 5, tzinfo=UTC)
    assert moved.end - moved.start == timedelta(days=7)
    # In January the UK is on GMT, in June on BST: the spray is at 02:13 UK time either way.
    assert moved.stories.spray_at == datetime(2026, 1, 6, 2, 13, 5, tzinfo=UTC)
    assert default.stories.spray_at == datetime(2025, 6, 10, 1, 13, 5, tzinfo=UTC)
    times = [when(r["createdDateTime"]) for r in signins(moved)]
    assert moved.start.timestamp() <= min(times) and max(times) < moved.end.timestamp()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), start=st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)))
def test_any_seed_and_start_tell_the_same_stories_in_the_window(tmp_path_factory, seed, start):
    """Whatever the seed or start (across clock changes too), the stories keep their places."""
    manifest = generate(tmp_path_factory.mktemp("any"), size=10_000, seed=seed, start=start)
    facts = manifest.stories
    assert manifest.start.date() == start.date() and manifest.end - manifest.start == timedelta(days=7)
    story_times = (
        facts.spray_at,
        facts.compromised_at,
        facts.legacy_at,
        facts.malware_at,
        facts.scan_at,
        facts.bad_ip_at,
        facts.fatigue_at,
    )
    assert all(manifest.start < t < manifest.end for t in story_times)
    assert facts.spray_at - manifest.start in (
        timedelta(hours=25, minutes=13, seconds=5),
        timedelta(hours=26, minutes=13, seconds=5),
    )  # BST or GMT
    records = signins(manifest)
    foreign = {r["ipAddress"] for r in records if r["location"]["countryOrRegion"] != "GB"}
    assert foreign == {facts.spray_ip, facts.compromised_ip}
    spray_users = {r["userPrincipalName"] for r in records if r["ipAddress"] == facts.spray_ip}
    assert spray_users == set(facts.spray_users) and len(spray_users) >= 30
    times = [when(r["createdDateTime"]) for r in records]
    assert manifest.start.timestamp() <= min(times) and max(times) < manifest.end.timestamp()


@pytest.mark.parametrize("size", [10_000, 60_000])
def test_event_counts_follow_the_requested_size(tmp_path, size):
    manifest = generate(tmp_path, size=size)
    total = sum(manifest.counts.values())
    assert abs(total - size) <= size * 0.01
    assert abs(manifest.counts["entra-signins"] - 0.60 * size) <= size * 0.01
    assert abs(manifest.counts["azure-firewall"] - 0.35 * size) <= size * 0.01
    assert manifest.counts["syslog"] > 0 and manifest.counts["defender-alerts"] > 0


def test_manifest_describes_exactly_the_files_written(scenario):
    listed = {f.path for f in (*scenario.files, *scenario.awareness_files)}
    written = {p for p in scenario.files[0].path.parent.rglob("*") if p.is_file()}
    assert listed == written
    assert {f.kind for f in scenario.files} == set(INGESTABLE_KINDS)
    for f in scenario.files:
        if f.path.suffix in (".ndjson", ".log"):
            assert f.records == sum(1 for _ in open(f.path, "rb"))


def test_size_below_the_minimum_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        generate(tmp_path, size=500)


# --- the stories are in the raw output -----------------------------------------------------------


def test_password_spray_from_one_foreign_address(scenario):
    facts = scenario.stories
    spray = [r for r in signins(scenario) if r["ipAddress"] == facts.spray_ip]
    assert {r["status"]["errorCode"] for r in spray} == {50126}
    assert {r["location"]["countryOrRegion"] for r in spray} == {facts.spray_country} != {"GB"}
    assert len({r["userPrincipalName"] for r in spray}) >= 30
    times = [when(r["createdDateTime"]) for r in spray]
    assert max(times) - min(times) <= 25 * 60


def test_mfa_fatigue_then_approval(scenario):
    facts = scenario.stories
    mine = sorted(
        (r for r in signins(scenario) if r["userPrincipalName"] == facts.fatigue_user),
        key=lambda r: r["createdDateTime"],
    )
    denials = [
        r
        for r in mine
        if r["status"]["errorCode"] == 500121
        and r["status"]["additionalDetails"] == "MFA denied; user declined the authentication"
    ]
    assert most_in_window([(when(r["createdDateTime"]), 1) for r in denials], 600, distinct=False) >= 8
    last = max(when(r["createdDateTime"]) for r in denials)
    after = [r for r in mine if when(r["createdDateTime"]) > last and r["ipAddress"] == facts.fatigue_ip]
    assert after and after[0]["status"]["errorCode"] == 0


def test_compromised_account_signs_in_from_two_countries_within_an_hour(scenario):
    facts = scenario.stories
    ok = [
        (when(r["createdDateTime"]), r["location"]["countryOrRegion"])
        for r in signins(scenario)
        if r["userPrincipalName"] == facts.compromised_user and r["status"]["errorCode"] == 0
    ]
    assert set(facts.compromised_countries) == {"GB", "NG"}
    assert most_in_window(ok, 3600, distinct=True) >= 2


def test_legacy_protocol_sign_ins_use_microsofts_client_names(scenario):
    facts = scenario.stories
    legacy = [r for r in signins(scenario) if r["clientAppUsed"] not in ("Browser", "Mobile Apps and Desktop clients")]
    assert {r["clientAppUsed"] for r in legacy} == LEGACY_CLIENTS == set(facts.legacy_clients)
    assert {r["userPrincipalName"] for r in legacy} == {facts.legacy_user}
    assert {r["status"]["errorCode"] for r in legacy} == {0}


def test_malware_alert_names_the_laptop_and_the_file(scenario):
    facts = scenario.stories
    alert = next(a for a in alerts_of(scenario) if a["id"] == facts.malware_alert_id)
    assert (alert["category"], alert["severity"]) == ("Malware", "high")
    devices = [e for e in alert["evidence"] if e["@odata.type"].endswith("deviceEvidence")]
    files = [e for e in alert["evidence"] if e["@odata.type"].endswith("fileEvidence")]
    assert devices[0]["deviceDnsName"] == facts.infected_device == "wbdc-lt-0421"
    assert facts.infected_device_ip in devices[0]["ipInterfaces"]
    assert files and len(files[0]["fileDetails"]["sha256"]) == 64


def test_internal_port_scan_is_mostly_denied(scenario):
    facts = scenario.stories
    records = [
        r
        for r in firewall(scenario)
        if r["category"] == "AZFWNetworkRule"
        and r["properties"]["SourceIp"] == facts.scanning_host
        and r["properties"]["DestinationIp"] == facts.scan_target
    ]
    assert (
        most_in_window([(when(r["time"]), r["properties"]["DestinationPort"]) for r in records], 300, distinct=True)
        >= 100
    )
    actions = Counter(r["properties"]["Action"] for r in records)
    assert actions["Deny"] > 0.9 * len(records)


def test_known_bad_address_hits_threat_intel_after_getting_through(scenario):
    facts = scenario.stories
    to_bad = [r for r in firewall(scenario) if r.get("properties", {}).get("DestinationIp") == facts.bad_ip]
    intel = [r for r in to_bad if r["category"] == "AZFWThreatIntel"]
    allowed = [r for r in to_bad if r["category"] == "AZFWNetworkRule" and r["properties"]["Action"] == "Allow"]
    assert intel and allowed
    assert max(when(r["time"]) for r in allowed) < min(when(r["time"]) for r in intel)
    assert {r["properties"]["SourceIp"] for r in to_bad} == {facts.infected_device_ip}


def test_phishing_campaign_has_clicks_reports_and_training(scenario):
    (sim_file,), pages = scenario.files_of("attack-simulation")[:1], scenario.files_of("attack-simulation")[1:]
    simulation = json.loads(sim_file.read_bytes())["value"][0]
    assert simulation["id"] == scenario.stories.phishing_simulation_id
    people = [u for page in pages for u in json.loads(page.read_bytes())["value"]]
    events = Counter(e["eventName"] for u in people for e in u["simulationEvents"])
    assert events["SuccessfullyDeliveredEmail"] == len(people) > 500
    assert 0 < events["EmailLinkClicked"] < len(people) and events["ReportedEmail"] > 0
    assert any(u["isCompromised"] for u in people)
    trained = [u for u in people if u["trainingEvents"]]
    assert trained and all(any(e["eventName"] == "EmailLinkClicked" for e in u["simulationEvents"]) for u in trained)
    assert {t["latestTrainingStatus"] for u in trained for t in u["trainingEvents"]} <= {
        "assigned",
        "inProgress",
        "completed",
    }


# --- ordinary activity looks like none of the stories ------------------------------------------


@pytest.mark.parametrize("which", ["scenario", "big_scenario"])
def test_ordinary_sign_ins_are_from_gb_on_compliant_devices_with_modern_clients(request, which):
    manifest = request.getfixturevalue(which)
    facts = manifest.stories
    story_ips = {facts.spray_ip, facts.compromised_ip, facts.fatigue_ip}
    ordinary = [
        r for r in signins(manifest) if r["ipAddress"] not in story_ips and r["userPrincipalName"] != facts.legacy_user
    ]
    assert {r["location"]["countryOrRegion"] for r in ordinary} == {"GB"}
    assert {r["clientAppUsed"] for r in ordinary} == {"Browser", "Mobile Apps and Desktop clients"}
    assert all(r["deviceDetail"]["isCompliant"] is True and r["deviceDetail"]["isManaged"] is True for r in ordinary)
    foreign = {r["ipAddress"] for r in signins(manifest) if r["location"]["countryOrRegion"] != "GB"}
    assert foreign == {facts.spray_ip, facts.compromised_ip}


@pytest.mark.parametrize("which", ["scenario", "big_scenario"])
def test_ordinary_sign_ins_stay_under_every_correlation_threshold(request, which):
    manifest = request.getfixturevalue(which)
    facts = manifest.stories
    records = signins(manifest)

    spray = correlation("password_spray")
    by_ip = defaultdict(list)
    for r in records:
        if r["status"]["errorCode"] == 50126:
            by_ip[r["ipAddress"]].append((when(r["createdDateTime"]), r["userPrincipalName"]))
    spray_counts = {ip: most_in_window(ev, timespan_seconds(spray["timespan"]), True) for ip, ev in by_ip.items()}
    assert {ip for ip, n in spray_counts.items() if n >= spray["condition"]["gte"]} == {facts.spray_ip}

    fatigue = correlation("mfa_fatigue")
    by_user = defaultdict(list)
    for r in records:
        if r["status"]["errorCode"] == 500121:
            by_user[r["userPrincipalName"]].append((when(r["createdDateTime"]), 1))
    tired = {
        u
        for u, ev in by_user.items()
        if most_in_window(ev, timespan_seconds(fatigue["timespan"]), False) >= fatigue["condition"]["gte"]
    }
    assert tired == {facts.fatigue_user}

    travel = correlation("signin_two_countries")
    countries = defaultdict(list)
    for r in records:
        if r["status"]["errorCode"] == 0:
            countries[r["userPrincipalName"]].append((when(r["createdDateTime"]), r["location"]["countryOrRegion"]))
    travellers = {
        u
        for u, ev in countries.items()
        if most_in_window(ev, timespan_seconds(travel["timespan"]), True) >= travel["condition"]["gte"]
    }
    assert travellers == {facts.compromised_user}


@pytest.mark.parametrize("which", ["scenario", "big_scenario"])
def test_ordinary_network_traffic_and_alerts_stay_quiet(request, which):
    manifest = request.getfixturevalue(which)
    facts = manifest.stories
    scan = correlation("firewall_port_scan")
    pairs = defaultdict(list)
    for r in firewall(manifest):
        if r["category"] == "AZFWNetworkRule":
            p = r["properties"]
            pairs[(p["SourceIp"], p["DestinationIp"])].append((when(r["time"]), p["DestinationPort"]))
    scanners = {
        pair
        for pair, ev in pairs.items()
        if most_in_window(ev, timespan_seconds(scan["timespan"]), True) >= scan["condition"]["gte"]
    }
    assert scanners == {(facts.scanning_host, facts.scan_target)}
    ordinary_ports = {
        port for pair, ev in pairs.items() if pair != (facts.scanning_host, facts.scan_target) for _, port in ev
    }
    assert ordinary_ports <= {53, 88, 389, 443, 445, 636, 1433, 3389, 8443, 9100}

    intel = [r for r in firewall(manifest) if r["category"] == "AZFWThreatIntel"]
    assert {r["properties"]["DestinationIp"] for r in intel} == {facts.bad_ip}

    severities = Counter(
        (a["severity"], a["category"] == "Malware") for a in alerts_of(manifest) if a["id"] != facts.malware_alert_id
    )
    assert {severity for severity, _ in severities} <= {"informational", "low"}


# --- files are valid in their sources' own formats ----------------------------------------------


def _sample_keys(markdown: Path, indent: str) -> set[str]:
    """Property names at one indentation of the first JSON response in a Graph docs page."""
    text = markdown.read_text(encoding="utf-8", errors="replace")
    block = text[text.index("HTTP/1.1 200 OK") :]
    block = block[: block.index("```")]
    return set(re.findall(rf'^{indent}"([A-Za-z@._]+)"\s*:', block, flags=re.M))


def test_graph_sign_ins_have_every_property_of_microsofts_sample(scenario, shared_data):
    sample = shared_data / "microsoft-graph-docs/api-reference/v1.0/api/signin-list.md"
    expected = _sample_keys(sample, " {12}")
    assert {
        "id",
        "createdDateTime",
        "status",
        "deviceDetail",
        "location",
        "appliedConditionalAccessPolicies",
    } <= expected
    for record in signins(scenario)[:500]:
        assert expected <= set(record)
        assert set(record["status"]) == {"errorCode", "failureReason", "additionalDetails"}
        assert set(record["deviceDetail"]) == {
            "deviceId",
            "displayName",
            "operatingSystem",
            "browser",
            "isCompliant",
            "isManaged",
            "trustType",
        }
        assert set(record["location"]) == {"city", "state", "countryOrRegion", "geoCoordinates"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", record["createdDateTime"])
        uuid.UUID(record["id"])


def test_log_analytics_export_matches_the_portals_csv_and_overlaps_the_graph_file(scenario, shared_data):
    sample = shared_data / "azure-sentinel-training-lab/Artifacts/Telemetry/sign-in_adelete.csv"
    with open(sample, encoding="utf-8-sig", newline="") as handle:
        sample_header = next(csv.reader(handle))
    path = scenario.files_of("entra-signins-la")[0]
    assert path.read_bytes().startswith("\ufeff".encode())
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == sample_header
    for row in rows:
        for column in (
            "AuthenticationDetails",
            "ConditionalAccessPolicies_dynamic",
            "DeviceDetail_dynamic",
            "LocationDetails_dynamic",
            "Status_dynamic",
            "NetworkLocationDetails",
        ):
            json.loads(row[column])
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d\.\d{3} [AP]M", row["CreatedDateTime [UTC]"])
    graph = {r["id"]: r for r in signins(scenario)}
    assert {row["Id"] for row in rows} <= set(graph)
    day = {datetime.fromisoformat(graph[row["Id"]]["createdDateTime"][:10]) for row in rows}
    assert len(day) == 1
    same_day = [
        r
        for r in graph.values()
        if r["createdDateTime"].startswith(next(iter(day)).strftime("%Y-%m-%d")) and r["isInteractive"]
    ]
    assert len(rows) == len(same_day)
    sprayed = [row for row in rows if row["IPAddress"] == scenario.stories.spray_ip]
    assert sprayed and {row["ResultType"] for row in sprayed} == {"50126"}


def _elastic_keys(path: Path) -> set[str]:
    # Some of Elastic's samples are not strict JSON (trailing commas): read the names only.
    return set(re.findall(r'"([A-Za-z]+)"\s*:', path.read_text().split('"properties"', 1)[1].split("}", 1)[0]))


def test_azure_firewall_records_have_the_diagnostic_shape(scenario, shared_data):
    samples = shared_data / "elastic-integrations/packages/azure/data_stream/firewall_logs/_dev/test/pipeline"
    expected = {
        "AZFWNetworkRule": _elastic_keys(samples / "test-azfw-network-rule-structured-raw.log"),
        "AZFWApplicationRule": _elastic_keys(samples / "test-AZFWApplicationRule-raw.log"),
        "AZFWThreatIntel": _elastic_keys(samples / "test-threatintel-raw.log"),
    }
    legacy = re.compile(
        r"^(TCP|UDP|HTTPS|HTTP ) request from [\d.]+:\d+ to \S+:\d+\. (Url: \S+\. )?Action: (Allow|Deny)\. "
    )
    seen = Counter()
    for record in firewall(scenario):
        seen[record["category"]] += 1
        assert record["resourceId"].startswith("/SUBSCRIPTIONS/")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", record["time"])
        if record["category"] in expected:
            assert set(record["properties"]) == expected[record["category"]]
        else:
            assert record["operationName"] in ("AzureFirewallNetworkRuleLog", "AzureFirewallApplicationRuleLog")
            assert legacy.match(record["properties"]["msg"]), record["properties"]["msg"]
    assert set(seen) == {*expected, "AzureFirewallNetworkRule", "AzureFirewallApplicationRule"}


def test_fortigate_lines_are_rfc5424_syslog_with_a_key_value_body(scenario):
    header = re.compile(r"^<189>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WBDC-FGT-THA01 - - - - (date=.*)$")
    pair = re.compile(r'(\w+)=("[^"]*"|\S+)')
    with open(scenario.files_of("syslog")[0], encoding="utf-8") as handle:
        for line in handle:
            match = header.match(line.rstrip("\n"))
            assert match, line
            fields = dict(pair.findall(match[1]))
            assert fields["type"] == '"traffic"' and fields["logid"] == '"0000000013"'
            assert {"srcip", "dstip", "dstport", "action", "eventtime", "tz", "devname"} <= set(fields)


def test_defender_and_simulation_json_have_graphs_shapes(scenario, shared_data):
    docs = shared_data / "microsoft-graph-docs-contrib/api-reference/v1.0/api"
    alert_keys = _sample_keys(docs / "security-list-alerts_v2.md", " {6}")
    assert {"id", "severity", "category", "evidence"} <= alert_keys
    for alert in alerts_of(scenario):
        assert alert_keys <= set(alert)
        assert alert["severity"] in ("informational", "low", "medium", "high")
    simulation = json.loads(scenario.files_of("attack-simulation")[0].read_bytes())["value"][0]
    assert _sample_keys(docs / "attacksimulationroot-list-simulations.md", " {6}") <= set(simulation)
    user_keys = _sample_keys(docs / "usersimulationdetails-list.md", " {6}")
    pages = [json.loads(p.read_bytes()) for p in scenario.files_of("attack-simulation")[1:]]
    assert all("@odata.nextLink" in page for page in pages[:-1]) and "@odata.nextLink" not in pages[-1]
    for page in pages:
        for user in page["value"]:
            assert user_keys <= set(user)


# --- the rules and the expected alerts -----------------------------------------------------------


def _rule_docs() -> dict[str, list[dict]]:
    return {p.stem: list(yaml.safe_load_all(p.read_text())) for p in sorted(RULES.glob("*.yml"))}


def test_cyberwell_rules_load_with_pysigma_without_errors():
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    for path in sorted(RULES.glob("*.yml")):
        collection = SigmaCollection.from_yaml(path.read_text(), collect_errors=True)
        collection.resolve_rule_references()
        assert not collection.errors, (path.name, collection.errors)
        for rule in collection.rules:
            assert not rule.errors, (path.name, rule.errors)
            assert rule.name and rule.author == "Cyberwell" and rule.level is not None
            assert any(str(tag).startswith("attack.t") for tag in rule.tags)
        if any(isinstance(r, SigmaCorrelationRule) for r in collection.rules):
            assert len(collection.rules) == 2, "a correlation file holds one base rule and its correlation"


def test_every_rule_has_metadata_and_its_own_test_events():
    ids, names = set(), set()
    for stem, docs in _rule_docs().items():
        for doc in docs:
            assert uuid.UUID(doc["id"]).version == 4 and doc["id"] not in ids
            ids.add(doc["id"])
            assert doc["name"].startswith("cyberwell-") and doc["name"] not in names
            names.add(doc["name"])
            assert doc["title"] and doc["description"] and doc["date"] and doc["falsepositives"]
            if "logsource" in doc:
                assert doc["logsource"] in (
                    {"product": "azure", "service": "signinlogs"},
                    {"product": "azure", "service": "firewall"},
                    {"product": "m365_defender", "service": "alert"},
                    {"category": "firewall"},
                )
        tests = yaml.safe_load((RULES / "tests" / f"{stem}.yaml").read_text())
        rule_names = {d["name"] for d in docs}
        assert tests["rule"] in rule_names and tests["mode"] in ("each", "together")
        assert tests["match"] and tests["no_match"]
        assert set(tests.get("base") or {}) <= rule_names
        for event in tests["match"] + tests["no_match"]:
            assert "@timestamp" in event and "event.dataset" in event
    assert {p.stem for p in (RULES / "tests").glob("*.yaml")} == set(_rule_docs())


def test_expected_alerts_name_the_shipped_rules_and_the_stories_facts(scenario):
    expected = yaml.safe_load(EXPECTED_ALERTS.read_text())
    rules = {d["name"]: d for docs in _rule_docs().values() for d in docs}
    listed = [a for story in expected["stories"].values() for a in story["alerts"] if a["source"] == "cyberwell"]
    for alert in listed:
        rule = rules[alert["rule"]]
        assert (rule["id"], rule["title"], rule["level"]) == (alert["id"], alert["title"], alert["level"])
        assert ("correlation" in rule) == ("group" in alert)
    for alert in (a for story in expected["stories"].values() for a in story["alerts"] if a["source"] == "sigmahq"):
        vendored = [
            yaml.safe_load(p.read_text())
            for p in (REPO / "rules" / "sigmahq").rglob("*.yml")
            if f"id: {alert['id']}" in p.read_text()
        ]
        assert [(r["title"], r["level"]) for r in vendored] == [(alert["title"], alert["level"])]
    # Every shipped rule that raises high or critical alerts belongs to a story.
    raising = {n for n, d in rules.items() if d["level"] in ("high", "critical")}
    assert raising == {a["rule"] for a in listed}
    facts = scenario.stories
    stories = expected["stories"]
    assert stories["password_spray"]["alerts"][0]["group"] == {"source.ip": facts.spray_ip}
    assert stories["mfa_fatigue"]["alerts"][0]["group"] == {"user.name": facts.fatigue_user}
    assert stories["compromised_account"]["alerts"][0]["group"] == {"user.name": facts.compromised_user}
    assert stories["legacy_protocols"]["alerts"][0]["fields"]["user.name"] == facts.legacy_user
    assert stories["malware"]["alerts"][0]["fields"]["host.name"] == facts.infected_device
    assert stories["internal_port_scan"]["alerts"][0]["group"] == {
        "source.ip": facts.scanning_host,
        "destination.ip": facts.scan_target,
    }
    assert stories["known_bad_address"]["alerts"][0]["fields"]["destination.ip"] == facts.bad_ip
    legacy = [
        r
        for r in signins(scenario)
        if r["userPrincipalName"] == facts.legacy_user and r["clientAppUsed"] in LEGACY_CLIENTS
    ]
    assert len(legacy) == stories["legacy_protocols"]["alerts"][0]["events"]
    intel = [r for r in firewall(scenario) if r["category"] == "AZFWThreatIntel"]
    assert len(intel) == stories["known_bad_address"]["alerts"][0]["events"]


# --- the real parsers read every file -------------------------------------------------------------


@pytest.mark.parametrize("kind", INGESTABLE_KINDS)
def test_collectors_parse_every_generated_file_without_quarantine(scenario, kind):
    from collectors import replay

    for path in scenario.files_of(kind):
        parsed = quarantined = 0
        reasons = Counter()
        for batch in replay.batches(path, kind):
            parsed += batch.count
            quarantined += len(batch.quarantined)
            reasons.update(q.reason for q in batch.quarantined)
        records = next(f.records for f in scenario.files if f.path == path)
        assert quarantined == 0, reasons.most_common(3)
        assert parsed == records
