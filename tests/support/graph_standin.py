"""A local stand-in for Microsoft Entra ID sign-in and Microsoft Graph, for the live collectors' tests.

Two real HTTP servers on 127.0.0.1, sharing one in-memory tenant:

* the identity platform over HTTPS (MSAL refuses a plain-http authority): OpenID configuration
  and the v2.0 token endpoint for client credentials (a secret or a certificate assertion).
  Tokens live ``token_lifetime`` seconds and the Graph server refuses them afterwards, so a
  collector that runs longer than a token must refresh it;
* Graph over HTTP (kiota allows plain http to 127.0.0.1): v1.0 and beta ``auditLogs/signIns``,
  ``security/alerts_v2`` and ``security/incidents`` (``$expand=alerts``), newest first as Graph
  lists sign-ins, with ``$filter`` on the time field (``ge``/``gt``/``le``/``lt``, ``and``; beta's
  ``signInEventTypes/any(...)``), ``$top`` and ``@odata.nextLink`` paging.

Faults are scripted per request (:meth:`GraphStandIn.fault`): 429/503 with ``Retry-After``,
500, a 401 for a token, the licence and permission 403s Graph really sends, and a page that
fails mid-run. Records are added at any time, so a test can play late arrivals.

The object shapes are Microsoft's own samples from the Graph API reference
(microsoftgraph/microsoft-graph-docs and microsoft-graph-docs-contrib, in /work/shared/data; see
its README), copied with new ids and times.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import re
import secrets
import ssl
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import duckdb

SIGNIN_KINDS = ("interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity")
LICENCE_403 = (
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    "Neither tenant is B2C or tenant doesn't have premium license",
)
PERMISSION_403 = ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

# -- Microsoft's samples ------------------------------------------------------------------------


def _sample_blocks(path: Path) -> list[dict]:
    """The JSON documents after ``HTTP/1.1 200 OK`` in a Graph docs page, read as leniently as
    DuckDB reads JSON (the samples have trailing commas); truncated ones are skipped."""
    text = path.read_text(encoding="utf-8")
    found = []
    with duckdb.connect() as con:
        for block in re.findall(r"HTTP/1.1 200 OK\s*\n(?:[\w-]+: [^\n]*\n)*\s*(\{.*?)\n```", text, re.S):
            minified = con.execute("SELECT CASE WHEN json_valid($1) THEN json($1)::VARCHAR END", [block]).fetchone()[0]
            if minified:
                found.append(json.loads(minified))
    return found


def sample_signins(shared_data: Path) -> list[dict]:
    """Sign-in objects from the v1.0 and beta ``List signIns`` reference pages."""
    base = shared_data / "microsoft-graph-docs" / "api-reference"
    items = []
    for page in (base / "v1.0/api/signin-list.md", base / "beta/api/signin-list.md"):
        for document in _sample_blocks(page):
            items.extend(document.get("value", []))
    return items


def sample_alert(shared_data: Path) -> dict:
    """The alert of the ``List alerts_v2`` reference page."""
    page = shared_data / "microsoft-graph-docs-contrib/api-reference/v1.0/api/security-list-alerts_v2.md"
    return _sample_blocks(page)[0]["value"][0]


def sample_incident(shared_data: Path) -> dict:
    """The incident of the ``List incidents`` reference page (without its alerts)."""
    page = shared_data / "microsoft-graph-docs-contrib/api-reference/v1.0/api/security-list-incidents.md"
    incident = copy.deepcopy(_sample_blocks(page)[0]["value"][0])
    incident.pop("alerts", None)
    return incident


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_signins(
    samples: list[dict], count: int, start: dt.datetime, step: dt.timedelta, kinds=("interactiveUser",), seed: str = "s"
) -> list[dict]:
    """``count`` sign-ins shaped like the samples, one every ``step`` from ``start``, cycling kinds."""
    made = []
    for n in range(count):
        record = copy.deepcopy(samples[n % len(samples)])
        kind = kinds[n % len(kinds)]
        record["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}-signin-{n}"))
        record["createdDateTime"] = iso(start + n * step)
        record["userPrincipalName"] = f"user{n % 37}@council.example.gov.uk"
        record["signInEventTypes"] = [kind]
        record["isInteractive"] = kind == "interactiveUser"
        made.append(record)
    return made


def make_alerts(sample: dict, count: int, start: dt.datetime, step: dt.timedelta, seed: str = "a") -> list[dict]:
    """``count`` alerts shaped like the sample, created and last updated one every ``step``."""
    made = []
    for n in range(count):
        alert = copy.deepcopy(sample)
        alert["id"] = f"da{uuid.uuid5(uuid.NAMESPACE_URL, f'{seed}-alert-{n}').hex}"
        alert["createdDateTime"] = alert["lastUpdateDateTime"] = iso(start + n * step)
        alert["status"] = "new"
        alert["incidentId"] = str(1000 + n // 2)
        made.append(alert)
    return made


# -- faults ------------------------------------------------------------------------------------


@dataclass
class Fault:
    """The next ``times`` Graph requests matching ``path`` (a substring) and, when ``paged``,
    carrying a ``$skiptoken`` (a later page), get this response instead of data."""

    status: int
    times: int = 1
    path: str = ""
    paged: bool = False
    retry_after: str | None = None
    code: str = ""
    message: str = ""

    def matches(self, path: str, query: dict) -> bool:
        return self.times > 0 and self.path in path and (not self.paged or "$skiptoken" in query)


@dataclass
class Request:
    at: float
    path: str
    query: dict
    status: int
    token: str | None


@dataclass
class Tenant:
    """What the stand-in serves and remembers."""

    signins: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    clients: dict[str, str] = field(default_factory=dict)  # client id -> secret ('' for certificate)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    token_requests: list[dict] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)


class GraphStandIn:
    """Start with :meth:`start`; point a collector at ``graph_url``, ``authority`` and ``ca_bundle``."""

    def __init__(self, token_lifetime: int = 3600, tenant_id: str = "council-tenant"):
        self.tenant = Tenant()
        self.token_lifetime = token_lifetime
        self.delay = 0.0  # seconds before each Graph answer: a slower Graph, for kill tests
        self.tenant_id = tenant_id
        self.lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="graph-standin-")
        self.ca_bundle = str(Path(self._dir.name) / "standin.pem")
        self._servers: list[ThreadingHTTPServer] = []

    # -- life --------------------------------------------------------------------------------

    def start(self) -> GraphStandIn:
        key_file = _self_signed(Path(self._dir.name), self.ca_bundle)
        identity = _server(self, _IdentityHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key_file)
        identity.socket = context.wrap_socket(identity.socket, server_side=True)
        graph = _server(self, _GraphHandler)
        self._servers = [identity, graph]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.authority = f"https://127.0.0.1:{identity.server_address[1]}"
        self.graph_url = f"http://127.0.0.1:{graph.server_address[1]}"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._dir.cleanup()

    # -- scripting ---------------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str = "") -> None:
        with self.lock:
            self.tenant.clients[client_id] = secret

    def add(self, signins=(), alerts=(), incidents=()) -> None:
        with self.lock:
            self.tenant.signins.extend(copy.deepcopy(list(signins)))
            self.tenant.alerts.extend(copy.deepcopy(list(alerts)))
            self.tenant.incidents.extend(copy.deepcopy(list(incidents)))

    def update_alert(self, alert_id: str, **changes) -> dict:
        with self.lock:
            alert = next(a for a in self.tenant.alerts if a["id"] == alert_id)
            alert.update(changes)
            return copy.deepcopy(alert)

    def fault(self, status: int, **kwargs) -> Fault:
        found = Fault(status, **kwargs)
        with self.lock:
            self.tenant.faults.append(found)
        return found

    def expire_tokens(self) -> None:
        """Graph forgets every token issued so far, as after a revocation or a key roll."""
        with self.lock:
            self.tenant.tokens.clear()

    def requests(self, path: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.tenant.requests if path in r.path]

    def signin_ids(self) -> set[str]:
        with self.lock:
            return {s["id"] for s in self.tenant.signins}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client killed mid-request (the durability test does it on purpose) is not news."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


def _server(standin: GraphStandIn, handler: type) -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.standin = standin
    return server


def _self_signed(folder: Path, cert_path: str) -> str:
    """A certificate for 127.0.0.1 (its own CA), so azure-identity can trust the stand-in."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    Path(cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = folder / "standin.key"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(key_path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: pytest shows failures, not traffic
        pass

    @property
    def standin(self) -> GraphStandIn:
        return self.server.standin

    def reply(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _IdentityHandler(_Handler):
    """OpenID configuration and the client-credentials token endpoint."""

    def do_GET(self) -> None:
        tenant = self.path.strip("/").split("/")[0]
        if self.path.endswith("/.well-known/openid-configuration"):
            base = f"https://127.0.0.1:{self.server.server_address[1]}/{tenant}"
            self.reply(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                },
            )
            return
        self.reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        standin = self.standin
        with standin.lock:
            standin.tenant.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
            known = standin.tenant.clients.get(form.get("client_id", ""))
        if known is None or not _client_proves(form, known):
            self.reply(
                401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
            )
            return
        token = secrets.token_urlsafe(24)
        with standin.lock:
            standin.tenant.tokens[token] = time.time() + standin.token_lifetime
        self.reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": standin.token_lifetime,
                "ext_expires_in": standin.token_lifetime,
                "access_token": token,
            },
        )


def _client_proves(form: dict, secret: str) -> bool:
    """A secret that matches, or a certificate assertion: a JWT whose header names the key."""
    if secret:
        return form.get("client_secret") == secret
    assertion = form.get("client_assertion", "")
    if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
    except ValueError:
        return False
    return bool(header.get("x5t") or header.get("x5t#S256")) and assertion.count(".") == 2


_COMPARE = {"ge": lambda a, b: a >= b, "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}
_TIME_CLAUSE = re.compile(r"(\w+) (ge|gt|le|lt) (\S+)")


class _GraphHandler(_Handler):
    """Graph collections, newest first, filtered and paged."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        token = self.headers.get("Authorization", "").removeprefix("Bearer ") or None
        time.sleep(self.standin.delay)
        status = self._serve(url.path, query, token)
        with self.standin.lock:
            self.standin.tenant.requests.append(Request(time.time(), url.path, query, status, token))

    def _serve(self, path: str, query: dict, token: str | None) -> int:
        standin = self.standin
        with standin.lock:
            expiry = standin.tenant.tokens.get(token or "")
            fault = next((f for f in standin.tenant.faults if f.matches(path, query)), None)
            if fault is not None and expiry is not None and expiry > time.time():
                fault.times -= 1
        if expiry is None or expiry <= time.time():
            self.reply(
                401,
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "Access token has expired or is not yet valid.",
                    }
                },
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            return 401
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self.reply(
                fault.status,
                {"error": {"code": fault.code or "UnknownError", "message": fault.message or "scripted fault"}},
                headers,
            )
            return fault.status
        listing = self._listing(path, query)
        if isinstance(listing, tuple):
            self.reply(*listing)
            return listing[0]
        self.reply(200, self._page(path, query, listing))
        return 200

    def _listing(self, path: str, query: dict):
        """The collection's items that pass ``$filter``, newest first, or (status, error body)."""
        version, _, resource = path.strip("/").partition("/")
        tenant = self.standin.tenant
        with self.standin.lock:
            if resource.lower() == "auditlogs/signins":
                items, time_field = list(tenant.signins), "createdDateTime"
            elif resource == "security/alerts_v2":
                items, time_field = list(tenant.alerts), "lastUpdateDateTime"
            elif resource == "security/incidents":
                items, time_field = list(tenant.incidents), "lastUpdateDateTime"
                if "alerts" in query.get("$expand", ""):
                    items = [
                        dict(i, alerts=[a for a in tenant.alerts if a.get("incidentId") == i["id"]]) for i in items
                    ]
            else:
                return 404, {"error": {"code": "BadRequest", "message": f"Resource not found: {resource}"}}
            items = copy.deepcopy(items)
        text = query.get("$filter", "")
        kinds = re.findall(r"t eq '(\w+)'", text)
        if "signInEventTypes" in text and version != "beta":
            return 400, {
                "error": {
                    "code": "BadRequest",
                    "message": "Could not find a property named 'signInEventTypes' on type 'microsoft.graph.signIn'.",
                }
            }
        if resource.lower() == "auditlogs/signins":
            wanted = set(kinds) if version == "beta" and kinds else {"interactiveUser"}
            items = [i for i in items if set(i.get("signInEventTypes") or ["interactiveUser"]) & wanted]
        for name, op, value in _TIME_CLAUSE.findall(text):
            if name != time_field:
                return 400, {"error": {"code": "BadRequest", "message": f"Invalid filter clause: {name}"}}
            bound = _parse_time(value)
            # a record whose time is broken (a test's malformed record) passes every filter
            items = [
                i
                for i in items
                if _sort_time(i, time_field) == _BROKEN or _COMPARE[op](_sort_time(i, time_field), bound)
            ]
        items.sort(key=lambda i: (_sort_time(i, time_field), i["id"]), reverse=True)
        return items

    def _page(self, path: str, query: dict, items: list[dict]) -> dict:
        top = min(int(query.get("$top", 1000)), 1000)
        offset = int(base64.urlsafe_b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
        page = {"@odata.context": f"{self.standin.graph_url}/$metadata", "value": items[offset : offset + top]}
        if offset + top < len(items):
            following = dict(query, **{"$skiptoken": base64.urlsafe_b64encode(str(offset + top).encode()).decode()})
            page["@odata.nextLink"] = f"{self.standin.graph_url}{path}?{urlencode(following)}"
        return page


_BROKEN = dt.datetime.min.replace(tzinfo=dt.UTC)


def _sort_time(item: dict, field_name: str) -> dt.datetime:
    try:
        return _parse_time(item[field_name])
    except (KeyError, TypeError, ValueError, AttributeError):
        return _BROKEN


def _parse_time(text: str) -> dt.datetime:
    text = text.strip("'")
    match = re.match(r"(.*?)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    base, fraction, zone = match.groups()
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    moment = dt.datetime.fromisoformat(f"{base}.{micros}")
    return (
        moment.replace(tzinfo=dt.UTC)
        if zone in (None, "Z")
        else moment.replace(tzinfo=dt.datetime.fromisoformat(f"2000-01-01T00:00:00{zone}").tzinfo)
    )
