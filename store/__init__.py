"""Where events and state live.

Two interchangeable event stores share one protocol (append a batch idempotently, search a time
window with a compiled rule, list columns); the embedded one is the default. State (catalogue,
quarantine, alerts, rule runs) is SQLite in WAL mode.
"""

from store.embedded import AppendResult, EmbeddedStore
from store.state import StateDB

__all__ = ["AppendResult", "EmbeddedStore", "StateDB"]
