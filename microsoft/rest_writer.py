"""Writing to an HTTP API that has no Python SDK (Defender for Endpoint machine actions, Azure
Resource Manager's IP groups, a Teams Workflows webhook), with httpx and, where the API wants one,
an azure-identity token.

A response action is rare and must not hang an incident for an hour, so patience is bounded:
429 and 5xx are retried up to ``max_retries`` times, waiting what ``Retry-After`` says (an
integer or an HTTP date) when it is within ``max_retry_wait``, and doubling ``retry_delay``
otherwise. A ``Retry-After`` beyond the bound is not slept on: the reply goes back with it, and
the caller reports a retryable failure, so the playbook runner can come back later. A 401 is
retried once with a fresh token (azure-identity would otherwise hand back the cached one).

Each call opens its own HTTP client: actions run rarely, from whichever event loop the runner or
a command has, and a client kept between calls would be bound to the loop that made it.

Nothing built here holds the token or the URL's query: errors name ``where`` (what the caller
says is safe to show: "Defender for Endpoint", "the Teams webhook at host x").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError

from microsoft.rest_reader import RETRYABLE, error_of, retry_after_seconds


class Unreachable(Exception):
    """No answer at all (refused, reset, timed out); ``str()`` is for a person and holds no secret."""


@dataclass(frozen=True)
class Patience:
    """How long to keep at one request before handing the failure back."""

    max_retries: int = 3
    max_retry_wait: float = 60.0  # seconds: a longer Retry-After is handed back, not slept on
    retry_delay: float = 2.0  # seconds, doubled per attempt, when there is no Retry-After
    timeout: float = 60.0


@dataclass(frozen=True)
class Reply:
    """The last response to a request, after the retries."""

    status: int
    headers: Mapping[str, str]
    document: Any  # the JSON body, or None when there was none or it was not JSON
    code: str | None  # Microsoft's error code, from {"error": {"code", "message"}}
    said: str  # the error message, or the reason phrase
    retry_after: float | None = None  # what the last Retry-After asked for, in seconds
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class TokenSource:
    """Bearer tokens for one audience, reused until a minute before they expire."""

    def __init__(self, credential_factory: Callable[[], TokenCredential], scope: str, where: str):
        self.credential_factory = credential_factory
        self.scope = scope
        self.where = where
        self._credential: TokenCredential | None = None
        self._token: AccessToken | None = None

    def token(self) -> str:
        if self._token is not None and self._token.expires_on - 60 > time.time():
            return self._token.token
        if self._credential is None:
            self._credential = self.credential_factory()
        try:
            self._token = self._credential.get_token(self.scope)
        except AzureError as exc:  # a refusal, or no answer from Entra ID
            said = (exc.message or "").strip().splitlines()
            raise Unreachable(
                f"signing in to Entra ID for {self.where} failed: {said[0] if said else 'no reason given'}"
            ) from None
        return self._token.token

    def forget(self) -> None:
        """Drop the token and credential, so the next request signs in afresh."""
        self._token, self._credential = None, None


@dataclass
class RestWriter:
    """Requests to one API (or one webhook URL) with the patience above."""

    where: str  # safe to show: never the URL when the URL is the secret
    base_url: str = field(repr=False)  # a webhook's URL is its secret
    tokens: TokenSource | None = None
    patience: Patience = field(default_factory=Patience)
    verify: str | bool = True
    sleep: Callable[[float], Any] = asyncio.sleep

    def url(self, path: str) -> str:
        """``path`` under the base URL; the base URL itself for ``""`` (a webhook)."""
        if not path:
            return self.base_url
        if path.startswith(("https://", "http://")):
            return path
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = self.url(path)
        content = orjson.dumps(body) if body is not None else None
        refreshed = False
        attempt = 0
        async with httpx.AsyncClient(timeout=self.patience.timeout, verify=self.verify) as http:
            while True:
                response = await self._once(http, method, url, params, content, headers)
                if response.status_code == 401 and self.tokens is not None and not refreshed:
                    refreshed = True
                    self.tokens.forget()
                    continue
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code in RETRYABLE and attempt < self.patience.max_retries:
                    wait = asked if asked is not None else self.patience.retry_delay * 2**attempt
                    if wait <= self.patience.max_retry_wait:
                        attempt += 1
                        await self.sleep(wait)
                        continue
                return _reply(response, asked, attempt + 1)

    async def _once(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        sent = {"Accept": "application/json", **(headers or {})}
        if content is not None:
            sent["Content-Type"] = "application/json"
        if self.tokens is not None and _same_host(url, self.base_url):
            # The token goes only to the API's own host, never to a link the API handed back.
            sent["Authorization"] = f"Bearer {self.tokens.token()}"
        try:
            return await http.request(method, url, params=params, content=content, headers=sent)
        except httpx.TimeoutException:
            raise Unreachable(f"{self.where} did not answer within {self.patience.timeout:.0f} s") from None
        except httpx.HTTPError as exc:
            # The exception's text may hold the URL (a webhook's URL is its secret): its type only.
            raise Unreachable(f"cannot reach {self.where}: {type(exc).__name__}") from None


def _reply(response: httpx.Response, asked: float | None, attempts: int) -> Reply:
    try:
        document = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        document = None
    code, said = error_of(response) if response.status_code >= 400 else (None, response.reason_phrase)
    return Reply(response.status_code, dict(response.headers), document, code, said, asked, attempts)


def _same_host(url: str, base_url: str) -> bool:
    one, other = urlsplit(url), urlsplit(base_url)
    return (one.scheme, one.hostname, one.port) == (other.scheme, other.hostname, other.port)
