"""SQL of the embedded store's correlation pruning: ``Store.reaching`` and ``search``'s ``keep``.

Group values are compared as text (``CAST(... AS VARCHAR)``), as ``detections.correlate`` compares
them, so the keys this module hands out select exactly the events of their groups again, whatever
the column's type, and across rules whose aliased fields have different types.
"""

from __future__ import annotations

from store.protocol import Keep, ReachingQuery
from store.sql.literals import quote_ident


def as_text(name: str) -> str:
    return f"CAST({quote_ident(name)} AS VARCHAR)"


def reaching_sql(asked: ReachingQuery, source: str) -> str:
    """One ``GROUP BY ... HAVING`` over ``source``; parameters: start, end. One row past the
    limit is asked for, so the caller can tell "too many" from "exactly the limit"."""
    keys = ", ".join(as_text(name) for name in asked.group_by)
    total = f"count(DISTINCT {as_text(asked.distinct)})" if asked.distinct else "count(*)"
    condition = "" if asked.query is None or not asked.query.strip() else f" AND ({asked.query})"
    return (
        f"SELECT {keys} FROM {source}"
        f' WHERE "@timestamp" >= ? AND "@timestamp" < ?{condition}'
        f" GROUP BY ALL HAVING {total} >= {int(asked.at_least)} LIMIT {int(asked.limit) + 1}"
    )


def keep_sql(keep: Keep) -> tuple[str, list[str]]:
    """``keep`` as a condition and its parameters (the columns must exist in the source)."""
    conditions, params = [], []
    for name, values in keep.items():
        given = [value for value in values if value is not None]
        tests = [f"{as_text(name)} IN ({', '.join('?' * len(given))})"] if given else []
        if None in values:
            tests.append(f"{quote_ident(name)} IS NULL")
        conditions.append("(" + (" OR ".join(tests) or "false") + ")")
        params.extend(given)
    return " AND ".join(conditions) or "true", params
