"""notify.teams (a Teams Workflows webhook) and notify.email (Graph sendMail) against the
stand-in on 127.0.0.1: the exact requests, and the webhook URL's signature kept out of every
result, error, repr and log line."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import ValidationError

from playbooks.actions.notify import EmailArguments, TeamsArguments
from playbooks.actions.registry import build_actions
from playbooks.actions.settings import ActionSettings
from tests.support.action_standin import ActionStandIn, Answer

SIG = "Zp3x9Q-secret-signature-Kd7"
HOOK_PATH = "/powerautomate/automations/direct/workflows/5b1c/triggers/manual/paths/invoke"
SENDER = "soc@council.example.gov.uk"


@pytest.fixture
def standin():
    running = ActionStandIn().start()
    yield running
    running.stop()


def hook_url(standin: ActionStandIn) -> str:
    return f"{standin.url}{HOOK_PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"


def teams(standin: ActionStandIn):
    settings = ActionSettings.from_dict({"teams": {"webhook_url_env": "CW_TEAMS_HOOK"}})
    return build_actions(settings, None, environ={"CW_TEAMS_HOOK": hook_url(standin)})["notify.teams"]


def email(standin: ActionStandIn, recipients=("security@council.example.gov.uk",)):
    tables = {"email": {"sender": SENDER, "recipients": list(recipients)}, "graph": {"base_url": standin.url}}
    return build_actions(ActionSettings.from_dict(tables), standin.credential)["notify.email"]


def run(action, **arguments):
    return asyncio.run(action.run(action.arguments(**arguments), "run-12-step-3"))


CARD = {
    "title": "Password spray from 203.0.113.7",
    "text": "41 accounts tried in 10 minutes.",
    "facts": {"Rule": "cyberwell.password_spray", "Severity": "high"},
    "link": "https://cyberwell.council.example.gov.uk/alerts/a1",
}


def test_teams_posts_an_adaptive_card_envelope_to_the_webhook_url(standin):
    standin.on("POST", HOOK_PATH, Answer(202))
    result = run(teams(standin), **CARD)

    assert result.outcome == "succeeded", result.summary
    (sent,) = standin.requests()
    assert sent.method == "POST" and sent.path == HOOK_PATH
    assert sent.query == {"api-version": ["1"], "sp": ["/triggers/manual/run"], "sv": ["1.0"], "sig": [SIG]}
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent.body == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {"type": "TextRun", "text": CARD["title"], "size": "Medium", "weight": "Bolder"}
                            ],
                        },
                        {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": CARD["text"]}]},
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {"type": "TextRun", "text": "Rule: ", "weight": "Bolder"},
                                {"type": "TextRun", "text": "cyberwell.password_spray"},
                            ],
                        },
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {"type": "TextRun", "text": "Severity: ", "weight": "Bolder"},
                                {"type": "TextRun", "text": "high"},
                            ],
                        },
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": CARD["link"]}],
                },
            }
        ],
    }


def test_values_from_logs_are_plain_text_runs_never_markdown(standin):
    """A TextBlock or FactSet would render Markdown: a user name from a log could become a link."""
    standin.on("POST", HOOK_PATH, Answer(202))
    lure = "[reset your password](https://evil.example/x) **now**"
    assert run(teams(standin), title=f"Sign-in by {lure}", text=lure, facts={"User": lure}).outcome == "succeeded"
    (sent,) = standin.requests()
    blocks = sent.body["attachments"][0]["content"]["body"]
    assert {block["type"] for block in blocks} == {"RichTextBlock"}
    texts = [inline["text"] for block in blocks for inline in block["inlines"]]
    assert texts == [f"Sign-in by {lure}", lure, "User: ", lure]
    assert all(inline["type"] == "TextRun" for block in blocks for inline in block["inlines"])


def test_the_signature_is_in_no_result_repr_or_log_line_even_when_the_service_echoes_it(standin, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"code": "DirectApiAuthorizationRequired", "message": f"bad request to {hook_url(standin)}"}}
    standin.on("POST", HOOK_PATH, Answer(401, echo))
    action = teams(standin)
    failed = run(action, title="t", text="x")
    standin.on("POST", HOOK_PATH, Answer(202))
    done = run(action, title="t", text="x")

    assert failed.outcome == "failed" and done.outcome == "succeeded"
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request...
    assert SIG not in caplog.text  # ...without the query
    for shown in (
        failed.summary,
        repr(failed.detail),
        done.summary,
        repr(done),
        repr(action),
        repr(action.webhook),
        action.describe(action.arguments(title="t", text="x")),
    ):
        assert SIG not in shown


def test_an_unreachable_webhook_fails_retryable_without_the_url(standin):
    action = teams(standin)
    standin.stop()
    result = run(action, title="t", text="x")
    assert result.outcome == "failed" and result.retryable is True
    assert "the Teams webhook at 127.0.0.1" in result.summary and SIG not in result.summary


def test_a_throttled_webhook_is_retried_after_retry_after(standin):
    standin.on("POST", HOOK_PATH, Answer(429, None, {"Retry-After": "1"}), Answer(202))
    result = run(teams(standin), title="t", text="x")
    assert result.outcome == "succeeded"
    first, second = standin.requests()
    assert second.at - first.at >= 0.9


def test_teams_arguments_refuse_a_non_https_link_and_unknown_keys():
    with pytest.raises(ValidationError, match="https"):
        TeamsArguments(title="t", text="x", link="http://example.org/")
    with pytest.raises(ValidationError, match="colour"):
        TeamsArguments.model_validate({"title": "t", "text": "x", "colour": "red"})


def test_email_posts_send_mail_as_graphs_reference_writes_it(standin):
    standin.on("POST", f"/v1.0/users/{SENDER}/sendMail", Answer(202))
    result = run(email(standin), subject="Alert: password spray", body="Details follow.")

    assert result.outcome == "succeeded", result.summary
    (sent,) = standin.requests()
    assert (sent.method, sent.path) == ("POST", f"/v1.0/users/{SENDER}/sendMail")
    assert sent.headers["content-type"] == "application/json"
    assert sent.bearer == standin.tokens[-1]
    assert sent.body == {
        "message": {
            "subject": "Alert: password spray",
            "body": {"contentType": "Text", "content": "Details follow."},
            "toRecipients": [{"emailAddress": {"address": "security@council.example.gov.uk"}}],
            "internetMessageHeaders": [{"name": "X-Cyberwell-Step", "value": "run-12-step-3"}],
        },
        "saveToSentItems": True,
    }


def test_email_to_named_recipients_overrides_the_configured_ones(standin):
    standin.on("POST", f"/v1.0/users/{SENDER}/sendMail", Answer(202))
    run(email(standin), subject="s", body="b", to=["it@council.example.gov.uk", "dpo@council.example.gov.uk"])
    (sent,) = standin.requests()
    assert [r["emailAddress"]["address"] for r in sent.body["message"]["toRecipients"]] == [
        "it@council.example.gov.uk",
        "dpo@council.example.gov.uk",
    ]


def test_email_with_no_recipient_anywhere_fails_without_a_request(standin):
    result = run(email(standin, recipients=()), subject="s", body="b")
    assert result.outcome == "failed" and "no recipients" in result.summary
    assert standin.requests() == []


def test_email_403_names_mail_send(standin):
    standin.on(
        "POST",
        f"/v1.0/users/{SENDER}/sendMail",
        Answer(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}),
    )
    result = run(email(standin), subject="s", body="b")
    assert result.outcome == "failed" and "Mail.Send" in result.summary and result.retryable is False


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "x@y.com\nBcc: evil@z.com", "Alice <a@b.com>"])
def test_malformed_recipients_are_refused(bad):
    with pytest.raises(ValidationError, match="expected an email address"):
        EmailArguments(subject="s", body="b", to=[bad])


def test_a_subject_with_a_line_break_is_refused():
    with pytest.raises(ValidationError, match="subject"):
        EmailArguments(subject="hello\nBcc: x@y.com", body="b")


def test_describe_sends_nothing(standin):
    action = email(standin)
    said = action.describe(action.arguments(subject="Alert", body="b"))
    assert said == f"email security@council.example.gov.uk from {SENDER}: 'Alert'"
    assert standin.requests() == [] and standin.tokens == []
