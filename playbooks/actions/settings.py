"""Where each action acts: the ``[actions.*]`` tables of the config, as typed settings.

Example::

    [actions.graph]                 # turns on graph.disable_user, revoke_sessions, confirm_compromised
    [actions.defender]              # turns on defender.isolate_device and release_device
    [actions.azure_firewall]        # turns on azure.block_ip
    ip_group = "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/ipGroups/<name>"
    [actions.named_location]        # turns on graph.block_ip_named_location
    id = "<the IP named location's id>"
    [actions.teams]                 # turns on notify.teams
    webhook_url_env = "CYBERWELL_TEAMS_WEBHOOK"      # or webhook_url_file
    [actions.email]                 # turns on notify.email
    sender = "soc@council.gov.uk"
    recipients = ["security@council.gov.uk"]

Every table also takes ``base_url`` (a sovereign cloud, or a stand-in on 127.0.0.1: plain http
is allowed only on the loopback address), ``ca_bundle`` (a private certificate authority; TLS
verification is never off) and the patience keys ``max_retries`` and ``retry_delay``. The sign-in
keys (``tenant_id``, ``client_id``, ``client_secret_env``...) beside the tables are
``microsoft.identity``'s and are skipped here.

A Teams Workflows URL carries its signature (``sig=``) in the query: whoever has it can post to
the channel. So it is never in the config, only where to find it (``webhook_url_env`` or
``webhook_url_file``); it is read by :meth:`TeamsSettings.webhook_url` and never shown: errors
name the key, not the value.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from microsoft.azure_resources import NETWORK_API_VERSION, PUBLIC_ARM
from microsoft.defender_endpoint import PUBLIC_API
from microsoft.graph import PUBLIC_GRAPH
from microsoft.identity import IdentitySettings
from playbooks.actions.argument_types import email_address

T = TypeVar("T")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_IP_GROUP = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Network/ipGroups/[-\w.]{1,80}"
)
#: An environment variable's name as people write them (a pasted secret would not look like one).
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class ActionSettingsError(ValueError):
    """A setting is wrong; ``key`` names it (``actions.teams.webhook_url_env``), never a secret."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Reach:
    """Where an API is and how patient to be with it (every table has these)."""

    base_url: str
    ca_bundle: str | None = None
    max_retries: int = 3
    retry_delay: float = 2.0

    @property
    def verify(self) -> str | bool:
        """What httpx verifies the server with: the CA bundle, else the system's."""
        return self.ca_bundle or True


@dataclass(frozen=True)
class GraphSettings:
    reach: Reach = Reach(PUBLIC_GRAPH)
    api_version: str = "v1.0"


@dataclass(frozen=True)
class DefenderSettings:
    reach: Reach = Reach(PUBLIC_API)


@dataclass(frozen=True)
class FirewallSettings:
    ip_group: str  # the IP group's resource id
    reach: Reach = Reach(PUBLIC_ARM)
    api_version: str = NETWORK_API_VERSION
    poll_timeout: float = 300.0  # seconds to follow the update's Azure-AsyncOperation


@dataclass(frozen=True)
class NamedLocationSettings:
    id: str


@dataclass(frozen=True)
class TeamsSettings:
    webhook_url_env: str | None = None
    webhook_url_file: str | None = None
    ca_bundle: str | None = None

    def webhook_url(self, environ: Mapping[str, str] = os.environ) -> SecretStr:
        """The webhook URL from the variable or file; checked to be https (or loopback http)."""
        url = _read_secret("actions.teams", self.webhook_url_env, self.webhook_url_file, environ)
        parts = urlsplit(url)
        if (
            not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK))
            or not parts.hostname
        ):
            where = "webhook_url_env" if self.webhook_url_env else "webhook_url_file"
            raise ActionSettingsError(f"actions.teams.{where}", "the webhook URL found there is not an https URL")
        return SecretStr(url)


@dataclass(frozen=True)
class EmailSettings:
    sender: str
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionSettings:
    """Each table present turns its actions on; a missing table leaves them out."""

    graph: GraphSettings | None = None
    defender: DefenderSettings | None = None
    azure_firewall: FirewallSettings | None = None
    named_location: NamedLocationSettings | None = None
    teams: TeamsSettings | None = None
    email: EmailSettings | None = None

    @property
    def graph_or_default(self) -> GraphSettings:
        """Where Graph is for the actions that need it but not the user actions' table."""
        return self.graph or GraphSettings()

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> ActionSettings:
        unknown = sorted(set(settings) - set(_SECTIONS) - set(IdentitySettings.__dataclass_fields__))
        if unknown:
            raise ActionSettingsError(f"actions.{unknown[0]}", f"unknown; expected one of {', '.join(_SECTIONS)}")
        found: dict[str, Any] = {}
        for name, parse in _SECTIONS.items():
            if name in settings:
                table = settings[name]
                if not isinstance(table, Mapping):
                    raise ActionSettingsError(f"actions.{name}", f"expected a table, got {type(table).__name__}")
                found[name] = parse(_Table(f"actions.{name}", table))
        return cls(**found)


class _Table:
    """One ``[actions.x]`` table, read key by key; every error names ``actions.x.key``."""

    def __init__(self, where: str, values: Mapping[str, Any]):
        self.where, self.values = where, values
        self.read: set[str] = set()

    def _get(self, key: str, kind: type[T] | tuple[type, ...], expected: str) -> T | None:
        self.read.add(key)
        if key not in self.values:
            return None
        value = self.values[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ActionSettingsError(f"{self.where}.{key}", f"expected {expected}, got {type(value).__name__}")
        return value  # type: ignore[return-value]

    def text(self, key: str, required: bool = False) -> str | None:
        value = self._get(key, str, "a non-empty string")
        if value is not None and not value.strip():
            raise ActionSettingsError(f"{self.where}.{key}", "expected a non-empty string")
        if value is None and required:
            raise ActionSettingsError(f"{self.where}.{key}", "required")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if not low <= value <= high:
            raise ActionSettingsError(f"{self.where}.{key}", f"expected a number from {low:g} to {high:g}, got {value}")
        return float(value)

    def strings(self, key: str) -> list[str]:
        value = self._get(key, list, "a list of strings")
        if value is None:
            return []
        if not all(isinstance(item, str) for item in value):
            raise ActionSettingsError(f"{self.where}.{key}", "expected a list of strings")
        return value

    def reach(self, default_url: str) -> Reach:
        url = self.text("base_url") or default_url
        parts = urlsplit(url)
        if not parts.hostname or not (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        ):
            raise ActionSettingsError(
                f"{self.where}.base_url",
                f"expected an https URL (plain http only on the loopback address), got {url!r}",
            )
        return Reach(
            base_url=url.rstrip("/"),
            ca_bundle=self.text("ca_bundle"),
            max_retries=int(self.number("max_retries", 3, 0, 10)),
            retry_delay=self.number("retry_delay", 2.0, 0, 60),
        )

    def done(self) -> None:
        """Refuse keys nobody read: a misspelt key must not silently fall back to a default."""
        unknown = sorted(set(self.values) - self.read)
        if unknown:
            raise ActionSettingsError(
                f"{self.where}.{unknown[0]}", f"unknown key; expected one of {', '.join(sorted(self.read))}"
            )


def _graph(table: _Table) -> GraphSettings:
    reach = table.reach(PUBLIC_GRAPH)
    version = table.text("api_version") or "v1.0"
    if version not in ("v1.0", "beta"):
        raise ActionSettingsError(f"{table.where}.api_version", f'expected "v1.0" or "beta", got {version!r}')
    table.done()
    return GraphSettings(reach, version)


def _defender(table: _Table) -> DefenderSettings:
    reach = table.reach(PUBLIC_API)
    table.done()
    return DefenderSettings(reach)


def _firewall(table: _Table) -> FirewallSettings:
    ip_group = table.text("ip_group", required=True) or ""
    if not _IP_GROUP.fullmatch(ip_group):
        raise ActionSettingsError(
            f"{table.where}.ip_group",
            "expected the IP group's resource id: /subscriptions/<subscription id>/resourceGroups/<group>"
            f"/providers/Microsoft.Network/ipGroups/<name>, got {ip_group!r}",
        )
    reach = table.reach(PUBLIC_ARM)
    version = table.text("api_version") or NETWORK_API_VERSION
    poll = table.number("poll_timeout", 300.0, 0, 3600)
    table.done()
    return FirewallSettings(ip_group, reach, version, poll)


def _named_location(table: _Table) -> NamedLocationSettings:
    text = table.text("id", required=True) or ""
    try:
        found = str(uuid.UUID(text))
    except ValueError:
        raise ActionSettingsError(
            f"{table.where}.id", f"expected the named location's id (a GUID), got {text!r}"
        ) from None
    table.done()
    return NamedLocationSettings(found)


def _teams(table: _Table) -> TeamsSettings:
    variable, file = table.text("webhook_url_env"), table.text("webhook_url_file")
    if variable is None and file is None:
        raise ActionSettingsError(
            f"{table.where}.webhook_url_env",
            "name the environment variable holding the webhook URL (or set webhook_url_file to a file holding it)",
        )
    if variable is not None and not _VARIABLE_NAME.fullmatch(variable):
        # Not echoed: a person who pasted the URL itself here would see it printed back.
        raise ActionSettingsError(
            f"{table.where}.webhook_url_env", "expected the name of an environment variable (A-Z, 0-9, _), not a URL"
        )
    found = TeamsSettings(variable, file, table.text("ca_bundle"))
    table.done()
    return found


def _email(table: _Table) -> EmailSettings:
    def checked(key: str, value: str) -> str:
        try:
            return email_address(value)
        except ValueError as exc:
            raise ActionSettingsError(f"{table.where}.{key}", str(exc)) from None

    sender = checked("sender", table.text("sender", required=True) or "")
    recipients = tuple(checked("recipients", item) for item in table.strings("recipients"))
    table.done()
    return EmailSettings(sender, recipients)


_SECTIONS: dict[str, Callable[[_Table], Any]] = {
    "graph": _graph,
    "defender": _defender,
    "azure_firewall": _firewall,
    "named_location": _named_location,
    "teams": _teams,
    "email": _email,
}


def _read_secret(where: str, variable: str | None, file: str | None, environ: Mapping[str, str]) -> str:
    """A secret from the environment variable or file named in table ``where``."""
    if variable is not None:
        value = environ.get(variable, "").strip()
        if value:
            return value
        if file is None:
            raise ActionSettingsError(
                f"{where}.webhook_url_env", f"environment variable {variable} is not set or empty"
            )
    if file is not None:
        path = Path(file).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not text"
            raise ActionSettingsError(f"{where}.webhook_url_file", f"cannot read the file it names: {reason}") from None
        if value:
            return value
        raise ActionSettingsError(f"{where}.webhook_url_file", "the file it names is empty")
    raise ActionSettingsError(f"{where}.webhook_url_env", "no source for the webhook URL")
