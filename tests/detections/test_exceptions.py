"""Exceptions (YAML allow-lists with an owner, a reason and an expiry), through the real CLI.

An exception in force takes its events out of the rule's matches and the run counts them; one past
its expiry date stops applying — the events it used to allow raise alerts again — and ``detect``
and ``rules list`` report it by file and name; a malformed one is reported by name while the
others still apply; a global exception applies to every rule whose data has its fields.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.exceptions import apply_exceptions, load_exceptions
from tests.detections import test_alert_volume as volume
from tests.detections.test_alert_volume import ingest, rule_of, run_json, signin

home = volume.home  # the same homes, on both stores

RULE_ID = "7f100d00-0000-4000-8000-000000000003"
RULE = f"""
title: Sign-In From A Partner Address
id: {RULE_ID}
logsource: {{product: azure, service: signinlogs}}
detection:
  selection:
    source.ip|cidr: 198.51.100.0/24
  condition: selection
level: medium
"""

EXCEPTIONS = f"""
exceptions:
  - name: partner-vpn-gateway
    rules: [{RULE_ID}]
    where: {{source.ip: 198.51.100.10}}
    owner: it-infrastructure@westbrook-dc.gov.uk
    reason: The partner's VPN gateway signs in for its service accounts.
    expires: 2999-12-31
  - name: old-migration-host
    rules: [{RULE_ID}]
    where: {{source.ip: [198.51.100.20, 198.51.100.21]}}
    owner: it-infrastructure@westbrook-dc.gov.uk
    reason: The mailbox migration ran from this host.
    expires: 2020-01-31
  - name: missing-owner
    where: {{source.ip: 198.51.100.30}}
    reason: Nobody signed this off.
    expires: 2999-12-31
"""

GLOBAL = """
exceptions:
  - name: test-tenant-user
    where: {user.name: user5@westbrook-dc.gov.uk}
    owner: security@westbrook-dc.gov.uk
    reason: The penetration testers' account.
    expires: 2999-12-31
"""


def setup(home: Path) -> None:
    (home / "rules" / "partner.yml").write_text(RULE)
    (home / "rules" / "exceptions").mkdir()
    (home / "rules" / "exceptions" / "partner.yml").write_text(EXCEPTIONS)
    ips = ["198.51.100.10", "198.51.100.20", "198.51.100.21", "198.51.100.30", "198.51.100.40", "198.51.100.41"]
    ingest(home, "signins.ndjson", [signin(i, ips[i % len(ips)]) for i in range(12)])


def test_an_expired_exception_no_longer_applies_and_is_reported_while_the_others_apply(home):
    setup(home)
    report = run_json(home, "detect", "--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z")

    partner = rule_of(report, RULE_ID)
    assert (partner["matched"], partner["excepted"]) == (10, 2)  # only the gateway's two are allowed
    alerted = {a["group_keys"]["user.name"] for a in run_json(home, "alerts", "list")}
    gateway_users = {f"user{i}@westbrook-dc.gov.uk" for i in range(0, 12, 6)}
    expired_users = {f"user{i}@westbrook-dc.gov.uk" for i in (1, 7, 2, 8)}
    assert not alerted & gateway_users
    assert expired_users <= alerted  # the expired exception no longer hides them

    problems = {p["name"]: p for p in report["problems"]}
    expired = problems["exception 'old-migration-host'"]
    assert "expired on 2020-01-31" in expired["reason"]
    assert expired["path"].endswith("exceptions/partner.yml")
    assert "missing owner" in problems["exception 'missing-owner'"]["reason"]

    listed = {p["name"]: p["reason"] for p in run_json(home, "rules", "list")["problems"]}
    assert "expired on 2020-01-31" in listed["exception 'old-migration-host'"]


def test_a_global_exception_in_the_homes_folder_applies_to_every_rule_with_its_fields(home):
    setup(home)
    (home / "exceptions").mkdir()
    (home / "exceptions" / "pentest.yml").write_text(GLOBAL)
    report = run_json(home, "detect", "--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z")

    assert rule_of(report, RULE_ID)["excepted"] == 3  # the gateway's two and the pen tester's one
    alerted = {a["group_keys"]["user.name"] for a in run_json(home, "alerts", "list")}
    assert "user5@westbrook-dc.gov.uk" not in alerted


def test_the_detect_screen_names_the_expired_exception_and_its_file(home):
    setup(home)
    shown = volume.runner.invoke(
        volume.app,
        ["--home", str(home), "detect", "--from", "2026-11-16T00:00:00Z", "--to", "2026-11-17T00:00:00Z"],
        catch_exceptions=False,
    )
    text = " ".join(shown.output.split())
    assert "Exceptions not applied" in text and "old-migration-host" in text and "expired on 2020-01-31" in text


ADDRESSES = st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.1", None])
PORTS = st.one_of(st.none(), st.sampled_from([80, 443, 1433]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(ADDRESSES, PORTS), max_size=40),
    allowed_ips=st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.1"]), min_size=1, max_size=2),
    allowed_ports=st.one_of(st.none(), st.lists(st.sampled_from([80, 443, 1433]), min_size=1, max_size=2)),
)
def test_an_exception_takes_out_exactly_the_rows_whose_every_field_is_allowed(rows, allowed_ips, allowed_ports):
    where = {"source.ip": allowed_ips, **({"destination.port": allowed_ports} if allowed_ports else {})}
    document = {"exceptions": [{"name": "x", "where": where, "owner": "o", "reason": "r", "expires": date(2999, 1, 1)}]}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "x.yml").write_text(yaml.safe_dump(document))
        [exception], problems = load_exceptions([Path(folder)])
    assert problems == []
    table = pa.table(
        {
            "source.ip": pa.array([ip for ip, _ in rows], pa.string()),
            "destination.port": pa.array([port for _, port in rows], pa.int32()),
        }
    )
    kept, taken = apply_exceptions(table, [exception])

    def allowed(ip, port) -> bool:  # a null never equals an allowed value
        return ip in allowed_ips and (allowed_ports is None or port in allowed_ports)

    expected = [(ip, port) for ip, port in rows if not allowed(ip, port)]
    assert list(zip(kept.column("source.ip").to_pylist(), kept.column("destination.port").to_pylist())) == expected
    assert taken == len(rows) - len(expected)
