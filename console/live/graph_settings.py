"""``[collectors.entra-signins]`` and ``[collectors.defender]``: Microsoft Graph collectors.

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

Sign-in keys are read by :mod:`microsoft.identity`. Unknown keys are errors, and every error is a
:class:`~console.config.ConfigError` naming its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from azure.core.credentials import TokenCredential

from console.config import CollectorTable, ConfigError
from console.live.identity import IDENTITY_KEYS, credential, identity_of
from microsoft.identity import credential_from

if TYPE_CHECKING:  # microsoft.graph loads msgraph-sdk: only a Graph table's builder imports it
    from collectors.live.graph_defender import DefenderCollector
    from collectors.live.graph_signins import EntraSigninCollector
    from microsoft.graph import GraphEndpoint

T = TypeVar("T")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_GRAPH_KEYS = {
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
    *IDENTITY_KEYS,
}


def entra_signins(table: CollectorTable, environ: Mapping[str, str]) -> EntraSigninCollector:
    from collectors.live.graph_signins import EntraSigninCollector

    kinds = tuple(_strings(table, "kinds", ["interactiveUser"]))
    return _built(table, environ, lambda **common: EntraSigninCollector(kinds=kinds, **common))


def defender(table: CollectorTable, environ: Mapping[str, str]) -> DefenderCollector:
    from collectors.live.graph_defender import DefenderCollector

    listings = tuple(_strings(table, "listings", ["alerts_v2", "incidents"]))
    return _built(table, environ, lambda **common: DefenderCollector(listings=listings, **common))


def _built(table: CollectorTable, environ: Mapping[str, str], make: Callable[..., T]) -> T:
    """A Graph collector from the settings both kinds share; the kind's own list (``kinds``,
    ``listings``) is already in ``make``, and a ValueError from the collector names that key."""
    _check_keys(table)
    factory = _credential_factory(table, environ)
    endpoint = _endpoint(table)
    interval, overlap, lookback = _timing(table)
    try:
        return make(
            credential_factory=factory,
            endpoint=endpoint,
            interval=interval,
            overlap=overlap,
            initial_lookback=lookback,
            name=table.name,
        )
    except ValueError as error:
        raise ConfigError(f"{table.where}.{error}") from None


def duration(table: Mapping[str, object], key: str, where: str, default: timedelta) -> timedelta:
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


def _check_keys(table: CollectorTable) -> None:
    unknown = sorted(set(table.settings) - _GRAPH_KEYS)
    if unknown:
        # Named, never shown: an unknown key may be a secret written inline (client_secret = ...).
        hint = (
            f" (a secret is read from {unknown[0]}_env or {unknown[0]}_file)"
            if f"{unknown[0]}_env" in _GRAPH_KEYS
            else ""
        )
        raise ConfigError(f"{table.where}.{unknown[0]}: not a setting of a {table.kind} collector{hint}")


def _timing(table: CollectorTable) -> tuple[timedelta, timedelta, timedelta]:
    """How often it runs, how far before the checkpoint it reads again, where a first run starts."""
    return (
        duration(table.settings, "interval", table.where, timedelta(minutes=5)),
        duration(table.settings, "overlap", table.where, timedelta(minutes=10)),
        duration(table.settings, "initial_lookback", table.where, timedelta(days=1)),
    )


def _credential_factory(table: CollectorTable, environ: Mapping[str, str]) -> Callable[[], TokenCredential]:
    identity = identity_of(table.settings)
    credential(identity, environ, table.where)  # now, so a missing secret is found at start-up
    # A new credential per use: the collector asks again after a 401 (a revoked token).
    return lambda: credential_from(identity, environ)


def _endpoint(table: CollectorTable) -> GraphEndpoint:
    from microsoft.graph import GraphEndpoint

    settings, where, default = table.settings, table.where, GraphEndpoint()
    base_url = _typed(settings, "base_url", str, where, "str", default.base_url)
    api_version = _typed(settings, "api_version", str, where, "str", default.api_version)
    page_size = _typed(settings, "page_size", int, where, "int", default.page_size)
    max_retries = _typed(settings, "max_retries", int, where, "int", default.max_retries)
    retry_delay = float(_typed(settings, "retry_delay", (int, float), where, "a number", default.retry_delay))
    if api_version not in ("v1.0", "beta"):
        raise ConfigError(f"{where}.api_version: expected 'v1.0' or 'beta', got {api_version!r}")
    if not 1 <= page_size <= 1000:
        raise ConfigError(f"{where}.page_size: expected 1 to 1000 (Graph's largest page), got {page_size}")
    if not re.match(r"https?://", base_url):
        raise ConfigError(f"{where}.base_url: expected an http(s) URL, got {base_url!r}")
    return GraphEndpoint(
        base_url=base_url,
        api_version=api_version,
        page_size=page_size,
        max_retries=max_retries,
        retry_delay=retry_delay,
    )


def _typed(
    settings: Mapping[str, object], key: str, kind: type[T] | tuple[type[T], ...], where: str, expected: str, default: T
) -> T:
    if key not in settings:
        return default
    value = settings[key]
    # bool is an int to Python, never a number to a person writing a config file.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected {expected}, got {value!r}")
    return value


def _strings(table: CollectorTable, key: str, default: list[str]) -> list[str]:
    value = table.settings.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{table.where}.{key}: expected a list of names, got {value!r}")
    return value
