"""An ``elasticsearch.Elasticsearch`` client built from plain settings.

The console reads the config (hosts or an Elastic Cloud id, an API key or a user and password, a CA
bundle) and hands this module plain values; the store never reads config itself. Secrets are kept
out of ``repr`` and out of every error message, because both end up in logs and terminals.
TLS certificates are verified unless the settings say ``verify_certs = False`` in so many words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class ElasticSettingsError(ValueError):
    """The settings cannot make a client; the message names the setting, never a secret."""


class ElasticStoreError(RuntimeError):
    """Events could not be stored, through no fault of their own. Nothing is lost: the events not
    stored are still in the source, and ingesting it again stores each once. (Defined here, not
    beside the bulk code, so the CLI can catch these without importing the Elasticsearch client.)"""


class ElasticUnavailable(ElasticStoreError):
    """The cluster could not be reached, or kept answering "busy", until the deadline."""


class ElasticRefused(ElasticStoreError):
    """The cluster refused documents for a reason of its own (no room for another index, a
    closed index, a missing permission): quarantining the events would blame the wrong party."""


@dataclass(frozen=True)
class ElasticSettings:
    hosts: tuple[str, ...] = ()
    cloud_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: Path | None = None
    verify_certs: bool = True
    index_prefix: str = "cyberwell-"
    request_timeout: float = 60.0
    #: How long an append keeps retrying while the cluster cannot be reached, before it gives up.
    retry_deadline: float = 300.0

    def __repr__(self) -> str:
        secrets = ", ".join(name for name in ("api_key", "password") if getattr(self, name))
        return (
            f"ElasticSettings(hosts={list(self.hosts)!r}, cloud_id={self.cloud_id!r}, "
            f"username={self.username!r}, ca_certs={self.ca_certs!r}, verify_certs={self.verify_certs}, "
            f"index_prefix={self.index_prefix!r}, secrets set: {secrets or 'none'})"
        )

    def describe(self) -> str:
        """Where the client connects, for messages: hosts or the cloud id, no credentials."""
        if self.cloud_id:
            return f"Elastic Cloud deployment {self.cloud_id.split(':', 1)[0]!r}"
        return ", ".join(without_userinfo(host) for host in self.hosts)


def without_userinfo(url: str) -> str:
    """``https://user:secret@host:9200`` -> ``https://host:9200``: a URL may carry a password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if sep else host


def check(settings: ElasticSettings) -> None:
    """Refuse settings that cannot work, naming the setting at fault."""
    if not settings.hosts and not settings.cloud_id:
        raise ElasticSettingsError("store.elasticsearch: give hosts (a list of URLs) or cloud_id")
    if settings.hosts and settings.cloud_id:
        raise ElasticSettingsError("store.elasticsearch: give either hosts or cloud_id, not both")
    for host in settings.hosts:
        _check_host(host)
    if settings.cloud_id:
        _check_cloud_id(settings.cloud_id)
    _check_one_line(settings)
    if settings.api_key and (settings.username or settings.password):
        raise ElasticSettingsError("store.elasticsearch: give api_key or username and password, not both")
    if bool(settings.username) != bool(settings.password):
        raise ElasticSettingsError(
            "store.elasticsearch: username and password go together (password may come from password_file or CYBERWELL_ES_PASSWORD)"
        )
    if settings.ca_certs is not None and not Path(settings.ca_certs).is_file():
        raise ElasticSettingsError(f"store.elasticsearch.ca_certs: no such file: {settings.ca_certs}")
    if (
        not settings.index_prefix
        or settings.index_prefix != settings.index_prefix.lower()
        or any(char in settings.index_prefix for char in ' "*\\<|,>/?#:')
        or settings.index_prefix.startswith(("_", "-", "+"))
    ):
        raise ElasticSettingsError(
            f"store.elasticsearch.index_prefix: expected lower-case letters, digits, '-', '_' or '.', got {settings.index_prefix!r}"
        )


def _check_host(host: str) -> None:
    """A URL the client can parse (with the client's own parser), shown without its password."""
    from elastic_transport.client_utils import url_to_node_config

    expected = "store.elasticsearch.hosts: expected URLs such as https://es.example:9200"
    if not host.startswith(("http://", "https://")):
        raise ElasticSettingsError(f"{expected}, got {without_userinfo(host)!r}")
    try:
        url_to_node_config(host)
    except ValueError:
        # The parser's message holds the whole URL, password and all.
        raise ElasticSettingsError(f"{expected}, got {without_userinfo(host)!r}, which cannot be read as one") from None


def _check_cloud_id(cloud_id: str) -> None:
    """``name:base64`` as the Elastic Cloud console shows it, read by the client's own parser."""
    from elastic_transport.client_utils import parse_cloud_id

    try:
        address = parse_cloud_id(cloud_id).es_address
    except ValueError:
        address = None
    if address is None:
        raise ElasticSettingsError(
            "store.elasticsearch.cloud_id: expected the deployment's Cloud ID as the Elastic Cloud console "
            "shows it (name:base64...); this one does not name an Elasticsearch address"
        )


def _check_one_line(settings: ElasticSettings) -> None:
    """Credentials go into an HTTP header, which a line break would end (and http.client would
    then refuse with the header, secret and all, in its message)."""
    for name, value in (
        ("api_key", settings.api_key),
        ("username", settings.username),
        ("password", settings.password),
    ):
        if value is not None and any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise ElasticSettingsError(
                f"store.elasticsearch.{name}: holds a line break or another control character "
                f"(not shown); it must be one line, wherever it comes from ({name}, {name}_file or the environment)"
            )


def build_client(settings: ElasticSettings):
    """A client for the settings. Responses are parsed with orjson: search results are big."""
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    check(settings)
    options: dict = {
        "request_timeout": settings.request_timeout,
        "verify_certs": settings.verify_certs,
        "serializer": OrjsonSerializer(),
    }
    if settings.cloud_id:
        options["cloud_id"] = settings.cloud_id
    else:
        options["hosts"] = list(settings.hosts)
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password)
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if not settings.verify_certs:
        options["ssl_show_warn"] = False  # turned off on purpose, in the config, in so many words
    try:
        return Elasticsearch(**options)
    except ValueError as error:
        # Not its message: the client quotes what it could not read, a URL's password among it.
        raise ElasticSettingsError(
            f"store.elasticsearch: the client refused these settings ({type(error).__name__})"
        ) from None
