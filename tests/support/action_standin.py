"""A local stand-in for the APIs response actions call: Entra ID's token endpoint, Graph,
Defender for Endpoint, Azure Resource Manager and a Teams Workflows webhook, as one real HTTP
server on 127.0.0.1 that records every request exactly as it arrived.

Responses are scripted per method and path (:meth:`ActionStandIn.on`): a sequence of
:class:`Answer`\\ s, the last repeated, so a test plays "429 with Retry-After, then 204" or "412,
then 200". Unscripted requests get 599, so a request a test did not expect cannot pass unseen.

The token endpoint (``POST /token``) issues a new random token each time and records the scope
asked for; :func:`credential` returns the suite's ``StandInCredential`` pointed at it, so the
bearer an action sends is a token really obtained, and a test can tell a fresh one from a cached
one.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.loganalytics_standin import StandInCredential


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow service)


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    at: float
    method: str
    raw_path: str  # as sent, still percent-encoded
    path: str  # decoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or the raw bytes when not JSON, or None when empty

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


class ActionStandIn:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.tokens: list[str] = []
        self.scopes: list[str] = []
        self._scripts: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def credential(self) -> StandInCredential:
        return StandInCredential(f"{self.url}/token")

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` (decoded, without query) with ``answers`` in turn, the last repeated."""
        with self._lock:
            self._scripts[(method, path)] = list(answers)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """What arrived (token requests aside), optionally only one method and path."""
        return [s for s in self.seen if (method in (None, s.method)) and (path in (None, s.path))]

    def start(self) -> ActionStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, path: str) -> Answer:
        with self._lock:
            script = self._scripts.get((method, path))
            if not script:
                return Answer(599, {"error": {"code": "NotScripted", "message": f"{method} {path}"}})
            return script.pop(0) if len(script) > 1 else script[0]

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                if parts.path == "/token":
                    return self._token(raw)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                seen = Seen(
                    time.monotonic(),
                    self.command,
                    parts.path,
                    unquote(parts.path),
                    parse_qs(parts.query, keep_blank_values=True),
                    {name.lower(): value for name, value in self.headers.items()},
                    body,
                )
                with standin._lock:
                    standin.seen.append(seen)
                answer = standin._answer(self.command, seen.path)
                if answer.delay:
                    time.sleep(answer.delay)
                self._send(answer)

            def _token(self, raw: bytes) -> None:
                form = parse_qs(raw.decode())
                token = "tok-" + secrets.token_urlsafe(24)
                with standin._lock:
                    standin.tokens.append(token)
                    standin.scopes.extend(form.get("scope", []))
                self._send(Answer(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}))

            def _send(self, answer: Answer) -> None:
                data = answer.body if isinstance(answer.body, bytes) else b""
                if answer.body is not None and not isinstance(answer.body, bytes):
                    data = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers} if data else answer.headers
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        return Handler
