"""Index templates for the Elasticsearch store: how each event column is indexed.

The mapping decides what a Sigma query can mean on Elasticsearch, so it is written together with
the Lucene compiler (``detections/backends/compile_es.py``), which asks ``field_kind`` which sub-field
answers which test. Both must give exactly the embedded store's answers (the property tests in
tests/rules/test_es_sigma_semantics.py and tests/detections/test_differential_stores.py). The decisions:

* Documents are flat: their keys are the dotted column names of the event schema
  (:mod:`store.schema`, docs/events.md), and ``subobjects: false`` keeps ``a.b`` and ``a.b.c``
  apart as two fields instead of an object that would have to be both a value and a parent. ``date_detection`` is off: a vendor string that looks
  like a date (``fortinet.firewall.date``) stays a string, as it is on the embedded store.
* Strings (``keyword``): the field itself has the ``lowercase`` normaliser, so equality and
  wildcards are case-insensitive as in Sigma; ``.cased`` keeps the value as written for ``|cased``
  and ``|re`` (Sigma regexes are case-sensitive unless ``(?i)``). ``ignore_above`` is 8,191
  characters: a UTF-8 character takes at most four bytes and Lucene refuses a term over 32,766
  bytes, which would reject the whole document. A longer value is kept in ``_source`` and listed
  in ``_ignored``, which is how ``null`` and ``|exists`` still see it as present; equality with a
  shorter value is false on both stores anyway, but a wildcard (``|contains``) or ``|re`` test
  does not see it here, where the embedded store would: the one known difference, pinned by
  tests/rules/test_es_sigma_semantics.py.
* Addresses (the schema's ``ip`` columns such as ``source.ip``, and any undeclared column whose
  last name part is ``ip``/``addr``/``address`` or ends in ``ip``, e.g.
  ``fortinet.firewall.srcip``) are strings as above, because
  the embedded store keeps them as text and wildcards must match the text; an ``.ip`` sub-field
  (``ignore_malformed``) makes ``|cidr`` one term query on the network. Elasticsearch's ``ip``
  type, like the embedded store, sees an IPv4 address as its IPv4-mapped IPv6 form.
* Numbers (``long``, ``integer``) and booleans keep their type, so Sigma numbers and ``|lt``/
  ``|gt`` compare numerically; ``.text`` (a keyword of the value as JSON writes it: ``50126``,
  ``true``) answers string tests, as the embedded store reads such a column as text.
* Times are ``date_nanos``: the embedded store keeps microseconds, and alert ids and first/last
  seen depend on them (``date`` would round to milliseconds).
* ``event.original`` is kept in ``_source`` only: it is the raw record, never searched.
* A column nobody declared (vendor keys stored as sent) is a string whatever its JSON type, so
  the compiler's default (a string) is what the index holds; an address by its name, as above.

A declared column's kind follows from its type in the event schema (``KIND_OF_TYPE``).

Columns' kinds (the values of ``COLUMN_KINDS``): ``keyword``, ``ip``, ``long``, ``integer``,
``double``, ``boolean``, ``date``, ``stored``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from store.schema import EVENTS, Column, ColumnType

#: Longest string (in characters) that is indexed: 4 bytes per character stays under Lucene's
#: 32,766-byte term limit.
MAX_INDEXED_CHARS = 8191
#: Sub-fields; chosen so as not to collide with any column of docs/events.md.
CASED = "cased"
TEXT = "text"
IP = "ip"

_CASED_KEYWORD = {"type": "keyword", "ignore_above": MAX_INDEXED_CHARS}
STRING = {
    "type": "keyword",
    "normalizer": "lowercase",
    "ignore_above": MAX_INDEXED_CHARS,
    "fields": {CASED: _CASED_KEYWORD},
}
ADDRESS = {
    **STRING,
    "fields": {CASED: _CASED_KEYWORD, IP: {"type": "ip", "ignore_malformed": True}},
}
# Numbers and booleans as JSON writes them are lower-case already (digits, '-', '.', 'e',
# 'true'), so ``.text`` needs no normaliser: the compiler lower-cases case-insensitive patterns.
_AS_TEXT = {TEXT: {"type": "keyword"}}

_TYPED = {
    "keyword": STRING,
    "ip": ADDRESS,
    "long": {"type": "long", "fields": _AS_TEXT},
    "integer": {"type": "integer", "fields": _AS_TEXT},
    "double": {"type": "double", "fields": _AS_TEXT},
    "boolean": {"type": "boolean", "fields": _AS_TEXT},
    "date": {"type": "date_nanos"},
    "stored": {"type": "keyword", "index": False, "doc_values": False},
}

#: How each type of the event schema is indexed; a column that is never searched is ``stored``.
KIND_OF_TYPE: dict[ColumnType, str] = {
    ColumnType.STRING: "keyword",
    ColumnType.JSON: "keyword",
    ColumnType.IP: "ip",
    ColumnType.INT32: "integer",
    ColumnType.INT64: "long",
    ColumnType.BOOL: "boolean",
    ColumnType.TIMESTAMP: "date",
}


def column_kind(column: Column) -> str:
    return KIND_OF_TYPE[column.type] if column.searched else "stored"


#: The schema's columns that are not plain strings: the template declares these, and strings are
#: left to its dynamic rule for strings, which maps them the same way.
COLUMN_KINDS: dict[str, str] = {
    name: kind for name, column in EVENTS.columns().items() if (kind := column_kind(column)) != "keyword"
}

# Names that hold an address: ECS's ``*.ip`` and vendor keys such as ``srcip``, ``remip``,
# ``source_address``. The index template's dynamic rule and ``field_kind`` share this pattern.
ADDRESS_NAME = re.compile(r"(^|.*\.)([a-z_]*ip|addr|[a-z_]*address)$")
_ADDRESS_NAME_ES = r"^(.*\.)?([a-z_]*ip|addr|[a-z_]*address)$"  # the same, in Java's syntax


def field_kind(name: str, declared: Mapping[str, str] | None = None) -> str:
    """How a column is indexed: its declared kind, else an address or a string by its name."""
    if declared and name in declared:
        return declared[name]
    if name in COLUMN_KINDS:
        return COLUMN_KINDS[name]
    return "ip" if ADDRESS_NAME.match(name) else "keyword"


def events_template(prefix: str, declared: Mapping[str, str] | None = None) -> dict:
    """The composable index template body for ``{prefix}events-*`` (daily indices per dataset).

    ``declared`` adds columns of other kinds (tests name their own columns); it also has to be
    given to the compiler, which must know how each column is indexed.
    """
    kinds = {**COLUMN_KINDS, **(declared or {})}
    return {
        "index_patterns": [f"{prefix}events-*"],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "1s",
                # Vendor namespaces bring many keys (FortiGate alone ~120); every key is a field
                # with its sub-fields.
                "mapping.total_fields.limit": 5000,
            },
            "mappings": {
                "subobjects": False,
                "dynamic": True,
                "date_detection": False,
                "numeric_detection": False,
                "properties": {name: _TYPED[kind] for name, kind in kinds.items()},
                "dynamic_templates": [
                    {"addresses": {"match_pattern": "regex", "match": _ADDRESS_NAME_ES, "mapping": ADDRESS}},
                    # Any JSON type: an undeclared column is a string to the compiler, so it is
                    # indexed as one (a number as its JSON text).
                    {"strings": {"match_mapping_type": "*", "mapping": STRING}},
                ],
            },
        },
    }
