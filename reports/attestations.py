"""Manual attestations: what a named person states, on a date, about a requirement telemetry
cannot prove, with the file that backs it.

They live in YAML beside their evidence files (``attestations.yaml`` and the PDFs, screenshots
and exports it names)::

    attestations:
      - requirement: FW-03
        by: Priya Shah, IT manager
        date: 2026-11-02
        statement: The office router's default administrator password was changed on installation.
        evidence: evidence/router-admin-password.pdf
        valid_until: 2027-11-01     # optional; a year after `date` when left out

Loading is strict, like the catalogue's: an unknown requirement, a missing evidence file or a
misspelt key would otherwise become an attestation a report shows but nobody made. Every problem
is reported at once, naming the file, the entry (its position and requirement) and the key. The
evidence file's SHA-256 is taken at load, so a report can say which file it was and an evidence
pack can prove it unchanged. The date's key is ``date``, not ``on``: YAML reads a bare ``on`` as the boolean true. An
attestation is in force from its date to its expiry, inclusive;
outside that window a report shows it as lapsed, never as evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from reports.catalogue import Assessment, Catalogue
from reports.catalogue_errors import CatalogueError, Problem, read_yaml

#: When an attestation says nothing of its validity: Cyber Essentials certifies for a year.
DEFAULT_VALIDITY = timedelta(days=365)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class AttestationError(ValueError):
    """An attestations file that cannot be trusted, with every problem found in it."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{file}: {problem}" for problem in self.problems))


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requirement: Text
    by: Text
    date: Date
    statement: Text
    evidence: Text
    valid_until: Date | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attestations: tuple[_Entry, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Attestation:
    """A person's dated statement about one requirement, and the file that backs it."""

    requirement: str
    by: str
    date: Date
    statement: str
    evidence: Path
    sha256: str
    valid_until: Date

    def in_force(self, day: Date) -> bool:
        return self.date <= day <= self.valid_until

    def __str__(self) -> str:
        return f"attested by {self.by} on {self.date.isoformat()} (evidence {self.evidence.name}, until {self.valid_until.isoformat()})"


def load_attestations(path: Path, catalogue: Catalogue) -> tuple[Attestation, ...]:
    """Read and check ``path``; raise :class:`AttestationError` naming every problem."""
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"), path.name)
    except CatalogueError as error:
        raise AttestationError(path.name, list(error.problems)) from None
    except OSError as error:
        raise AttestationError(str(path), [Problem("file", None, f"cannot be read: {error.strerror}")]) from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as error:
        raise AttestationError(path.name, [_shape_problem(e["loc"], e["msg"], raw) for e in error.errors()]) from None
    problems = [
        p for i, entry in enumerate(parsed.attestations) for p in _entry_problems(i, entry, path.parent, catalogue)
    ]
    if problems:
        raise AttestationError(path.name, problems)
    return tuple(_attestation(entry, path.parent) for entry in parsed.attestations)


def _entry_problems(index: int, entry: _Entry, folder: Path, catalogue: Catalogue) -> Iterator[Problem]:
    where = _where(index, entry.requirement)
    known = {r.id: r for r in catalogue.requirements}
    requirement = known.get(entry.requirement)
    if requirement is None:
        yield Problem(
            where, "requirement", f"names no requirement of {catalogue.framework.name} {catalogue.framework.version}"
        )
    elif requirement.assessment is Assessment.AUTOMATIC:
        yield Problem(
            where, "requirement", "is judged by telemetry alone (assessment automatic); it takes no attestation"
        )
    file = folder / entry.evidence
    if Path(entry.evidence).is_absolute() or ".." in Path(entry.evidence).parts:
        yield Problem(where, "evidence", f"must be a path inside {folder}, got {entry.evidence!r}")
    elif not file.is_file():
        yield Problem(where, "evidence", f"names {entry.evidence!r}, which is not a file in {folder}")
    if entry.valid_until is not None and entry.valid_until < entry.date:
        yield Problem(
            where,
            "valid_until",
            f"{entry.valid_until.isoformat()} is before the attestation's date {entry.date.isoformat()}",
        )


def _attestation(entry: _Entry, folder: Path) -> Attestation:
    file = folder / entry.evidence
    return Attestation(
        requirement=entry.requirement,
        by=entry.by,
        date=entry.date,
        statement=entry.statement,
        evidence=file,
        sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        valid_until=entry.valid_until or entry.date + DEFAULT_VALIDITY,
    )


def _shape_problem(loc: tuple[int | str, ...], message: str, raw: object) -> Problem:
    """Pydantic's position (``attestations, 2, by``) as the entry a person can find."""
    if len(loc) >= 2 and loc[0] == "attestations" and isinstance(loc[1], int):
        where = _where(loc[1], _requirement_of(raw, loc[1]))
        if message == "Keys should be strings":
            # YAML 1.1 reads a bare on, off, yes or no as a boolean: the usual slip is "on:" for "date:".
            return Problem(where, None, "has a key YAML reads as true, false or a number (write date:, not on:)")
        key = ".".join(str(part) for part in loc[2:]) or None
        return Problem(where, key, _plain(message, key))
    key = ".".join(str(part) for part in loc) or None
    if message == "Extra inputs are not permitted":
        return Problem("file", key, "is not a key of an attestations file; expected only attestations")
    return Problem("file", key, _plain(message, key))


def _requirement_of(raw: object, index: int) -> str | None:
    entries = raw.get("attestations") if isinstance(raw, Mapping) else None
    if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], Mapping):
        value: Any = entries[index].get("requirement")
        return value if isinstance(value, str) else None
    return None


def _where(index: int, requirement: str | None) -> str:
    return f"attestation #{index + 1}" + (f" ({requirement})" if requirement else "")


def _plain(message: str, key: str | None) -> str:
    if message == "Field required":
        return "is missing"
    if message == "Extra inputs are not permitted":
        return f"is not a key an attestation may have; expected one of {', '.join(_Entry.model_fields)}"
    return f"is invalid: {message}"
