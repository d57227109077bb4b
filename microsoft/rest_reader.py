"""Reading a paged JSON collection from a Microsoft REST API that has no Python SDK (Defender for
Endpoint, Azure Resource Manager), with httpx and an azure-identity token.

Both APIs page the same way: a ``value`` list and a link to the next page (``@odata.nextLink``
for Defender, ``nextLink`` for Resource Manager). Both throttle with 429 and ``Retry-After``.
The reader waits what ``Retry-After`` says, but never longer than ``max_retry_wait`` at once nor
more than ``max_retries`` times for one page: a throttling storm fails the read with a message,
and the next snapshot tries again, rather than a run that hangs for an hour. A 401 is retried
once with a fresh credential (azure-identity would otherwise hand back the same cached token).
A 403 becomes a :class:`RestFailure` naming the permission or role the app lacks.

The token is only ever in the ``Authorization`` header: no message, log line or exception built
here holds it.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ClientAuthenticationError

RETRYABLE = (429, 500, 502, 503, 504)


class RestFailure(Exception):
    """A request the API did not answer with data; ``str()`` is for a person and holds no secret."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class RestEndpoint:
    """Where an API is, which token audience it wants, how it pages, and how patient to be."""

    name: str  # "Defender for Endpoint", for messages
    base_url: str
    scope: str  # the azure-identity scope, e.g. "https://api.securitycenter.microsoft.com/.default"
    next_link: str = "@odata.nextLink"
    max_retries: int = 4  # per page, for 429 and 5xx
    max_retry_wait: float = 120.0  # seconds: a Retry-After longer than this fails the read
    retry_delay: float = 5.0  # seconds, doubled per attempt, when the API sends no Retry-After
    timeout: float = 120.0
    verify: str | bool = True  # a CA bundle path for a private authority (or a stand-in)


@dataclass(frozen=True)
class Need:
    """What reading a collection needs, to say so when the API refuses."""

    what: str  # "machines"
    grants: tuple[str, ...]  # e.g. ("Machine.Read.All",)
    kind: str = "application permission"  # or "Azure role"


class RestReader:
    """All pages of collections of one API; one reader (and HTTP client) per snapshot run."""

    def __init__(
        self,
        endpoint: RestEndpoint,
        credential_factory: Callable[[], TokenCredential],
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self._sleep = sleep
        self._credential: TokenCredential | None = None
        self._token: AccessToken | None = None
        self._http = httpx.AsyncClient(timeout=endpoint.timeout, verify=endpoint.verify)

    async def close(self) -> None:
        await self._http.aclose()

    async def pages(
        self, path: str, params: Mapping[str, str | int] | None, need: Need
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's records of the collection at ``path`` (relative to the base URL), following
        the next-page link until the API gives none."""
        url = f"{self.endpoint.base_url.rstrip('/')}/{path.lstrip('/')}"
        query: Mapping[str, str | int] | None = params
        while True:
            document = await self._get(url, query, need)
            records = document.get("value")
            if not isinstance(records, list):
                raise RestFailure(f"{self.endpoint.name} sent a page without a 'value' list for {need.what}")
            yield records
            link = document.get(self.endpoint.next_link)
            if not link:
                return
            url, query = str(link), None  # the link carries the query

    async def _get(self, url: str, params: Mapping[str, str | int] | None, need: Need) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            response = await self._send(url, params)
            if response.status_code == 200:
                return self._json(response, need)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self._token, self._credential = None, None
                continue
            if response.status_code in RETRYABLE and attempt < self.endpoint.max_retries:
                attempt += 1
                await self._sleep(self._wait(response, attempt, need))
                continue
            raise self._failure(response, need, attempt)

    async def _send(self, url: str, params: Mapping[str, str | int] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._access_token()}", "Accept": "application/json"}
        try:
            return await self._http.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise RestFailure(
                f"cannot reach {self.endpoint.name} at {self.endpoint.base_url}: {type(exc).__name__} {exc}"
            ) from None

    def _access_token(self) -> str:
        """A token for the endpoint's scope, reused until a minute before it expires."""
        if self._token is not None and self._token.expires_on - 60 > time.time():
            return self._token.token
        if self._credential is None:
            self._credential = self.credential_factory()
        try:
            self._token = self._credential.get_token(self.endpoint.scope)
        except ClientAuthenticationError as exc:
            said = (exc.message or "").strip().splitlines()
            raise RestFailure(
                f"signing in to Entra ID for {self.endpoint.name} failed: {said[0] if said else 'no reason given'}"
            ) from None
        return self._token.token

    def _wait(self, response: httpx.Response, attempt: int, need: Need) -> float:
        try:
            return wait_before_retry(response, attempt, self.endpoint.retry_delay, self.endpoint.max_retry_wait)
        except WaitTooLong as long:
            raise RestFailure(
                f"{self.endpoint.name} answered {response.status_code} for {need.what} and asked to wait "
                f"{long.asked:.0f} s, longer than the {self.endpoint.max_retry_wait:.0f} s allowed; try again later",
                response.status_code,
                error_of(response)[0],
            ) from None

    def _json(self, response: httpx.Response, need: Need) -> dict[str, Any]:
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise RestFailure(f"{self.endpoint.name} sent a page that is not JSON for {need.what}") from None
        if not isinstance(document, dict):
            raise RestFailure(f"{self.endpoint.name} sent a page that is not a JSON object for {need.what}")
        return document

    def _failure(self, response: httpx.Response, need: Need, retries: int) -> RestFailure:
        status = response.status_code
        code, said = error_of(response)
        name, what = self.endpoint.name, need.what
        if status == 403:
            message = (
                f"{name} refused to list {what} (403 {code or 'Forbidden'}: {said}): the app registration needs "
                f"the {need.kind} {' or '.join(need.grants)}"
                + (", with admin consent" if need.kind == "application permission" else "")
            )
        elif status == 401:
            message = f"{name} did not accept the access token for {what} (401 {code or ''}: {said}), twice"
        elif status in RETRYABLE:
            message = f"{name} kept answering {status} ({code or 'throttled'}) for {what} after {retries} retries"
        else:
            message = f"{name} failed listing {what}: {status} {code or ''} {said}".rstrip()
        return RestFailure(message, status, code)


def error_of(response: httpx.Response) -> tuple[str | None, str]:
    """The error code and message of Microsoft's ``{"error": {"code", "message"}}`` body, if any."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase
    message = str(error.get("message") or response.reason_phrase)
    return (str(error["code"]) if error.get("code") else None), message[:500]


class WaitTooLong(Exception):
    """The server asked to wait ``asked`` seconds, more than the caller allows."""

    def __init__(self, asked: float):
        super().__init__(asked)
        self.asked = asked


def wait_before_retry(response: httpx.Response, attempt: int, delay: float, limit: float) -> float:
    """Seconds to wait before retry ``attempt`` (from 1): what ``Retry-After`` asks, else ``delay``
    doubled each time. A server asking for more than ``limit`` seconds raises :class:`WaitTooLong`:
    a collector should give up and say so rather than sleep through its schedule."""
    asked = retry_after_seconds(response.headers.get("Retry-After"))
    if asked is None:
        return delay * 2 ** (attempt - 1)
    if asked > limit:
        raise WaitTooLong(asked)
    return asked


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
