"""The Graph user actions (graph.disable_user, graph.revoke_sessions, graph.confirm_compromised)
with the real msgraph-sdk client against the stand-in on 127.0.0.1 (tests/support/action_standin.py):
the exact requests sent, idempotency, refusals, throttling, and no secret anywhere."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from playbooks.actions.registry import build_actions
from playbooks.actions.settings import ActionSettings
from tests.support.action_standin import ActionStandIn, Answer

USER = "a.user@council.example.gov.uk"
OBJECT_ID = "6e7b768e-07e2-4810-8459-485f84f8f204"


@pytest.fixture
def standin():
    running = ActionStandIn().start()
    yield running
    running.stop()


def actions(standin: ActionStandIn, **graph):
    settings = ActionSettings.from_dict({"graph": {"base_url": standin.url, "retry_delay": 0.1, **graph}})
    return build_actions(settings, standin.credential)


def run(action, **arguments):
    return asyncio.run(action.run(action.arguments(**arguments), "run-7-step-2"))


def user_record(enabled: bool) -> dict:
    return {"id": OBJECT_ID, "userPrincipalName": USER, "accountEnabled": enabled}


def test_disable_user_reads_then_patches_account_enabled_false_with_the_bearer(standin):
    standin.on("GET", f"/v1.0/users/{USER}", Answer(200, user_record(True)))
    standin.on("PATCH", f"/v1.0/users/{OBJECT_ID}", Answer(204))
    result = run(actions(standin)["graph.disable_user"], user=USER)

    assert result.outcome == "succeeded", result.summary
    assert result.summary == f"disabled the account of {USER}"
    assert result.detail["changed"] is True
    read, patch = standin.requests()
    assert (read.method, read.path, read.query) == (
        "GET",
        f"/v1.0/users/{USER}",
        {"$select": ["id,userPrincipalName,accountEnabled"]},
    )
    assert (patch.method, patch.path, patch.query) == ("PATCH", f"/v1.0/users/{OBJECT_ID}", {})
    assert patch.body == {"@odata.type": "#microsoft.graph.user", "accountEnabled": False}
    assert patch.headers["content-type"] == "application/json"
    assert patch.bearer == read.bearer == standin.tokens[-1]
    assert standin.scopes == [f"{standin.url}/.default"]


def test_disabling_an_account_already_disabled_succeeds_without_a_write(standin):
    standin.on("GET", f"/v1.0/users/{USER}", Answer(200, user_record(False)))
    result = run(actions(standin)["graph.disable_user"], user=USER)

    assert result.outcome == "succeeded"
    assert "already disabled" in result.summary
    assert result.detail["changed"] is False
    assert [s.method for s in standin.requests()] == ["GET"]


def test_revoke_sessions_posts_revoke_sign_in_sessions(standin):
    standin.on("POST", f"/v1.0/users/{OBJECT_ID}/revokeSignInSessions", Answer(200, {"value": True}))
    result = run(actions(standin)["graph.revoke_sessions"], user=OBJECT_ID.upper())

    assert result.outcome == "succeeded", result.summary
    (sent,) = standin.requests()
    assert (sent.method, sent.path, sent.body) == ("POST", f"/v1.0/users/{OBJECT_ID}/revokeSignInSessions", None)
    assert sent.bearer == standin.tokens[-1]


def test_confirm_compromised_looks_up_the_object_id_of_a_upn_and_posts_user_ids(standin):
    standin.on("GET", f"/v1.0/users/{USER}", Answer(200, user_record(True)))
    standin.on("POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised", Answer(204))
    result = run(actions(standin)["graph.confirm_compromised"], user=USER)

    assert result.outcome == "succeeded", result.summary
    lookup, confirm = standin.requests()
    assert lookup.path == f"/v1.0/users/{USER}"
    assert (confirm.method, confirm.path) == ("POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised")
    assert confirm.body == {"userIds": [OBJECT_ID]}
    assert confirm.headers["content-type"] == "application/json"


def test_a_403_fails_naming_the_permission_to_grant_and_is_not_retryable(standin):
    standin.on(
        "POST",
        f"/v1.0/users/{USER}/revokeSignInSessions",
        Answer(403, {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges."}}),
    )
    result = run(actions(standin)["graph.revoke_sessions"], user=USER)

    assert result.outcome == "failed"
    assert "User.RevokeSessions.All" in result.summary
    assert "Authorization_RequestDenied" in result.summary
    assert result.retryable is False


def test_a_404_says_not_found(standin):
    standin.on(
        "GET",
        f"/v1.0/users/{USER}",
        Answer(404, {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist."}}),
    )
    result = run(actions(standin)["graph.disable_user"], user=USER)
    assert result.outcome == "failed" and "not found" in result.summary and result.retryable is False


def test_a_429_with_retry_after_is_waited_for_and_retried(standin):
    standin.on(
        "POST",
        f"/v1.0/users/{USER}/revokeSignInSessions",
        Answer(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "1"}),
        Answer(200, {"value": True}),
    )
    result = run(actions(standin)["graph.revoke_sessions"], user=USER)

    assert result.outcome == "succeeded", result.summary
    first, second = standin.requests()
    assert second.at - first.at >= 0.9
    assert second.bearer == first.bearer


def test_throttling_that_outlasts_the_retries_is_a_retryable_failure(standin):
    standin.on(
        "POST",
        f"/v1.0/users/{USER}/revokeSignInSessions",
        Answer(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "0"}),
    )
    result = run(actions(standin, max_retries=1)["graph.revoke_sessions"], user=USER)

    assert result.outcome == "failed" and result.retryable is True
    assert "429" in result.summary
    assert len(standin.requests()) == 2  # the first and one retry


def test_a_graph_that_does_not_answer_is_a_retryable_failure(standin):
    credential = standin.credential()
    credential.get_token(f"{standin.url}/.default")  # signed in before Graph goes away
    settings = ActionSettings.from_dict({"graph": {"base_url": standin.url}})
    built = build_actions(settings, lambda: credential)["graph.revoke_sessions"]
    standin.stop()
    result = run(built, user=USER)
    assert result.outcome == "failed" and result.retryable is True
    assert f"cannot reach Graph at {standin.url}: ConnectError" in result.summary


def test_describe_sends_nothing_and_says_what_would_happen(standin):
    built = actions(standin)
    said = built["graph.disable_user"].describe(built["graph.disable_user"].arguments(user=USER))
    assert said == f"disable the account of {USER} (Graph PATCH /users/{USER} accountEnabled=false)"
    assert "revoke every sign-in session" in built["graph.revoke_sessions"].describe(
        built["graph.revoke_sessions"].arguments(user=USER)
    )
    assert standin.requests() == [] and standin.tokens == []


@pytest.mark.parametrize("bad", ["../../groups", "a user@x.gov.uk", "alice", "x@y", "a@b.com/../../x", "a\nb@c.com"])
def test_a_user_that_is_neither_a_upn_nor_an_object_id_is_refused(bad):
    from playbooks.actions.graph_users import UserArguments

    with pytest.raises(ValidationError, match="expected a user principal name"):
        UserArguments(user=bad)


def test_arguments_with_an_unknown_key_are_refused_naming_it():
    from playbooks.actions.graph_users import UserArguments

    with pytest.raises(ValidationError, match="usr"):
        UserArguments.model_validate({"user": USER, "usr": "x"})


def test_no_token_appears_in_results_or_logs(standin, caplog):
    caplog.set_level(logging.DEBUG)
    standin.on("GET", f"/v1.0/users/{USER}", Answer(200, user_record(True)))
    standin.on("PATCH", f"/v1.0/users/{OBJECT_ID}", Answer(403, {"error": {"code": "Denied", "message": "no"}}))
    result = run(actions(standin)["graph.disable_user"], user=USER)

    assert result.outcome == "failed"
    assert standin.tokens
    for token in standin.tokens:
        assert token not in caplog.text
        assert token not in repr(result)
