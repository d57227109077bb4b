"""``Store.alert_groups`` for the embedded store: one DuckDB statement over the Parquet segments.

The statement reads the rule's matches once (keys as text, time, id and whether an exception
allows the event), counts what the run reports from them, groups them by entity and span, and
keeps only the known groups and the first ``max_new`` others before it gathers any sample of
ids: a flood of half a million groups is counted and ranked inside DuckDB, and only the few
hundred rows a run can use come back to Python.
"""

from __future__ import annotations

from store.alert_groups import key_names
from store.epoch import to_micros
from store.protocol import AlertGroupQuery, Excepted
from store.sql.literals import quote_ident, quote_literal

#: The name the known groups' Arrow table is registered under for the statement.
KNOWN_TABLE = "cyberwell_known_groups"


def excepted_sql(exceptions: tuple[Excepted, ...]) -> str:
    """True for an event some exception allows: every field of it holds one of its values, as text."""
    alternatives = []
    for where in exceptions:
        tests = [
            f"CAST({quote_ident(name)} AS VARCHAR) IN ({', '.join(quote_literal(v) for v in values)})"
            for name, values in where
        ]
        if tests:
            alternatives.append("(" + " AND ".join(tests) + ")")
    # A NULL field holds none of the values: coalesce, or NOT would drop the event as unknown.
    return f"coalesce({' OR '.join(alternatives)}, false)" if alternatives else "false"


def groups_sql(asked: AlertGroupQuery, source: str) -> str:
    """The statement; its parameters are ``[group_start, end]`` (the read window)."""
    keys = key_names(asked)
    span, since = asked.span_micros, to_micros(asked.since)
    condition = "" if asked.query is None or not asked.query.strip() else f" AND ({asked.query})"
    read_keys = "".join(f"CAST({quote_ident(name)} AS VARCHAR) AS {key}, " for name, key in zip(asked.entity, keys))
    listed = "".join(f"{key}, " for key in keys)
    same_group = " AND ".join([*(f"g.{k} IS NOT DISTINCT FROM o.{k}" for k in keys), "g.w = o.w"])
    known_join = " AND ".join([*(f"g.{k} IS NOT DISTINCT FROM k.{k}" for k in keys), "g.w = k.w"])
    ranked_by = ", ".join(["g.f", *(f"g.{k} NULLS LAST" for k in keys)])
    return f"""
WITH m AS MATERIALIZED (
    SELECT {read_keys}epoch_us("@timestamp") AS t, CAST("event.id" AS VARCHAR) AS id,
           {excepted_sql(asked.exceptions)} AS x
    FROM {source} WHERE "@timestamp" >= ? AND "@timestamp" < ?{condition}
),
counted AS (
    SELECT count(*) FILTER (WHERE NOT x) AS matched, count(*) FILTER (WHERE x) AS excepted
    FROM m WHERE t >= {since}
),
g AS MATERIALIZED (
    SELECT {listed}(t // {span}) * {span} AS w, min(t) AS f, max(t) AS l, count(*) AS n
    FROM m WHERE NOT x GROUP BY ALL HAVING max(t) >= {since}
),
picked AS MATERIALIZED (
    (SELECT g.*, true AS known FROM g SEMI JOIN {KNOWN_TABLE} k ON {known_join})
    UNION ALL
    (SELECT g.*, false AS known FROM g ANTI JOIN {KNOWN_TABLE} k ON {known_join}
     ORDER BY {ranked_by} LIMIT {asked.max_new})
),
sampled AS (
    SELECT {"".join(f"o.{k}, " for k in keys)}o.w,
           list(m.id ORDER BY m.t, m.id)[1:{asked.sample}] AS ids
    FROM (SELECT {listed}(t // {span}) * {span} AS w, t, id FROM m WHERE NOT x) m
    JOIN picked o ON {" AND ".join([*(f"m.{k} IS NOT DISTINCT FROM o.{k}" for k in keys), "m.w = o.w"])}
    GROUP BY ALL
)
SELECT {"".join(f"g.{k}, " for k in keys)}g.w, g.f, g.l, g.n, coalesce(o.ids, []), g.known,
       (SELECT count(*) FROM g), counted.matched, counted.excepted
FROM counted LEFT JOIN (picked g LEFT JOIN sampled o ON {same_group}) ON true
ORDER BY {", ".join(["g.f", *(f"g.{k} NULLS LAST" for k in keys)])}
"""
