"""Where events and state live.

Two interchangeable event stores share one protocol (append a batch idempotently, search a time
window with a compiled rule, list columns); the embedded one is the default. State (catalogue,
quarantine, alerts, rule runs) is SQLite in WAL mode.
"""

from store.elastic_client import ElasticSettings
from store.embedded import AppendResult, EmbeddedStore
from store.state import StateDB


def __getattr__(name: str):
    # The Elasticsearch client takes ~0.7 s to import: only commands that use the store pay it.
    if name in ("ElasticStore", "ElasticAppendResult"):
        from store import elastic

        return getattr(elastic, name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")


__all__ = ["AppendResult", "ElasticAppendResult", "ElasticSettings", "ElasticStore", "EmbeddedStore", "StateDB"]
