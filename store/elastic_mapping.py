"""Index templates for the Elasticsearch store: how each event column is indexed.

The mapping decides what a Sigma query can mean on Elasticsearch, so it is written together with
the Lucene compiler (``detections/compile_es.py``): both must give exactly the embedded store's
answers (``tests/test_differential_stores.py``).

Events are indexed as flat documents whose keys are the dotted column names of docs/events.md.
``subobjects: false`` keeps ``a.b`` and ``a.b.c`` from colliding the way nested objects would.
"""

from __future__ import annotations

# Strings: case-insensitive equality and wildcards need a lowercase normaliser; `|cased` and `|re`
# (case-sensitive in Sigma) need the value as written, in a sub-field.
STRING = {
    "type": "keyword",
    "normalizer": "lowercase",
    "ignore_above": 32766,
    "fields": {"cased": {"type": "keyword", "ignore_above": 32766}},
}

EXPLICIT = {
    "@timestamp": {"type": "date"},
    "event.ingested": {"type": "date"},
    # Kept verbatim for people and exports, never searched: not indexed, only in _source.
    "event.original": {"type": "keyword", "index": False, "doc_values": False},
}


def events_template(prefix: str) -> dict:
    """The composable index template body for ``{prefix}events-*`` (daily indices per dataset)."""
    return {
        "index_patterns": [f"{prefix}events-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "mappings": {
                "subobjects": False,
                "dynamic": True,
                "properties": EXPLICIT,
                "dynamic_templates": [
                    {"strings": {"match_mapping_type": "string", "mapping": STRING}},
                ],
            },
        },
    }
