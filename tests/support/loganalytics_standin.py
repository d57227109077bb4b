"""A stand-in for the Log Analytics query API and its token endpoint, on 127.0.0.1.

The real ``azure-monitor-query`` client talks to it over HTTP, so the collector's requests, the
SDK's parsing and azure-core's retry and bearer-token policies all run for real. It serves:

* ``POST /v1/workspaces/{id}/query`` — the query API: ``{"query", "timespan"}`` in, the documented
  ``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}`` out,
  and, for a non-fatal error, HTTP 200 with an ``error`` object (code ``PartialError``) beside the
  tables, as Microsoft's "response format" page describes.
* ``POST /{tenant}/oauth2/v2.0/token`` — client-credentials tokens with a lifetime; the query API
  refuses tokens that expired or were revoked (401 with a ``WWW-Authenticate`` challenge).

It evaluates only the KQL shapes the firewall collector emits (a table or a fuzzy ``union``,
``where`` on ``Category in (...)`` and a ``TimeGenerated`` range, ``extend`` of hidden columns,
``project``, ``order by``, ``take``, ``summarize count() by``); anything else is a 400 syntax
error, so a change in the collector's queries shows up here rather than passing silently.

Like the service, columns whose names start with ``_`` (``_ItemId``, ``_ResourceId``) are hidden
unless the query names them, and a result over the row limit is cut to the limit and flagged with
a partial error.

Faults are scripted per query request: :meth:`LogAnalyticsStandIn.script` queues responses
(429 with ``Retry-After``, 5xx, partial results) used before normal service resumes.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from azure.core.credentials import AccessToken, AccessTokenInfo

TOO_LARGE = "E_QUERY_RESULT_SET_TOO_LARGE"
# Kusto types of the columns the stand-in serves; anything else is "string".
COLUMN_TYPES = {
    "TimeGenerated": "datetime",
    "SourcePort": "int",
    "DestinationPort": "int",
    "TranslatedPort": "int",
    "Severity": "int",
    "IsTlsInspected": "bool",
    "IsExplicitProxyRequest": "bool",
    "Rows": "long",
}


@dataclass
class Fault:
    """One scripted answer to a query request, in place of the normal one."""

    status: int = 200  # 429, 500, 503, ... or 200 with a partial error
    retry_after: str | None = None
    partial_message: str | None = None  # 200 with rows cut to ``keep`` and this error
    keep: float = 0.5  # share of the rows a partial result keeps


@dataclass
class QueryLog:
    query: str
    timespan: str | None
    status: int
    rows: int = 0


@dataclass
class _Token:
    expires_at: float
    revoked: bool = False


@dataclass
class LogAnalyticsStandIn:
    """The server's state: tables of rows, limits, scripted faults, issued tokens, a request log."""

    workspace_id: str = "ws-council"
    row_limit: int = 500_000
    token_lifetime: float = 3600.0
    tables: dict[str, list[dict]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[QueryLog] = field(default_factory=list)
    tokens: dict[str, _Token] = field(default_factory=dict)
    tokens_issued: int = 0
    revoke_after_queries: int | None = None  # CAE-style revocation after n successful queries
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests do ------------------------------------------------------------------------

    def add_rows(self, table: str, rows: list[dict]) -> None:
        """Rows become visible to queries from now on (late events: add them with old times)."""
        with self._lock:
            self.tables.setdefault(table, []).extend(rows)

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> RunningStandIn:
        return RunningStandIn(self)

    # -- the query API ------------------------------------------------------------------------

    def answer_query(self, body: dict, authorization: str | None) -> tuple[int, dict, dict]:
        """(status, headers, JSON body) for one query request."""
        query, timespan = body.get("query", ""), body.get("timespan")
        denied = self._check_token(authorization)
        if denied:
            self.log.append(QueryLog(query, timespan, 401))
            return denied
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault and fault.status != 200:
            self.log.append(QueryLog(query, timespan, fault.status))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = "ThrottledError" if fault.status == 429 else "ServiceError"
            return fault.status, headers, {"error": {"code": code, "message": f"stand-in fault {fault.status}"}}
        try:
            columns, rows = evaluate(query, timespan, self._snapshot())
        except KqlError as exc:
            self.log.append(QueryLog(query, timespan, 400))
            return (
                400,
                {},
                {
                    "error": {
                        "code": "BadArgumentError",
                        "message": "The request had some invalid properties",
                        "innererror": {"code": "SyntaxError", "message": str(exc)},
                    }
                },
            )
        error = None
        if len(rows) > self.row_limit:
            rows = rows[: self.row_limit]
            error = _partial_error(
                f"Query result set has exceeded the internal record count limit {self.row_limit} "
                f"({TOO_LARGE}; see https://aka.ms/kustoquerylimits)"
            )
        elif fault and fault.partial_message:
            rows = rows[: int(len(rows) * fault.keep)]
            error = _partial_error(fault.partial_message)
        with self._lock:
            self.log.append(QueryLog(query, timespan, 200, len(rows)))
            if self.revoke_after_queries is not None:
                self.revoke_after_queries -= 1
                if self.revoke_after_queries <= 0:
                    self.revoke_after_queries = None
                    for token in self.tokens.values():
                        token.revoked = True
        table = {
            "name": "PrimaryResult",
            "columns": [{"name": c, "type": COLUMN_TYPES.get(c, "string")} for c in columns],
            "rows": [[row.get(c) for c in columns] for row in rows],
        }
        result = {"tables": [table]}
        if error:
            result["error"] = error
        return 200, {}, result

    def _snapshot(self) -> dict[str, list[dict]]:
        with self._lock:
            return {name: list(rows) for name, rows in self.tables.items()}

    def _check_token(self, authorization: str | None):
        if not authorization or not authorization.startswith("Bearer "):
            return (
                401,
                {},
                {
                    "error": {
                        "code": "AuthenticationFailed",
                        "message": "Authentication failed. The 'Authorization' header is missing.",
                    }
                },
            )
        with self._lock:
            token = self.tokens.get(authorization[len("Bearer ") :])
        if token is None or token.expires_at <= time.time():
            challenge = (
                'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                'error="invalid_token", error_description="The access token expired"'
            )
            return (
                401,
                {"WWW-Authenticate": challenge},
                {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is expired."}},
            )
        if token.revoked:
            # What a CAE-aware resource answers when a session is revoked: a claims challenge,
            # which azure-core's bearer policy answers by asking the credential for a new token.
            claims = (
                base64.urlsafe_b64encode(b'{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}')
                .decode()
                .rstrip("=")
            )
            challenge = (
                f'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                f'error="insufficient_claims", claims="{claims}"'
            )
            return (
                401,
                {"WWW-Authenticate": challenge},
                {"error": {"code": "InvalidAuthenticationToken", "message": "The access token was revoked."}},
            )
        return None

    # -- the token endpoint -------------------------------------------------------------------

    def issue_token(self, form: dict) -> tuple[int, dict, dict]:
        if form.get("grant_type") != "client_credentials" or not form.get("client_secret"):
            return 400, {}, {"error": "invalid_request", "error_description": "client credentials required"}
        access = secrets.token_hex(16)
        with self._lock:
            self.tokens[access] = _Token(time.time() + self.token_lifetime)
            self.tokens_issued += 1
        return (
            200,
            {},
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": access,
            },
        )


def _partial_error(message: str) -> dict:
    """The partial-error object: code PartialError, the engine's message in ``details``."""
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [
            {
                "code": "EngineError",
                "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196794", "message": message, "severity": 2, "severityName": "Error"},
            }
        ],
    }


# -- the KQL subset ------------------------------------------------------------------------------


class KqlError(ValueError):
    pass


_DATETIME = r"datetime\(([^)]+)\)"
_TIME_RANGE = re.compile(rf"TimeGenerated >= {_DATETIME} and TimeGenerated < {_DATETIME}$")
_CATEGORY_IN = re.compile(r'Category in \(((?:"[^"]*"(?:, )?)+)\)$')
_UNION = re.compile(r"union isfuzzy=true withsource=(\w+) (.+)$")
_SUMMARIZE = re.compile(r"summarize (\w+) = count\(\) by (\w+(?:, \w+)*)$")


def evaluate(query: str, timespan: str | None, tables: dict[str, list[dict]]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of one query in the collector's dialect over the given tables."""
    stages = [s.strip() for s in query.split("\n|")]
    source = stages[0]
    union = _UNION.match(source)
    if union:
        rows = []
        for pattern in [p.strip() for p in union.group(2).split(",")]:
            for name in sorted(n for n in tables if fnmatch.fnmatchcase(n, pattern)):
                rows.extend({**row, union.group(1): name} for row in tables[name])
    elif re.fullmatch(r"\w+", source):
        if source not in tables:
            raise KqlError(f"'{source}': Failed to resolve table expression")
        rows = list(tables[source])
    else:
        raise KqlError(f"unsupported source: {source}")
    rows = _in_timespan(rows, timespan)
    named: set[str] = set()  # hidden columns the query asked for
    projected: list[str] | None = None
    for stage in stages[1:]:
        rows, named, projected = _stage(stage, rows, named, projected)
    if projected is None:
        projected = _visible_columns(rows, named)
    return projected, rows


def _stage(stage: str, rows: list[dict], named: set[str], projected):
    if stage.startswith("where "):
        condition = stage[len("where ") :]
        if m := _TIME_RANGE.match(condition):
            low, high = _kql_time(m.group(1)), _kql_time(m.group(2))
            return [r for r in rows if low <= _row_time(r) < high], named, projected
        if m := _CATEGORY_IN.match(condition):
            wanted = set(re.findall(r'"([^"]*)"', m.group(1)))
            return [r for r in rows if r.get("Category") in wanted], named, projected
        raise KqlError(f"unsupported where: {condition}")
    if stage.startswith("extend "):
        for part in stage[len("extend ") :].split(","):
            left, _, right = (p.strip() for p in part.partition("="))
            if left != right:
                raise KqlError(f"unsupported extend: {part}")
            named.add(left)
        return rows, named, projected
    if stage.startswith("project "):
        return rows, named, [c.strip() for c in stage[len("project ") :].split(",")]
    if stage.startswith("order by "):
        keys = []
        for key in stage[len("order by ") :].split(","):
            column, _, direction = key.strip().partition(" ")
            if direction not in ("asc", "desc"):
                raise KqlError(f"order needs asc or desc: {key}")
            keys.append((column, direction == "desc"))
        for column, descending in reversed(keys):
            rows = sorted(rows, key=lambda r: (r.get(column) is None, r.get(column) or ""), reverse=descending)
        return rows, named, projected
    if stage.startswith("take "):
        return rows[: int(stage[len("take ") :])], named, projected
    if m := _SUMMARIZE.match(stage):
        by = [c.strip() for c in m.group(2).split(",")]
        counts: dict[tuple, int] = {}
        for row in rows:
            group = tuple(row.get(c) for c in by)
            counts[group] = counts.get(group, 0) + 1
        out = [{**dict(zip(by, group)), m.group(1): n} for group, n in sorted(counts.items(), key=str)]
        return out, named, [*by, m.group(1)]
    raise KqlError(f"unsupported operator: {stage}")


def _visible_columns(rows: list[dict], named: set[str]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        for name in row:
            if not name.startswith("_") or name in named:
                columns[name] = None
    return list(columns)


def _kql_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _row_time(row: dict) -> datetime:
    # Only the fixed-width ISO prefix is read, so a test can serve a value whose tail is
    # corrupt (the client then cannot read it) inside a time window.
    return _kql_time(row["TimeGenerated"][:28])


def _in_timespan(rows: list[dict], timespan: str | None) -> list[dict]:
    """The request's ``timespan`` (start/end) narrows the rows, as the service does."""
    if not timespan or "/" not in timespan:
        return rows
    start, end = (_kql_time(part) for part in timespan.split("/"))
    return [r for r in rows if start <= _row_time(r) <= end]


# -- HTTP ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        state = self.server.state
        path = urllib.parse.urlparse(self.path).path
        if path == f"/v1/workspaces/{state.workspace_id}/query":
            status, headers, body = state.answer_query(json.loads(raw or b"{}"), self.headers.get("Authorization"))
        elif path.endswith("/oauth2/v2.0/token"):
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            status, headers, body = state.issue_token(form)
        else:
            status, headers, body = 404, {}, {"error": {"code": "PathNotFoundError", "message": path}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 — quiet: tests read state.log instead
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: LogAnalyticsStandIn):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class RunningStandIn:
    """The stand-in serving on a free port in a background thread; a context manager."""

    def __init__(self, state: LogAnalyticsStandIn):
        self.state = state
        self._server = _Server(state)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def token_url(self, tenant: str = "council-tenant") -> str:
        return f"{self.url}/{tenant}/oauth2/v2.0/token"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RunningStandIn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class StandInCredential:
    """The smallest ``TokenCredential`` that gets client-credentials tokens over plain HTTP.

    Why not ``azure.identity.ClientSecretCredential``: azure-identity refuses an authority that is
    not https ("... is an invalid authority. The value must be a TLS protected (https) URL.",
    ``azure/identity/_internal/__init__.py`` ``normalize_authority``), and the stand-in has no TLS.
    Like MSAL, it keeps a token until it expires and fetches a new one when asked with ``claims``
    (a CAE challenge), so token expiry and revocation are exercised for real.
    """

    def __init__(self, token_url: str, client_id: str = "cyberwell-test", client_secret: str = "s3cret"):
        self.token_url, self.client_id, self._secret = token_url, client_id, client_secret
        self._cached: AccessTokenInfo | None = None
        self.requests = 0

    def get_token_info(self, *scopes: str, options: dict | None = None) -> AccessTokenInfo:
        options = options or {}
        if self._cached and not options.get("claims") and self._cached.expires_on > time.time():
            return self._cached
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
                "scope": " ".join(scopes),
            }
        ).encode()
        with urllib.request.urlopen(urllib.request.Request(self.token_url, data=form), timeout=10) as response:
            body = json.loads(response.read())
        self.requests += 1
        self._cached = AccessTokenInfo(body["access_token"], int(time.time() + float(body["expires_in"])))
        return self._cached

    def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, enable_cae: bool = False, **kwargs
    ) -> AccessToken:
        info = self.get_token_info(*scopes, options={"claims": claims} if claims else None)
        return AccessToken(info.token, info.expires_on)


def utc_iso(moment: datetime) -> str:
    """Log Analytics' datetime text: ISO 8601 UTC with seven fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
