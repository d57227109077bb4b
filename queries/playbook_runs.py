"""Playbook runs as people look for them: those awaiting approval, those of one playbook or of
some alerts, dry runs or real ones; newest first, bounded, with how many matched in all."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from store.state.database import StateDB
from store.state.playbook_run_records import RUN_STATES, RunRecord, read_run


@dataclass(frozen=True)
class RunFilter:
    state: str | None = None
    playbook: str | None = None
    dry_run: bool | None = None
    #: Only runs about these alerts (the demo's); None: any alert.
    alert_ids: Collection[str] | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = ["1 = 1"]
        params: list[object] = []
        for column, value in (("state", self.state), ("playbook", self.playbook)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.dry_run is not None:
            clauses.append("dry_run = ?")
            params.append(int(self.dry_run))
        if self.alert_ids is not None:
            # One JSON parameter instead of one per id: any number of alerts, one statement.
            clauses.append("alert_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(self.alert_ids)))
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class RunListing:
    runs: tuple[RunRecord, ...]
    total: int  # every run that matched, shown or not
    #: Runs that matched, per playbook.
    per_playbook: dict[str, int]

    @property
    def held_back(self) -> int:
        return self.total - len(self.runs)

    def to_dict(self) -> dict[str, object]:
        return {
            "runs": [run.to_dict() for run in self.runs],
            "total": self.total,
            "per_playbook": self.per_playbook,
        }


def list_runs(
    state: StateDB, which: RunFilter = RunFilter(), limit: int = 50, per_playbook: int | None = None
) -> RunListing:
    """Newest first, at most ``limit``; ``per_playbook``: at most this many of each playbook
    (the demo shows one of each, so every playbook is seen)."""
    if which.state is not None and which.state not in RUN_STATES:
        raise ValueError(f"expected one of {', '.join(RUN_STATES)}, got {which.state!r}")
    where, params = which.where()
    with state.connect() as con:
        counts = {
            row[0]: row[1]
            for row in con.execute(
                f"SELECT playbook, count(*) FROM playbook_runs WHERE {where} GROUP BY playbook ORDER BY playbook",
                params,
            )
        }
        ranked = (
            f"SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY playbook ORDER BY id DESC) AS n"
            f" FROM playbook_runs WHERE {where}) WHERE n <= ? ORDER BY id DESC LIMIT ?"
        )
        ids = [row[0] for row in con.execute(ranked, [*params, per_playbook or limit, limit])]
        runs = tuple(run for run in (read_run(con, run_id) for run_id in ids) if run is not None)
    return RunListing(runs, sum(counts.values()), counts)
