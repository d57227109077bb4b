"""defender.isolate_device and defender.release_device against the stand-in on 127.0.0.1: the
exact machine-action requests, Defender's "already" answers taken as success, refusals naming
Machine.Isolate, throttling within and beyond the bound, and a fresh token after a 401."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from microsoft.defender_endpoint import SCOPE
from playbooks.actions.defender_devices import IsolateArguments
from playbooks.actions.registry import build_actions
from playbooks.actions.settings import ActionSettings
from tests.support.action_standin import ActionStandIn, Answer

MACHINE = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"
ISOLATE = f"/api/machines/{MACHINE}/isolate"
RELEASE = f"/api/machines/{MACHINE}/unisolate"
ACCEPTED = {"id": "b89eb834-4578-496c-8be0-03f004061435", "type": "Isolate", "status": "Pending"}


@pytest.fixture
def standin():
    running = ActionStandIn().start()
    yield running
    running.stop()


def actions(standin: ActionStandIn, **defender):
    table = {"base_url": standin.url, "retry_delay": 0.05, **defender}
    return build_actions(ActionSettings.from_dict({"defender": table}), standin.credential)


def run(action, **arguments):
    return asyncio.run(action.run(action.arguments(**arguments), "run-3-step-1"))


def test_isolate_posts_comment_and_isolation_type_with_the_defender_token(standin):
    standin.on("POST", ISOLATE, Answer(201, ACCEPTED))
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE.upper(), comment="Malware alert 42")

    assert result.outcome == "succeeded", result.summary
    assert ACCEPTED["id"] in result.summary and result.detail["changed"] is True
    (sent,) = standin.requests()
    assert (sent.method, sent.path, sent.query) == ("POST", ISOLATE, {})
    assert sent.body == {"Comment": "Malware alert 42", "IsolationType": "Full"}
    assert sent.headers["content-type"] == "application/json"
    assert sent.bearer == standin.tokens[-1]
    assert standin.scopes == [SCOPE]


def test_release_posts_unisolate_with_the_comment(standin):
    standin.on("POST", RELEASE, Answer(201, {**ACCEPTED, "type": "Unisolate"}))
    result = run(actions(standin)["defender.release_device"], machine_id=MACHINE, comment="Cleaned")

    assert result.outcome == "succeeded", result.summary
    (sent,) = standin.requests()
    assert (sent.path, sent.body) == (RELEASE, {"Comment": "Cleaned"})


@pytest.mark.parametrize(
    "error",
    [
        {"code": "ActiveRequestAlreadyExists", "message": "Action is already in progress"},
        {"code": "BadRequest", "message": "Can't isolate machine: machine is already isolated"},
    ],
)
def test_a_device_already_isolated_or_being_isolated_is_a_success_without_a_second_request(standin, error):
    standin.on("POST", ISOLATE, Answer(400, {"error": error}))
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="again")

    assert result.outcome == "succeeded", result.summary
    assert result.detail["changed"] is False
    assert len(standin.requests()) == 1


def test_another_400_is_a_failure_with_defenders_reason(standin):
    standin.on("POST", ISOLATE, Answer(400, {"error": {"code": "InvalidRequestBody", "message": "Comment missing"}}))
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="x")
    assert result.outcome == "failed" and "InvalidRequestBody: Comment missing" in result.summary
    assert result.retryable is False


def test_a_403_names_machine_isolate(standin):
    standin.on("POST", ISOLATE, Answer(403, {"error": {"code": "Forbidden", "message": "Missing role"}}))
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="x")
    assert result.outcome == "failed" and result.retryable is False
    assert "Machine.Isolate" in result.summary and "403 Forbidden" in result.summary


def test_a_429_with_retry_after_is_waited_for_then_retried(standin):
    standin.on(
        "POST",
        ISOLATE,
        Answer(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "1"}),
        Answer(201, ACCEPTED),
    )
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="x")

    assert result.outcome == "succeeded", result.summary
    first, second = standin.requests()
    assert 0.9 <= second.at - first.at < 5
    assert second.body == first.body


def test_a_retry_after_beyond_the_bound_is_not_slept_on_but_handed_back_retryable(standin):
    standin.on("POST", ISOLATE, Answer(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "3600"}))
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="x")

    assert result.outcome == "failed" and result.retryable is True
    assert result.detail["retry_after"] == 3600
    assert "asked to wait 3600 s" in result.summary
    assert len(standin.requests()) == 1


def test_5xx_is_retried_with_back_off_then_reported_retryable(standin):
    standin.on("POST", ISOLATE, Answer(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    result = run(actions(standin, max_retries=2)["defender.isolate_device"], machine_id=MACHINE, comment="x")
    assert result.outcome == "failed" and result.retryable is True
    assert len(standin.requests()) == 3


def test_a_401_is_retried_once_with_a_fresh_token(standin):
    standin.on(
        "POST", ISOLATE, Answer(401, {"error": {"code": "Unauthorized", "message": "expired"}}), Answer(201, ACCEPTED)
    )
    result = run(actions(standin)["defender.isolate_device"], machine_id=MACHINE, comment="x")

    assert result.outcome == "succeeded", result.summary
    first, second = standin.requests()
    assert first.bearer != second.bearer
    assert second.bearer == standin.tokens[-1]


def test_a_slow_defender_times_out_as_a_retryable_failure(standin):
    standin.on("POST", ISOLATE, Answer(201, ACCEPTED, delay=2.0))
    from microsoft.rest_writer import Patience

    action = actions(standin)["defender.isolate_device"]
    action.defender.patience = Patience(timeout=0.5)
    result = run(action, machine_id=MACHINE, comment="x")
    assert result.outcome == "failed" and result.retryable is True
    assert "did not answer within" in result.summary


def test_describe_sends_nothing(standin):
    action = actions(standin)["defender.isolate_device"]
    said = action.describe(action.arguments(machine_id=MACHINE, comment="x", isolation_type="Selective"))
    assert said == (
        f"isolate device {MACHINE} from the network (Selective isolation; "
        f"Defender POST /api/machines/{MACHINE}/isolate)"
    )
    assert standin.requests() == [] and standin.tokens == []


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"machine_id": "abc", "comment": "x"}, "40 hexadecimal digits"),
        ({"machine_id": "../../machines/" + "a" * 26, "comment": "x"}, "40 hexadecimal digits"),
        ({"machine_id": MACHINE, "comment": ""}, "comment"),
        ({"machine_id": MACHINE, "comment": "line\nbreak"}, "comment"),
        ({"machine_id": MACHINE, "comment": "x", "isolation_type": "Partial"}, "isolation_type"),
    ],
)
def test_bad_arguments_are_refused_naming_the_key(arguments, named):
    with pytest.raises(ValidationError, match=named):
        IsolateArguments(**arguments)


def test_no_token_in_results_or_logs(standin, caplog):
    caplog.set_level(logging.DEBUG)
    standin.on("POST", ISOLATE, Answer(500, {"error": {"code": "InternalError", "message": "boom"}}))
    result = run(actions(standin, max_retries=0)["defender.isolate_device"], machine_id=MACHINE, comment="x")
    assert result.outcome == "failed" and result.retryable is True
    for token in standin.tokens:
        assert token not in caplog.text and token not in repr(result)
