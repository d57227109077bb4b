"""Changing things in Microsoft Graph with msgraph-sdk, for response actions.

Reading (``microsoft.graph.GraphReader``) wants raw JSON pages; an action wants the SDK's typed
request builders and models (``client.users.by_user_id(u).patch(User(account_enabled=False))``),
so the body it sends is the one the SDK serialises. The client is the same as the reader's
(:func:`microsoft.graph.graph_client`): kiota's ``RetryHandler`` retries 429, 503 and 504 for
every method, waiting what ``Retry-After`` says, ``max_retries`` times. A 401 is retried once with
a fresh credential. Whatever Graph still refuses comes back as a :class:`GraphRefusal` carrying
the status and Graph's error code, so the action can say which permission is missing; a Graph
that cannot be reached is :class:`microsoft.rest_writer.Unreachable`.

Each call opens its own HTTP client, for the reason given in ``microsoft.rest_writer``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory

from microsoft.graph import GraphEndpoint, graph_client
from microsoft.rest_writer import Unreachable

T = TypeVar("T")
#: One Graph request: the client and a configuration carrying the retry option (and, for a GET,
#: query parameters the caller adds to it).
GraphCall = Callable[[GraphServiceClient, RequestConfiguration[Any]], Awaitable[T]]


class GraphRefusal(Exception):
    """Graph answered with an error; ``str()`` is for a person and holds no secret."""

    def __init__(self, status: int | None, code: str | None, said: str):
        super().__init__(f"{status} {code or ''}: {said}".strip())
        self.status = status
        self.code = code
        self.said = said


class GraphWriter:
    """Graph requests for the actions, one at a time."""

    def __init__(
        self,
        endpoint: GraphEndpoint,
        credential_factory: Callable[[], TokenCredential],
        verify: str | bool = True,
        timeout: float = 60.0,
    ):
        self.endpoint = endpoint
        self.credential_factory = credential_factory
        self.verify = verify
        self.timeout = timeout
        self._credential: TokenCredential | None = None

    async def call(self, request: GraphCall[T], query: Any = None) -> T:
        """``request`` made with a fresh client; ``query`` is the builder's query-parameter object."""
        for attempt in (1, 2):
            if self._credential is None or attempt == 2:
                self._credential = self.credential_factory()
            http = GraphClientFactory.create_with_default_middleware(
                client=httpx.AsyncClient(verify=self.verify, timeout=self.timeout)
            )
            retry = RetryHandlerOption(delay=self.endpoint.retry_delay, max_retries=self.endpoint.max_retries)
            configuration: RequestConfiguration[Any] = RequestConfiguration(options=[retry], query_parameters=query)
            try:
                return await request(graph_client(self.endpoint, self._credential, http), configuration)
            except APIError as exc:
                if exc.response_status_code == 401 and attempt == 1:
                    continue
                raise _refusal(exc) from None
            except AzureError as exc:  # a refusal, or no answer from Entra ID
                said = (exc.message or "").strip().splitlines()
                raise Unreachable(
                    f"signing in to Entra ID for Graph failed: {said[0] if said else 'no reason given'}"
                ) from None
            except httpx.TimeoutException:
                raise Unreachable(
                    f"Graph at {self.endpoint.base_url} did not answer within {self.timeout:.0f} s"
                ) from None
            except httpx.HTTPError as exc:
                raise Unreachable(f"cannot reach Graph at {self.endpoint.base_url}: {type(exc).__name__}") from None
            finally:
                await http.aclose()
        raise AssertionError("unreachable")


def _refusal(exc: APIError) -> GraphRefusal:
    error = exc.error if isinstance(exc, ODataError) else None
    code = error.code if error is not None else None
    said = (error.message if error is not None else None) or exc.message or "no message"
    return GraphRefusal(exc.response_status_code, code, said.strip()[:500])
