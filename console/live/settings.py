"""The ``[collectors.<name>]`` tables of the config (``Config.collectors``), made into live collectors.

Each kind of source is registered in :data:`KINDS` with the function that builds its collector
from a table and, for a source fed by a listener of ours, the function that builds the listener
(only ``serve`` listens). A table's name is the source's name in ``cyberwell status``; ``type``
picks the kind when the name is not one (two tenants: ``[collectors.signins-schools]`` with
``type = "entra-signins"``). The settings of each kind are in docs/collectors.md; every error is
a :class:`~console.config.ConfigError` naming the key.

Builders import their collector's module when called, not here: the Graph and Azure SDKs take
a second to import, and a command that collects from neither must not pay for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from console.config import CollectorTable, ConfigError, collector_tables
from console.live import graph_settings
from console.live.identity import IDENTITY_KEYS, credential, identity_of
from store.state.checkpoints import Checkpoints, CollectorRun


class LiveCollector(Protocol):
    """What ``collect`` and ``serve`` ask of a collector: one pass, and how long to wait after it."""

    name: str
    interval: timedelta

    def collect_once(self, store, checkpoints: Checkpoints) -> CollectorRun: ...


class Listener(Protocol):
    """A service ``serve`` starts beside the collectors and stops after them (the syslog receiver)."""

    addresses: dict[str, tuple[str, int]]

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> int:
        """Stop, keeping what was received; the number of messages received but not kept."""
        ...


@dataclass(frozen=True)
class CollectorKind:
    build: Callable[[CollectorTable, Mapping[str, str]], LiveCollector]
    #: The listener feeding the collector, when there is one (only ``serve`` builds it).
    listener: Callable[[CollectorTable], Listener] | None = None


@dataclass
class Configured:
    """The enabled collectors, and the syslog receiver when one is configured (for ``serve``)."""

    collectors: list[LiveCollector] = field(default_factory=list)
    receiver: Listener | None = None


@contextmanager
def _named(table: CollectorTable) -> Iterator[None]:
    """Turns a collector's own complaint about its settings into a ``ConfigError`` under the table."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{table.where}: {error}") from None


def _syslog(table: CollectorTable, environ: Mapping[str, str]) -> LiveCollector:
    from collectors.live.syslog_collector import SyslogCollector

    with _named(table):
        return SyslogCollector.from_settings(dict(table.settings))


def _syslog_receiver(table: CollectorTable) -> Listener:
    """The listener that writes the spool the ``syslog`` collector drains."""
    from collectors.live.syslog_receiver import SyslogReceiver

    with _named(table):
        return SyslogReceiver(dict(table.settings))


def _azure_firewall(table: CollectorTable, environ: Mapping[str, str]) -> LiveCollector:
    from collectors.live.firewall_logs import AzureFirewallCollector

    signed_in = credential(identity_of(table.settings), environ, table.where)
    settings = {key: value for key, value in table.settings.items() if key not in IDENTITY_KEYS}
    with _named(table):
        return AzureFirewallCollector(settings, signed_in)


#: Every kind of live source, by the name a table gives as ``type`` (or as its own name).
KINDS: Mapping[str, CollectorKind] = {
    "entra-signins": CollectorKind(graph_settings.entra_signins),
    "defender": CollectorKind(graph_settings.defender),
    "syslog": CollectorKind(_syslog, listener=_syslog_receiver),
    "azure-firewall": CollectorKind(_azure_firewall),
}


def build(
    tables: Iterable[CollectorTable], environ: Mapping[str, str] = os.environ, with_receiver: bool = False
) -> Configured:
    """A collector per enabled table; its listener too when asked (only ``serve`` listens)."""
    found = Configured()
    for table in tables:
        if not table.enabled:
            continue
        kind = KINDS.get(table.kind)
        if kind is None:
            raise ConfigError(
                f"{table.where}.type: unknown collector {table.kind!r}; expected one of {', '.join(KINDS)}"
            )
        found.collectors.append(kind.build(table, environ))
        if with_receiver and kind.listener is not None:
            found.receiver = kind.listener(table)
    return found


def build_collectors(
    tables: Mapping[str, object], environ: Mapping[str, str] = os.environ, with_receiver: bool = False
) -> Configured:
    """The same from ``[collectors.*]`` tables as TOML gives them (read as the config loader does)."""
    return build(collector_tables(tables), environ, with_receiver)
