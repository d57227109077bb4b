"""The one event schema: each dataset's columns in order, their types, and what rooms need to know
about a dataset (its alert entity, its versions, its open vendor namespaces).

It is written once, as data (``events_schema.toml`` beside this module, which says what its words
mean), because the parsers, the Sigma field pipelines, the Elasticsearch mapping, the alert entity
fields and docs/events.md must agree on it, and copies in each of them drift apart. This module
reads and checks the file once, at import, into frozen records, and builds each Arrow schema then,
so no parser builds one per batch. A mistake in the file fails the import with a
:class:`SchemaError` that names the dataset (or group) and the column.

Readers take what they need at import time, into module-level names: the parsers are hot paths.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from types import MappingProxyType
from typing import Any

import pyarrow as pa

#: The data file, a resource of this package.
SCHEMA_FILE = "events_schema.toml"
#: The group every dataset must contain: ``store.batch.check_required`` refuses a table without it.
REQUIRED = "required"


class ColumnType(Enum):
    """A column's type as the schema writes it. Addresses and JSON text are strings to Arrow and
    DuckDB; they are told apart because the Elasticsearch mapping and the documentation differ."""

    STRING = "string"
    IP = "ip"
    JSON = "json"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    TIMESTAMP = "timestamp"

    @property
    def arrow(self) -> pa.DataType:
        return _ARROW[self]

    @property
    def sql(self) -> str:
        """DuckDB's name for the type, for parsers that cast in SQL."""
        return _SQL[self]


_ARROW: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.IP: pa.string(),
    ColumnType.JSON: pa.string(),
    ColumnType.INT32: pa.int32(),
    ColumnType.INT64: pa.int64(),
    ColumnType.BOOL: pa.bool_(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}
_SQL: dict[ColumnType, str] = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.IP: "VARCHAR",
    ColumnType.JSON: "VARCHAR",
    ColumnType.INT32: "INTEGER",
    ColumnType.INT64: "BIGINT",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    #: False for a column kept only to be read back (the raw record): never searched, so the
    #: Elasticsearch store does not index it.
    searched: bool = True


@dataclass(frozen=True)
class ColumnSet:
    """A group's or a dataset's columns, in the order every batch has them."""

    name: str
    columns: tuple[Column, ...]
    #: The columns declared in its own table, after the included ones (a syslog dataset's own).
    own: tuple[Column, ...]
    #: Every group and dataset its columns come from, however indirectly, nearest first.
    includes: tuple[str, ...]
    # Derived once, here, for the readers; not part of what the set is.
    names: frozenset[str] = field(init=False, compare=False, repr=False)
    types: Mapping[str, pa.DataType] = field(init=False, compare=False, repr=False)
    own_types: Mapping[str, pa.DataType] = field(init=False, compare=False, repr=False)
    arrow_schema: pa.Schema = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        types = {column.name: column.type.arrow for column in self.columns}
        object.__setattr__(self, "names", frozenset(types))
        object.__setattr__(self, "types", MappingProxyType(types))
        object.__setattr__(self, "own_types", MappingProxyType({c.name: c.type.arrow for c in self.own}))
        object.__setattr__(self, "arrow_schema", pa.schema(list(types.items())))

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


@dataclass(frozen=True)
class Dataset(ColumnSet):
    """One ``event.dataset``: its columns and what the other rooms need to know of it."""

    entity: tuple[str, ...] = ()
    version_column: str | None = None
    history: str | None = None
    open_namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventSchema:
    groups: Mapping[str, ColumnSet]
    datasets: Mapping[str, Dataset]

    def dataset(self, name: str) -> Dataset:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"no dataset {name!r} in the event schema") from None

    def group(self, name: str) -> ColumnSet:
        try:
            return self.groups[name]
        except KeyError:
            raise KeyError(f"no column group {name!r} in the event schema") from None

    def columns(self) -> dict[str, Column]:
        """Every column of every dataset by name (a name has one type everywhere)."""
        return {column.name: column for dataset in self.datasets.values() for column in dataset.columns}


class SchemaError(ValueError):
    """The schema file is wrong; the message names where (the set, and the column if one)."""

    def __init__(self, source: str, where: str, problem: str, column: str | None = None):
        self.where = where
        self.column = column
        place = f"{where}, column {column!r}" if column is not None else where
        super().__init__(f"{source}: {place}: {problem}")


# -- reading and checking the file ---------------------------------------------------------------

_NAME = re.compile(r"@?[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_GROUP_KEYS = frozenset({"include", "columns"})
_DATASET_KEYS = _GROUP_KEYS | {"entity", "version_column", "history", "open_namespaces"}
_TYPE_WORDS = ", ".join(kind.value for kind in ColumnType)


def load() -> EventSchema:
    """The shipped schema file, read and checked."""
    text = resources.files("store").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return loads(text, f"store/{SCHEMA_FILE}")


def loads(text: str, source: str = "<schema>") -> EventSchema:
    """A schema from TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(source, "file", f"not valid TOML: {exc}") from None
    return _Reader(source, data).schema()


class _Reader:
    """Resolves ``include`` (in order, refusing cycles) and checks each set as it is built."""

    def __init__(self, source: str, data: dict[str, Any]):
        self.source = source
        unknown = sorted(set(data) - {"groups", "datasets"})
        if unknown:
            raise SchemaError(
                source, "file", f"unknown top-level key(s) {', '.join(unknown)}: expected groups, datasets"
            )
        self.raw: dict[str, tuple[str, dict[str, Any]]] = {}
        for kind in ("groups", "datasets"):
            tables = data.get(kind, {})
            if not isinstance(tables, dict):
                raise SchemaError(source, kind, "must be a table of tables")
            for name, table in tables.items():
                where = f"{kind[:-1]} {name!r}"
                if name in self.raw:
                    raise SchemaError(source, where, "the name is used by a group and a dataset")
                if not isinstance(table, dict):
                    raise SchemaError(source, where, "must be a table")
                if not _NAME.fullmatch(name):
                    raise SchemaError(source, where, "names are lower-case words joined by dots")
                self.raw[name] = (kind, table)
        self.built: dict[str, ColumnSet] = {}
        self.first_seen: dict[str, tuple[Column, str]] = {}  # column name -> (column, where)

    def where(self, name: str) -> str:
        return f"{self.raw[name][0][:-1]} {name!r}"

    def schema(self) -> EventSchema:
        if self.raw.get(REQUIRED, ("", None))[0] != "groups":
            raise SchemaError(self.source, f"group {REQUIRED!r}", "missing: it lists what every event carries")
        for name in self.raw:
            self.build(name, ())
        required = self.built[REQUIRED]
        datasets: dict[str, Dataset] = {}
        for name, built in self.built.items():
            if isinstance(built, Dataset):
                missing = [c.name for c in required.columns if c.name not in built.names]
                if missing:
                    raise SchemaError(self.source, self.where(name), f"lacks the {REQUIRED!r} group", missing[0])
                datasets[name] = built
        for dataset in datasets.values():
            self.check_history(dataset, datasets)
        groups = {name: built for name, built in self.built.items() if not isinstance(built, Dataset)}
        return EventSchema(MappingProxyType(groups), MappingProxyType(datasets))

    def build(self, name: str, chain: tuple[str, ...]) -> ColumnSet:
        if name in self.built:
            return self.built[name]
        if name in chain:
            raise SchemaError(self.source, self.where(name), f"includes itself: {' -> '.join((*chain, name))}")
        kind, table = self.raw[name]
        where = self.where(name)
        unknown = sorted(set(table) - (_DATASET_KEYS if kind == "datasets" else _GROUP_KEYS))
        if unknown:
            raise SchemaError(self.source, where, f"unknown key(s) {', '.join(unknown)}")
        columns: list[Column] = []
        includes: list[str] = []
        for included in self.names_list(table, "include", where):
            if included not in self.raw:
                raise SchemaError(self.source, where, f"includes {included!r}, which is neither a group nor a dataset")
            part = self.build(included, (*chain, name))
            includes += [included, *(n for n in part.includes if n not in includes)]
            for column in part.columns:
                self.add(columns, column, where, f"included twice (again by {included!r})")
        own = [self.column(where, column, spec) for column, spec in self.table(table, "columns", where).items()]
        for column in own:
            self.add(columns, column, where, "already included from another set")
            first = self.first_seen.setdefault(column.name, (column, where))
            if first[0] != column:
                raise SchemaError(
                    self.source,
                    where,
                    f"is {_describe(column)} here but {_describe(first[0])} in {first[1]}:"
                    " one name has one type in every dataset (the Elasticsearch mapping is by name)",
                    column.name,
                )
        built: ColumnSet
        if kind == "groups":
            built = ColumnSet(name, tuple(columns), tuple(own), tuple(dict.fromkeys(includes)))
        else:
            built = self.dataset(name, table, tuple(columns), tuple(own), tuple(dict.fromkeys(includes)))
        self.built[name] = built
        return built

    def dataset(
        self, name: str, table: dict, columns: tuple[Column, ...], own: tuple[Column, ...], includes: tuple[str, ...]
    ) -> Dataset:
        where = self.where(name)
        names = {column.name: column for column in columns}
        entity = self.names_list(table, "entity", where)
        for column in entity:
            if column not in names:
                raise SchemaError(self.source, where, "is an entity field but not a column of the dataset", column)
        version = self.optional_name(table, "version_column", where)
        if version is not None:
            if version not in names:
                raise SchemaError(self.source, where, "is the version column but not a column of the dataset", version)
            if names[version].type is not ColumnType.TIMESTAMP:
                raise SchemaError(self.source, where, "a version column must be a timestamp", version)
        history = self.optional_name(table, "history", where)
        if history is not None and version is None:
            raise SchemaError(self.source, where, "has a history but no version_column: only versions have one")
        namespaces = self.names_list(table, "open_namespaces", where)
        for prefix in namespaces:
            if not prefix.endswith(".") or not _NAME.fullmatch(prefix[:-1]):
                raise SchemaError(self.source, where, f"open namespace {prefix!r} must be a name ending in '.'")
        return Dataset(name, columns, own, includes, tuple(entity), version, history, tuple(namespaces))

    def check_history(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> None:
        if dataset.history is None:
            return
        where = self.where(dataset.name)
        history = datasets.get(dataset.history)
        if history is None:
            raise SchemaError(self.source, where, f"its history {dataset.history!r} is not a dataset")
        if history.version_column is not None:
            raise SchemaError(
                self.source, where, f"its history {history.name!r} must be append-only (no version_column)"
            )
        for column in dataset.columns:
            if column.name not in history.names:
                raise SchemaError(
                    self.source,
                    where,
                    f"is not in its history {history.name!r}, which keeps whole versions",
                    column.name,
                )

    def column(self, where: str, name: str, spec: Any) -> Column:
        if not _NAME.fullmatch(name):
            raise SchemaError(
                self.source, where, "column names are lower-case ECS names joined by dots (quote them in TOML)", name
            )
        searched: Any = True
        if isinstance(spec, dict) and "type" not in spec:
            raise SchemaError(
                self.source, where, 'has no type: a dotted name must be quoted in TOML ("user.name" = "string")', name
            )
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"type", "searched"})
            if unknown:
                raise SchemaError(self.source, where, f"unknown key(s) {', '.join(unknown)}", name)
            searched = spec.get("searched", True)
            if not isinstance(searched, bool):
                raise SchemaError(self.source, where, "searched must be true or false", name)
            spec = spec.get("type")
        if not isinstance(spec, str):
            raise SchemaError(self.source, where, f"the type must be one of {_TYPE_WORDS}, not {spec!r}", name)
        try:
            kind = ColumnType(spec)
        except ValueError:
            raise SchemaError(
                self.source, where, f"unknown type {spec!r}: expected one of {_TYPE_WORDS}", name
            ) from None
        return Column(name, kind, searched)

    def add(self, columns: list[Column], column: Column, where: str, problem: str) -> None:
        if any(existing.name == column.name for existing in columns):
            raise SchemaError(self.source, where, problem, column.name)
        columns.append(column)

    def table(self, table: dict, key: str, where: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise SchemaError(self.source, where, f"{key} must be a table of name = type")
        return value

    def names_list(self, table: dict, key: str, where: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SchemaError(self.source, where, f"{key} must be a list of names")
        return value

    def optional_name(self, table: dict, key: str, where: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise SchemaError(self.source, where, f"{key} must be a name")
        return value


def _describe(column: Column) -> str:
    return column.type.value + ("" if column.searched else " (not searched)")


#: The schema Cyberwell ships, read once.
EVENTS: EventSchema = load()

#: Each dataset's column names: what a Sigma rule or a correlation may name.
DATASET_COLUMNS: Mapping[str, frozenset[str]] = MappingProxyType(
    {name: dataset.names for name, dataset in EVENTS.datasets.items()}
)
#: Datasets whose vendor keys are stored as sent, and the prefixes they are stored under.
OPEN_NAMESPACES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: dataset.open_namespaces for name, dataset in EVENTS.datasets.items() if dataset.open_namespaces}
)
