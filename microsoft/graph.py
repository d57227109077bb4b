"""Reading a Microsoft Graph collection page by page, as the raw JSON Graph sent, with msgraph-sdk.

The collectors need each record's own JSON (it becomes ``event.original`` and goes through the
file parsers), so requests are built with msgraph-sdk's request builders and sent through its
request adapter for bytes, not deserialised into SDK models. The SDK's middleware does the
retrying: kiota's ``RetryHandler`` retries 429, 503 and 504 and waits what ``Retry-After`` says
(verified in tests/collectors/test_graph_collectors.py); ``max_retries`` bounds a throttling storm, after
which the run fails and the next one resumes from the checkpoint. A 401 (a token Graph no
longer accepts) is retried once with a fresh credential, since azure-identity would otherwise
hand back the same cached token. Everything else becomes a :class:`GraphFailure` with a message
for a person: the 403s say which licence or permission is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory

PUBLIC_GRAPH = "https://graph.microsoft.com"
#: Graph's answer when the tenant lacks the licence the API needs (sign-in logs: P1 or P2).
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


class GraphFailure(Exception):
    """A request Graph did not answer with data; ``str()`` is for a person and holds no secret."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class GraphEndpoint:
    """Where Graph is and how patient to be with it."""

    base_url: str = PUBLIC_GRAPH
    api_version: str = "v1.0"
    page_size: int = 1000
    max_retries: int = 3  # per request, for 429/503/504 (kiota's RetryHandler)
    retry_delay: float = 3.0  # seconds added to the back-off when Graph sends no Retry-After

    @property
    def root(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.api_version}"


@dataclass(frozen=True)
class Access:
    """What reading this collection needs, to say so when Graph refuses."""

    what: str  # "sign-in logs"
    permissions: tuple[str, ...]  # application permissions, e.g. ("AuditLog.Read.All", ...)
    licence: str | None = None  # e.g. "an Entra ID P1 or P2 licence"


@dataclass
class Page:
    number: int  # 1 for the first
    url: str
    records: list[dict]


class ListingBuilder(Protocol):
    """What the reader asks of msgraph-sdk's request builder for a collection
    (``client.audit_logs.sign_ins``): the first page's request, and a builder for a next link."""

    def to_get_request_information(
        self, request_configuration: RequestConfiguration[Any] | None = None
    ) -> RequestInformation: ...

    def with_url(self, raw_url: str) -> ListingBuilder: ...


#: A request builder for the collection from the client.
Builder = Callable[[GraphServiceClient], ListingBuilder]
#: A page's request, built anew from the client for each attempt.
RequestMaker = Callable[[GraphServiceClient], RequestInformation]


class GraphReader:
    """All pages of one listing; a new reader (and HTTP client) per collection run."""

    def __init__(self, endpoint: GraphEndpoint, credential_factory: Callable[[], TokenCredential]):
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self._http: httpx.AsyncClient | None = None
        self._client: GraphServiceClient | None = None
        self._credential: TokenCredential | None = None

    def _connect(self, fresh_credential: bool = False) -> GraphServiceClient:
        if self._credential is None or fresh_credential:
            self._credential = self.credential_factory()
        if self._http is None:
            self._http = GraphClientFactory.create_with_default_middleware()
        self._client = graph_client(self.endpoint, self._credential, self._http)
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def pages(self, builder: Builder, query: dict[str, Any], access: Access) -> AsyncIterator[Page]:
        """Each page of ``builder``'s listing with the query parameters (``filter``, ``top``,
        ``expand``), following ``@odata.nextLink`` until Graph gives none."""

        def first(client: GraphServiceClient) -> RequestInformation:
            request_builder = builder(client)
            parameters = _query(request_builder, query)
            return request_builder.to_get_request_information(RequestConfiguration(query_parameters=parameters))

        make: RequestMaker = first
        number = 1
        while True:
            url, document = await self._send(make, access)
            records = document.get("value")
            if not isinstance(records, list):
                raise GraphFailure(f"Graph sent a page without a 'value' list for {access.what}")
            yield Page(number, url, records)
            link = document.get("@odata.nextLink")
            if not link:
                return
            make = _following(builder, link)
            number += 1

    async def _send(self, make: RequestMaker, access: Access) -> tuple[str, dict[str, Any]]:
        """One page: (its URL, its JSON). The request is built anew for each attempt, since the
        token is attached to it and a retry after a 401 must carry the new one."""
        client = self._client or self._connect()
        for attempt in (1, 2):
            request = make(client)
            request.add_request_options(
                [RetryHandlerOption(delay=self.endpoint.retry_delay, max_retries=self.endpoint.max_retries)]
            )
            try:
                body: bytes | None = await client.request_adapter.send_primitive_async(
                    request, "bytes", {"XXX": ODataError}
                )
            except APIError as exc:
                if exc.response_status_code == 401 and attempt == 1:
                    client = self._connect(fresh_credential=True)
                    continue
                raise self._failure(exc, access) from None
            except ClientAuthenticationError as exc:
                raise GraphFailure(f"signing in to Entra ID failed: {_first_line(exc.message)}") from None
            except httpx.HTTPError as exc:
                raise GraphFailure(
                    f"cannot reach Graph at {self.endpoint.base_url}: {type(exc).__name__} {exc}"
                ) from None
            try:
                return request.url, orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise GraphFailure(f"Graph sent a page that is not JSON for {access.what}") from None
        raise AssertionError("unreachable")

    def _failure(self, exc: APIError, access: Access) -> GraphFailure:
        status = exc.response_status_code
        # Graph's error body, when it sent one (an ODataError, by the error map in _send).
        error = exc.error if isinstance(exc, ODataError) else None
        code = error.code if error is not None else None
        said = (error.message if error is not None else None) or exc.message or ""
        what, needs = access.what, " and ".join(access.permissions)
        if status == 403 and code == NON_PREMIUM:
            message = (
                f"Graph refused to list {what} (403 {code}): the tenant needs "
                f"{access.licence or 'a premium licence'} to read them through the API"
            )
        elif status == 403:
            message = (
                f"Graph refused to list {what} (403 {code or 'Forbidden'}: {said}): the app "
                f"registration needs the application permission {needs}, with admin consent"
            )
        elif status == 401:
            message = f"Graph did not accept the access token for {what} (401 {code or ''}: {said}), twice"
        elif status in (429, 503, 504):
            message = (
                f"Graph kept answering {status} ({code or 'throttled'}) for {what} after "
                f"{self.endpoint.max_retries} retries; the next run resumes from the checkpoint"
            )
        else:
            message = f"Graph failed listing {what}: {status} {code or ''} {said}".rstrip()
        return GraphFailure(message, status, code)


def graph_client(endpoint: GraphEndpoint, credential: TokenCredential, http: httpx.AsyncClient) -> GraphServiceClient:
    """An msgraph-sdk client for ``endpoint`` over ``http`` (a client from msgraph-core's
    ``GraphClientFactory``, whose middleware retries throttled requests), signing in with
    ``credential`` for the endpoint's own audience, so a sovereign cloud or a stand-in works."""
    host = urlsplit(endpoint.base_url).hostname
    if host is None:
        raise GraphFailure(f"the Graph base URL {endpoint.base_url!r} names no host")
    auth = AzureIdentityAuthenticationProvider(
        credential,
        scopes=[f"{endpoint.base_url.rstrip('/')}/.default"],
        allowed_hosts=[host],
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = endpoint.root  # set first: the client only fills it when empty
    return GraphServiceClient(request_adapter=adapter)


def _following(builder: Builder, link: str) -> RequestMaker:
    """The request for the page at ``@odata.nextLink`` ``link``."""
    return lambda client: builder(client).with_url(link).to_get_request_information()


def _query(builder: ListingBuilder, query: dict[str, Any]) -> object:
    """The builder's own query-parameter class filled in (it knows the ``$`` names)."""
    name = type(builder).__name__ + "GetQueryParameters"
    return getattr(type(builder), name)(**query)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text else "no reason given"
