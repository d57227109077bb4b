"""The ``[collectors.<name>]`` tables of ``cyberwell.toml``, made into live collector objects.

Example::

    [collectors.entra-signins]
    tenant_id = "00000000-0000-0000-0000-000000000000"
    client_id = "11111111-1111-1111-1111-111111111111"
    client_secret_env = "CYBERWELL_GRAPH_SECRET"    # or client_secret_file; or auth = "certificate"
    interval = "5m"                                 # "30s", "5m", "1h", "1d" or seconds
    overlap = "10m"
    api_version = "beta"                            # needed for kinds other than interactiveUser
    kinds = ["interactiveUser", "nonInteractiveUser", "servicePrincipal"]

    [collectors.defender]
    tenant_id = "..."; client_id = "..."; client_secret_file = "/etc/cyberwell/graph-secret"
    listings = ["alerts_v2", "incidents"]

The table's name is the source name shown by ``cyberwell status``; ``type`` picks the collector
when the name is not one of the kinds (two tenants: ``[collectors.signins-schools]`` with
``type = "entra-signins"``). Sign-in keys (identity) are read by :mod:`microsoft.identity`.
``syslog`` tables go to ``SyslogCollector.from_settings`` (and ``SyslogReceiver`` for ``serve``);
``azure-firewall`` tables to ``AzureFirewallCollector(settings, credential)``, the credential
built here from the table's sign-in keys.
Every error is a :class:`~console.config.ConfigError` naming the key.
"""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from console.config import ConfigError
from microsoft.graph import GraphEndpoint
from microsoft.identity import IdentityError, IdentitySettings, credential_from

GRAPH_KINDS = ("entra-signins", "defender")
#: Collectors other engineers build, and their modules (imported only when configured).
OTHER_KINDS = {"syslog": "collectors.live.syslog_collector", "azure-firewall": "collectors.live.firewall_logs"}
_RECEIVER = {"syslog_receiver": "collectors.live.syslog_receiver"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_GRAPH_KEYS = {
    "type",
    "enabled",
    "interval",
    "overlap",
    "initial_lookback",
    "base_url",
    "api_version",
    "page_size",
    "max_retries",
    "retry_delay",
    "kinds",
    "listings",
    *IdentitySettings.__dataclass_fields__,
}


@dataclass
class Configured:
    """The enabled collectors, and the syslog receiver when one is configured (for ``serve``)."""

    collectors: list
    receiver: object | None = None


def read_tables(home: Path, config_file: Path | None = None) -> dict[str, dict]:
    """The ``[collectors.*]`` tables of the config file (none when there is no file)."""
    path = config_file or home / "cyberwell.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    tables = data.get("collectors", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError("collectors: expected tables [collectors.<name>]")
    return tables


def build_collectors(
    tables: Mapping[str, dict], environ: Mapping[str, str] = os.environ, with_receiver: bool = False
) -> Configured:
    """A collector per enabled table; the receiver too when asked (only ``serve`` listens)."""
    found = Configured([])
    for name, table in tables.items():
        where = f"collectors.{name}"
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}.enabled: expected true or false, got {enabled!r}")
        if not enabled:
            continue
        kind = table.get("type", name)
        if kind in GRAPH_KINDS:
            found.collectors.append(graph_collector(name, kind, table, environ))
        elif kind in OTHER_KINDS:
            found.collectors.append(_other(name, kind, table, environ))
            if kind == "syslog" and with_receiver:
                found.receiver = _receiver(name, table)
        else:
            known = ", ".join((*GRAPH_KINDS, *OTHER_KINDS))
            raise ConfigError(f"{where}.type: unknown collector {kind!r}; expected one of {known}")
    return found


def duration(table: Mapping, key: str, where: str, default: timedelta) -> timedelta:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds."""
    value = table.get(key)
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value) if isinstance(value, str) else None
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f'{where}.{key}: expected a duration such as "30s", "5m", "1h" or seconds, got {value!r}')
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def graph_collector(name: str, kind: str, table: Mapping, environ: Mapping[str, str]):
    from collectors.live.graph_defender import DefenderCollector
    from collectors.live.graph_signins import EntraSigninCollector

    where = f"collectors.{name}"
    unknown = sorted(set(table) - _GRAPH_KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: not a setting of a {kind} collector")
    identity = {key: table[key] for key in IdentitySettings.__dataclass_fields__ if key in table}
    _credential(identity, environ, where)  # now, so a missing secret is found at start-up
    endpoint = _endpoint(table, where)
    common = dict(
        credential_factory=lambda: credential_from(identity, environ),
        endpoint=endpoint,
        name=name,
        interval=duration(table, "interval", where, timedelta(minutes=5)),
        overlap=duration(table, "overlap", where, timedelta(minutes=10)),
        initial_lookback=duration(table, "initial_lookback", where, timedelta(days=1)),
    )
    try:
        if kind == "entra-signins":
            kinds = _strings(table, "kinds", where, ["interactiveUser"])
            return EntraSigninCollector(kinds=tuple(kinds), **common)
        listings = _strings(table, "listings", where, ["alerts_v2", "incidents"])
        return DefenderCollector(listings=tuple(listings), **common)
    except ValueError as error:  # the collector names the key: kinds, listings
        raise ConfigError(f"{where}.{error}") from None


def _endpoint(table: Mapping, where: str) -> GraphEndpoint:
    values = {}
    for key, kind in (
        ("base_url", str),
        ("api_version", str),
        ("page_size", int),
        ("max_retries", int),
        ("retry_delay", (int, float)),
    ):
        if key in table:
            value = table[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', 'a number')}, got {value!r}")
            values[key] = value
    if values.get("api_version", "v1.0") not in ("v1.0", "beta"):
        raise ConfigError(f"{where}.api_version: expected 'v1.0' or 'beta', got {values['api_version']!r}")
    if not 1 <= values.get("page_size", 1000) <= 1000:
        raise ConfigError(f"{where}.page_size: expected 1 to 1000 (Graph's largest page), got {values['page_size']}")
    if not re.match(r"https?://", values.get("base_url", "https://")):
        raise ConfigError(f"{where}.base_url: expected an http(s) URL, got {values['base_url']!r}")
    return GraphEndpoint(**values)


def _strings(table: Mapping, key: str, where: str, default: list[str]) -> list[str]:
    value = table.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}.{key}: expected a list of names, got {value!r}")
    return value


def _module(kind: str, where: str):
    module_name = {**OTHER_KINDS, **_RECEIVER}[kind]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise ConfigError(f"{where}: the {kind} collector is not available in this version") from None


def _other(name: str, kind: str, table: Mapping, environ: Mapping[str, str]):
    """Another engineer's collector, from its settings (its module imported only when configured)."""
    where = f"collectors.{name}"
    module = _module(kind, where)
    settings = {key: value for key, value in table.items() if key not in ("type", "enabled")}
    try:
        if kind == "syslog":
            return module.SyslogCollector.from_settings(settings)
        identity = {key: settings.pop(key) for key in IdentitySettings.__dataclass_fields__ if key in settings}
        return module.AzureFirewallCollector(settings, _credential(identity, environ, where))
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _credential(identity: Mapping, environ: Mapping[str, str], where: str):
    try:
        return credential_from(identity, environ)
    except IdentityError as error:
        raise ConfigError(f"{where}.{error}") from None


def _receiver(name: str, table: Mapping):
    """The syslog listener that feeds the collector's spool (``SyslogReceiver(settings)``)."""
    module = _module("syslog_receiver", f"collectors.{name}")
    try:
        return module.SyslogReceiver({k: v for k, v in table.items() if k not in ("type", "enabled")})
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"collectors.{name}: {error}") from None
