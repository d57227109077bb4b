"""Exceptions: YAML allow-lists that take known-benign events out of a rule's matches.

A file under ``rules/exceptions/`` (shipped) or under an ``exceptions/`` folder of a rule folder
(the user's own) holds a list of exceptions::

    exceptions:
      - name: windows-update-ctl
        rules: [d7fb8f0e-bd5f-45c2-b467-19571c490d7e]   # rule ids; leave out for every rule
        where: {destination.ip: 93.184.221.240, destination.port: [80]}
        owner: it-operations@example.org
        reason: Windows downloads its signed certificate trust lists over plain HTTP.
        expires: 2027-06-30

An event is excepted when every field in ``where`` holds one of the listed values (compared as
text). Each exception has an owner, a reason and an expiry date because an allow-list nobody
owns outlives the reason it was written for: past its date it stops applying and is reported as
a problem naming the file and the exception, so someone renews or removes it. A malformed
exception is reported by name and the others still apply.

For alerts, a rule's exceptions go to the store as data (``RuleException.where``: field -> allowed
texts) and each store renders them in its own language (SQL, an Elasticsearch ``must_not``), so
the events are never read into Python; the matches a correlation reads are filtered here (one
vectorised Arrow filter per rule). tests/detections/test_alert_groups.py holds both ways to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from detections.problems import RuleProblem

#: Shipped exceptions, always read; the demo's own live in a folder below (``DEMO_EXCEPTIONS``).
SHIPPED_EXCEPTIONS = Path(__file__).resolve().parent.parent / "rules" / "exceptions"
#: Exceptions for the demo council's estate only: known-benign traffic of its generated network.
DEMO_EXCEPTIONS = SHIPPED_EXCEPTIONS / "demo"
#: The name of a folder of exceptions inside a rule folder (skipped when rules are read).
EXCEPTIONS_FOLDER = "exceptions"
_REQUIRED = ("name", "where", "owner", "reason", "expires")


@dataclass(frozen=True)
class RuleException:
    name: str
    path: Path
    rules: tuple[str, ...] | None  # rule ids it applies to; None: every rule
    where: tuple[tuple[str, tuple[str, ...]], ...]  # field -> allowed values, as text
    owner: str
    reason: str
    expires: date

    def applies_to(self, rule_id: str) -> bool:
        return self.rules is None or rule_id in self.rules

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.where)


def exception_files(folders: Iterable[Path]) -> list[Path]:
    """YAML files directly in each existing folder (the shipped ``demo/`` folder is opt-in)."""
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml"))
    return files


def load_exceptions(
    folders: Iterable[Path], today: date | None = None
) -> tuple[list[RuleException], list[RuleProblem]]:
    """The exceptions in force, and a problem for every malformed or expired one."""
    today = today or datetime.now(UTC).date()
    active: list[RuleException] = []
    problems: list[RuleProblem] = []
    for path in exception_files(folders):
        for name, entry in _entries(path, problems):
            try:
                exception = _parse(entry, name, path)
            except ValueError as error:
                problems.append(RuleProblem(f"exception '{name}'", str(path), str(error), "exception"))
                continue
            if exception.expires < today:
                problems.append(
                    RuleProblem(
                        f"exception '{name}'",
                        str(path),
                        f"expired on {exception.expires.isoformat()} (owner {exception.owner}); it no longer "
                        "applies: renew its date or remove it",
                        "exception",
                    )
                )
                continue
            active.append(exception)
    return active, problems


def _entries(path: Path, problems: list[RuleProblem]) -> list[tuple[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problems.append(RuleProblem(path.name, str(path), f"cannot read the exceptions file: {error}", "exception"))
        return []
    entries = document.get("exceptions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        problems.append(RuleProblem(path.name, str(path), "expected a mapping with an 'exceptions' list", "exception"))
        return []
    named = []
    for position, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        named.append((str(name) if name else f"#{position}", entry))
    return named


def _parse(entry: Any, name: str, path: Path) -> RuleException:
    if not isinstance(entry, dict):
        raise ValueError("an exception is a mapping with name, where, owner, reason and expires")
    missing = [key for key in _REQUIRED if entry.get(key) in (None, "", {})]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    expires = entry["expires"]
    if isinstance(expires, datetime):
        expires = expires.date()
    if not isinstance(expires, date):
        try:
            expires = date.fromisoformat(str(expires))
        except ValueError:
            raise ValueError(f"expires: expected a date such as 2027-06-30, got {expires!r}") from None
    return RuleException(
        name=name,
        path=path,
        rules=_rule_ids(entry.get("rules")),
        where=_conditions(entry["where"]),
        owner=str(entry["owner"]),
        reason=str(entry["reason"]),
        expires=expires,
    )


def _rule_ids(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError("rules: expected a rule id or a list of them (leave it out for every rule)")
    return tuple(values)


def _conditions(where: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(where, dict) or not all(isinstance(key, str) for key in where):
        raise ValueError("where: expected a mapping of field names to a value or a list of values")
    conditions = []
    for field_name, value in where.items():
        values = value if isinstance(value, list) else [value]
        if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
            raise ValueError(f"where.{field_name}: expected a value or a list of values")
        conditions.append((field_name, tuple(_text(v) for v in values)))
    return tuple(conditions)


def _text(value: Any) -> str:
    """A value as the stored column reads when cast to text (YAML's true is 'true')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def applicable(exceptions: Sequence[RuleException], rule_id: str, columns: Iterable[str]) -> list[RuleException]:
    """The exceptions of a rule whose fields its datasets have (a global exception naming a
    firewall field does not touch sign-in rules)."""
    known = set(columns)
    return [e for e in exceptions if e.applies_to(rule_id) and set(e.fields) <= known]


def apply_exceptions(table: pa.Table, exceptions: Sequence[RuleException]) -> tuple[pa.Table, int]:
    """The matches no exception allows, and how many were taken out."""
    present = [e for e in exceptions if all(name in table.column_names for name in e.fields)]
    if table.num_rows == 0 or not present:
        return table, 0
    excepted = None
    for exception in present:
        mask = None
        for field_name, values in exception.where:
            column = pc.cast(table.column(field_name), pa.string())
            hit = pc.fill_null(pc.is_in(column, value_set=pa.array(values, pa.string())), False)
            mask = hit if mask is None else pc.and_(mask, hit)
        excepted = mask if excepted is None else pc.or_(excepted, mask)
    kept = table.filter(pc.invert(excepted))
    return kept, table.num_rows - kept.num_rows
