"""Build small event tables with the columns every event carries, for store and engine tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from store.batch import REQUIRED_COLUMNS


def event_table(rows: list[dict], extra_types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Rows are dicts of column -> value; required columns get sensible defaults."""
    now = datetime.now(UTC)
    types = dict(REQUIRED_COLUMNS)
    types.update(extra_types or {})
    names = list(dict.fromkeys([*REQUIRED_COLUMNS, *(k for row in rows for k in row)]))
    columns = {}
    for name in names:
        values = []
        for index, row in enumerate(rows):
            if name == "event.ingested":
                values.append(row.get(name, now))
            elif name == "event.original":
                values.append(row.get(name, str(row)))
            elif name == "event.dataset":
                values.append(row.get(name, "test.events"))
            elif name == "event.id":
                values.append(row.get(name, f"id-{index}"))
            else:
                values.append(row.get(name))
        columns[name] = pa.array(values, type=types.get(name, pa.string()))
    return pa.table(columns)
