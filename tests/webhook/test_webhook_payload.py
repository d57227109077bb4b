"""What the SOC partner receives: payloads that validate against the shipped JSON Schemas, a
signature the documented receiver example accepts, and settings that name what is wrong."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playbooks.webhook.payload import alert_payload, body, notice_payload, schema
from playbooks.webhook.settings import WebhookConfigError, WebhookSettings
from playbooks.webhook.signing import signed_headers, verify
from tests.support.webhook_alerts import alert, alerts

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhook.md"
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def validate(payload: dict, shape: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(shape))
    jsonschema.Draft202012Validator(schema(shape), format_checker=FORMAT_CHECKER).validate(payload)


@settings(max_examples=150, deadline=None)
@given(alerts(), st.sampled_from(["new", "update"]), st.sampled_from(["ecs", "ocsf"]))
def test_every_alert_payload_validates_against_its_schema(generated, kind, shape):
    payload = json.loads(body(alert_payload(generated, kind, shape)))  # as the receiver parses it
    validate(payload, shape)
    own = payload["cyberwell"] if shape == "ecs" else payload["unmapped"]["cyberwell"]
    assert (own["alert_id"], own["kind"], own["sequence"]) == (generated.id, kind, generated.sequence)
    assert own["sample_event_ids"] == generated.event_ids[:20]


def test_the_ocsf_shape_is_a_detection_finding_with_attack_techniques():
    payload = alert_payload(alert(4, tags=["attack.credential-access", "attack.t1110.003"]), "update", "ocsf")
    assert (payload["class_uid"], payload["activity_id"], payload["type_uid"]) == (2004, 2, 200402)
    assert payload["finding_info"]["attacks"] == [
        {"technique": {"uid": "T1110.003"}},
        {"tactic": {"uid": "TA0006", "name": "credential_access"}},
    ]
    assert payload["observables"] == [
        {"name": "user.name", "type_id": 0, "type": "Unknown", "value": "user4@council.gov.uk"}
    ]


def test_a_payload_missing_what_the_schema_requires_is_refused():
    payload = alert_payload(alert(1), "new", "ecs")
    del payload["cyberwell"]["sequence"]
    with pytest.raises(jsonschema.ValidationError, match="sequence"):
        validate(payload, "ecs")


@given(st.text(min_size=1, max_size=300), st.one_of(st.none(), st.text(max_size=64)))
def test_a_playbook_notice_validates_against_its_schema(summary, alert_id):
    validate(json.loads(body(notice_payload(summary, alert_id, "run-1:step-2"))), "notice")


def documented_verifier():
    """The receiver example from docs/webhook.md, run as a receiver would copy it."""
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    return scope["verify_cyberwell"]


@settings(max_examples=60, deadline=None)
# HMAC pads a short key with zero bytes, so a change to the key is one with a byte that is not zero.
@given(st.binary(min_size=1, max_size=64), st.binary(max_size=2000), st.binary(min_size=1, max_size=50).filter(any))
def test_the_signature_verifies_with_the_documented_example_and_fails_when_anything_changes(secret, payload, change):
    verify_example = documented_verifier()
    headers = signed_headers(secret, payload, "alert:7", "alert.new")
    assert verify_example(secret, headers, payload)
    assert verify(secret, headers["X-Cyberwell-Timestamp"], payload, headers["X-Cyberwell-Signature"])
    assert not verify_example(secret, headers, payload + change)
    assert not verify_example(secret + change, headers, payload)
    moved = {**headers, "X-Cyberwell-Timestamp": str(int(headers["X-Cyberwell-Timestamp"]) + 1)}
    assert not verify_example(secret, moved, payload)


def test_an_old_timestamp_is_refused_even_with_a_good_signature():
    secret, payload = b"s3cret", b'{"a":1}'
    stale = signed_headers(secret, payload, "k", "alert.new", now=time.time() - 301)
    assert not documented_verifier()(secret, stale, payload)
    assert stale["X-Cyberwell-Signature"].startswith("v1=")
    assert {"Idempotency-Key": "k", "X-Cyberwell-Event": "alert.new"}.items() <= stale.items()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"url": "https://soc.example.net", "secret_env": "S", "colour": "red"},
            r"\[webhook\]: unknown key\(s\) colour",
        ),
        ({"url": "https://soc.example.net", "secret": "hunter2"}, r"\[webhook\]\.secret: never inline"),
        ({"url": "https://soc.example.net"}, "exactly one of secret_env or secret_file"),
        ({"url": "http://soc.example.net", "secret_env": "S"}, r"\.url: plain http is only allowed to this machine"),
        ({"url": "https://u:p@soc.example.net", "secret_env": "S"}, r"\.url: no credentials in the URL"),
        (
            {"url": "https://soc.example.net", "secret_env": "S", "format": "cef"},
            r"\.format: expected one of ecs, ocsf",
        ),
        ({"url": "https://soc.example.net", "secret_env": "S", "min_severity": "urgent"}, r"\.min_severity: expected"),
        ({"url": "https://soc.example.net", "secret_env": "S", "max_attempts": "3"}, r"\.max_attempts: expected int"),
        ({"url": "https://soc.example.net", "secret_env": "S", "timeout": 90}, r"\.lease: expected more seconds"),
    ],
)
def test_settings_name_the_key_that_is_wrong(table, message):
    with pytest.raises(WebhookConfigError, match=message) as caught:
        WebhookSettings.from_dict(table)
    assert "hunter2" not in str(caught.value)


def test_the_secret_comes_from_the_environment_or_a_file_and_never_shows(tmp_path, monkeypatch):
    monkeypatch.setenv("SOC_SECRET", "hunter2")
    from_env = WebhookSettings.from_dict({"url": "https://soc.example.net/x?token=abc", "secret_env": "SOC_SECRET"})
    secret = from_env.load_secret()
    assert secret.reveal() == b"hunter2"
    assert "hunter2" not in repr(secret) + str(secret)
    assert from_env.target == "soc.example.net:443"  # what errors and the audit trail name
    (tmp_path / "secret").write_text("from-a-file\n")
    from_file = WebhookSettings.from_dict({"url": "https://soc.example.net", "secret_file": "secret"})
    assert from_file.load_secret(tmp_path).reveal() == b"from-a-file"
    missing = WebhookSettings.from_dict({"url": "https://soc.example.net", "secret_env": "NOT_SET_ANYWHERE"})
    with pytest.raises(WebhookConfigError, match="NOT_SET_ANYWHERE is not set"):
        missing.load_secret()
