"""Telling people: a card in a Teams channel through a Workflows webhook, and an email sent
with Graph ``sendMail`` from the council's security mailbox.

Neither can be made idempotent by the service: a retried post is a second card, a retried mail a
second mail. Retries happen only where the first attempt was refused outright (429, 5xx), and
each mail carries the step's idempotency key in an ``X-Cyberwell-Step`` header, so a duplicate
can be recognised.

The Teams webhook URL is a secret (its ``sig=`` signs the request). It is used only as the
request's URL: results and errors name the webhook's host, and httpx's own log line for the
request (``HTTP Request: POST <url>``, at INFO) is rewritten by :class:`QueryRedactor` to drop the
query before any handler sees it.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator

from microsoft.graph_writes import GraphRefusal, GraphWriter
from microsoft.rest_writer import RestWriter, Unreachable
from playbooks.actions.argument_types import EmailAddress, Line
from playbooks.actions.base import ActionResult
from playbooks.actions.results import refused, unreachable

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"


class QueryRedactor(logging.Filter):
    """Drops the query from URLs in httpx's request log lines (a webhook URL's query is its key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(item) for item in record.args)
        return True


def _without_query(item: Any) -> Any:
    text = str(item) if type(item).__name__ == "URL" else item
    if isinstance(text, str) and "?" in text and text.startswith(("https://", "http://")):
        return text.split("?", 1)[0] + "?<redacted>"
    return item


_REDACTOR = QueryRedactor()


def redact_http_logs() -> None:
    """Put the redactor on httpx's logger (once), before any webhook request is made."""
    logger = logging.getLogger("httpx")
    if _REDACTOR not in logger.filters:
        logger.addFilter(_REDACTOR)


class TeamsArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: Line
    text: str = Field(min_length=1, max_length=20_000)
    facts: dict[str, str] = Field(default_factory=dict, max_length=30)
    link: AnyHttpUrl | None = None  # an "Open" button, e.g. to the alert in the dashboard

    @field_validator("link")
    @classmethod
    def _https(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and value.scheme != "https":
            raise ValueError(f"expected an https link, got {value.scheme}://")
        return value


class EmailArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: Line
    body: str = Field(min_length=1, max_length=100_000)
    to: list[EmailAddress] = Field(default_factory=list, max_length=50)  # empty: the configured recipients


class NotifyTeams:
    """notify.teams: POST an Adaptive Card to a Teams Workflows webhook ("When a Teams webhook
    request is received"), which posts it to the channel the workflow names."""

    name: ClassVar[str] = "notify.teams"
    destructive: ClassVar[bool] = False
    permission: ClassVar[str] = (
        "a Teams Workflows webhook URL for the channel (no Entra ID permission: the URL's signature is the key)"
    )
    arguments: ClassVar[type[BaseModel]] = TeamsArguments

    def __init__(self, url: SecretStr, verify: str | bool = True, writer: RestWriter | None = None):
        redact_http_logs()
        self._url = url
        host = urlsplit(url.get_secret_value()).hostname or "?"
        self.shown = f"the Teams webhook at {host}"
        self.webhook = writer or RestWriter(self.shown, url.get_secret_value(), verify=verify)

    def __repr__(self) -> str:
        return f"NotifyTeams({self.shown})"

    def describe(self, arguments: BaseModel) -> str:
        found = _teams(arguments)
        return f"post a card titled {found.title!r} to {self.shown}"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        found = _teams(arguments)
        doing = f"posting {found.title!r} to {self.shown}"
        try:
            reply = await self.webhook.send("POST", "", body=teams_message(found))
        except Unreachable as why:
            return unreachable(doing, str(why))
        if reply.ok:
            return ActionResult("succeeded", f"posted {found.title!r} to {self.shown}", {"status": reply.status})
        said = self._scrubbed(reply.said)
        return refused(doing, reply.status, reply.code, said, self.permission, reply.retry_after)

    def _scrubbed(self, text: str) -> str:
        """A service's error text, with the URL and its query taken out should it echo them."""
        secret = self._url.get_secret_value()
        query = urlsplit(secret).query
        for part in (secret, query, *query.split("&")):
            if part:
                text = text.replace(part, "<redacted>")
        return text


def teams_message(found: TeamsArguments) -> dict[str, Any]:
    """The envelope a Workflows webhook takes: a message with one Adaptive Card attachment.

    Every text is a ``TextRun`` of a ``RichTextBlock``, which Adaptive Cards render as plain
    text: a ``TextBlock`` or a ``FactSet`` would read Markdown, and a user name or URL from a log
    such as ``[reset here](https://evil.example)`` would become a link in the channel."""
    body: list[dict[str, Any]] = [
        _rich(_run(found.title, size="Medium", weight="Bolder")),
        _rich(_run(found.text)),
        *(_rich(_run(f"{title}: ", weight="Bolder"), _run(value)) for title, value in found.facts.items()),
    ]
    card: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION, "body": body}
    if found.link is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": str(found.link)}]
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def _rich(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs)}


def _run(text: str, **style: str) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


class NotifyEmail:
    """notify.email: ``POST /users/{sender}/sendMail``, plain text, kept in the sender's Sent Items."""

    name: ClassVar[str] = "notify.email"
    destructive: ClassVar[bool] = False
    permission: ClassVar[str] = (
        "the Graph application permission Mail.Send (limit it to the sender's mailbox with an "
        "Exchange Online application access policy or RBAC for Applications)"
    )
    arguments: ClassVar[type[BaseModel]] = EmailArguments

    def __init__(self, graph: GraphWriter, sender: str, recipients: tuple[str, ...]):
        self.graph, self.sender, self.recipients = graph, sender, recipients

    def describe(self, arguments: BaseModel) -> str:
        found = _email(arguments)
        return f"email {', '.join(self._to(found)) or 'nobody'} from {self.sender}: {found.subject!r}"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        found = _email(arguments)
        to = self._to(found)
        doing = f"emailing {', '.join(to)} from {self.sender}"
        if not to:
            return ActionResult(
                "failed", f"emailing {found.subject!r} failed: no recipients (set actions.email.recipients or 'to')", {}
            )
        document = {
            "message": {
                "subject": found.subject,
                "body": {"contentType": "Text", "content": found.body},
                "toRecipients": [{"emailAddress": {"address": address}} for address in to],
                "internetMessageHeaders": [{"name": "X-Cyberwell-Step", "value": idempotency_key}],
            },
            "saveToSentItems": True,
        }

        async def send(client: GraphServiceClient, configuration) -> None:
            builder = client.users.by_user_id(self.sender).send_mail
            request = builder.to_post_request_information(SendMailPostRequestBody(), configuration)
            # The body as Graph's reference writes it (the SDK's model spells "Message").
            request.content = orjson.dumps(document)
            await client.request_adapter.send_no_response_content_async(request, {"XXX": ODataError})

        try:
            await self.graph.call(send)
        except GraphRefusal as refusal:
            return refused(doing, refusal.status, refusal.code, refusal.said, self.permission, detail={"to": to})
        except Unreachable as why:
            return unreachable(doing, str(why))
        return ActionResult("succeeded", f"emailed {', '.join(to)}: {found.subject!r}", {"to": to})

    def _to(self, found: EmailArguments) -> list[str]:
        return list(found.to) or list(self.recipients)


def _teams(arguments: BaseModel) -> TeamsArguments:
    assert isinstance(arguments, TeamsArguments), f"expected TeamsArguments, got {type(arguments).__name__}"
    return arguments


def _email(arguments: BaseModel) -> EmailArguments:
    assert isinstance(arguments, EmailArguments), f"expected EmailArguments, got {type(arguments).__name__}"
    return arguments
