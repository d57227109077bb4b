"""The alerts index of the Elasticsearch store: a copy of the state database's alerts, for Kibana.

The state database is the record (``store.state.alerts.AlertBook``); this index is told of every alert
it changes, after the change is committed (``store.state.alerts.AlertMirror``). A detection run in the
``serve`` daemon and a status change from the console can commit in one order and reach the index
in the other, so each document is written with the alert's change ``sequence`` as its external
version: the cluster keeps the copy of the latest change and answers an older one 409, which is
the expected outcome, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elasticsearch import helpers

from store.elastic.client import ElasticRefused
from store.state.alert_record import Alert

#: Added to every sequence to make the document version. Documents written before alerts had a
#: sequence carry the cluster's own count of writes as their version; starting far above any such
#: count lets the first numbered copy replace them.
VERSION_BASE = 1 << 32


def alerts_template(prefix: str) -> dict:
    """The alerts index: explicit types for what Kibana users filter on; group keys as keywords."""
    when = {"type": "date_nanos"}  # alert times keep the events' microseconds
    return {
        "index_patterns": [f"{prefix}alerts"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": {
                "date_detection": False,
                "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}],
                "properties": {
                    "id": {"type": "keyword"},
                    "rule_id": {"type": "keyword"},
                    "rule_title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                    "severity": {"type": "keyword"},
                    "tags": {"type": "keyword"},
                    "status": {"type": "keyword"},
                    "assignee": {"type": "keyword"},
                    "group_keys": {"type": "object", "dynamic": True},
                    "first_seen": when,
                    "last_seen": when,
                    "created_at": when,
                    "updated_at": when,
                    "event_ids": {"type": "keyword"},
                    "event_count": {"type": "long"},
                    "sequence": {"type": "long"},
                },
            },
        },
    }


class AlertsIndex:
    """``{prefix}alerts``: one document per alert, its id the alert's (``store.state.alerts.AlertMirror``)."""

    def __init__(self, client, prefix: str):
        self.client = client
        self.prefix = prefix
        self.name = f"{prefix}alerts"
        self._template_ready = False

    def ensure_template(self) -> None:
        """Install the template if missing, before the index is first written."""
        if self._template_ready:
            return
        if not self.client.indices.exists_index_template(name=self.name):
            self.client.indices.put_index_template(name=self.name, **alerts_template(self.prefix))
        self._template_ready = True

    def publish(self, alerts: Sequence[Alert], assignees: Mapping[str, str] | None = None) -> None:
        """Write the alerts as stored, with who each is assigned to; searchable when this returns."""
        assignees = assignees or {}
        if not alerts:
            return
        self.ensure_template()
        actions = (
            {
                "_op_type": "index",
                "_index": self.name,
                "_id": alert.id,
                "version": VERSION_BASE + alert.sequence,
                "version_type": "external",
                "_source": {**alert.to_dict(), "assignee": assignees.get(alert.id)},
            }
            for alert in alerts
        )
        answers = helpers.streaming_bulk(
            self.client, actions, refresh=True, max_retries=5, initial_backoff=0.5, raise_on_error=False
        )
        # 409: a later change of the alert is there already, which is what this index should hold.
        refused = [item for ok, item in answers if not ok and _status(item) != 409]
        if refused:
            raise ElasticRefused(f"the alerts index refused {len(refused)} alert(s); first: {refused[0]}")


def _status(item: dict) -> object:
    """The HTTP status of one bulk item answer (``{"index": {"status": 201, ...}}``)."""
    answer: dict = next(iter(item.values()), {})
    return answer.get("status")
