"""What every command does first: open the configured store, read a time option, or stop with a
message. The commands of cli.py, collect_commands.py and status.py all use it, so none of them
imports another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NoReturn

import typer

from console import config as configuration
from console import render
from store import EmbeddedStore


def fail(message: str, code: int = 2) -> NoReturn:
    render.console.print(render.Text(f"error: {message}", style="bold red"))
    raise typer.Exit(code)


def open_store(cfg: configuration.Config):
    """The configured event store: ``EmbeddedStore``, or ``ElasticStore`` for
    ``store.backend = "elasticsearch"`` (settings from ``[store.elasticsearch]``)."""
    if cfg.store_backend == "embedded":
        return EmbeddedStore(cfg.home)
    from store import ElasticStore
    from store.elastic.client import ElasticSettingsError

    if cfg.elasticsearch is None:
        fail(
            "store.backend is 'elasticsearch' but the config has no [store.elasticsearch] table with hosts or cloud_id"
        )
    try:
        store = ElasticStore.from_settings(cfg.elasticsearch, cfg.home)
    except ElasticSettingsError as error:
        fail(str(error))
    problem = elastic_problem(store)
    if problem:
        fail(f"Elasticsearch at {cfg.elasticsearch.describe()}: {problem}")
    return store


def elastic_problem(store) -> str | None:
    """Why the cluster cannot be used, in words without secrets; None when it answers."""
    from elasticsearch import ApiError, TransportError

    try:
        store.client.cluster.health(timeout="10s")
    except ApiError as error:
        if error.status_code == 403:
            return None  # a key allowed to write events but not to read cluster health is fine
        if error.status_code == 401:
            return "the credentials were refused (401)"
        return f"the cluster answered {error.status_code} {error.error}"
    except TransportError as error:
        return f"cannot connect ({type(error).__name__}); is it running, and is the URL right?"
    return None


def parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: expected an ISO 8601 time such as 2026-11-20T09:00:00Z, got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stored_window(store) -> tuple[datetime, datetime]:
    span = store.time_range()
    if span is None:
        now = datetime.now(UTC)
        return now - timedelta(days=1), now
    return span[0], span[1] + timedelta(microseconds=1)
