"""A compliance framework's requirement catalogue: the records, and the loader that refuses a
catalogue it cannot trust.

The catalogue is data (``reports/frameworks/*.yaml``, described in docs/compliance.md) because
auditors read it and the scheme changes every April: a new version is a new file, not new code.
Loading is strict, since a typo in a catalogue would otherwise turn into a requirement that
silently checks nothing. Every problem in the file is reported at once, each naming the file, the
entry's id and the key, so one edit fixes them all (the wording is :mod:`reports.catalogue_errors`'
job). The rules that tie entries to each other (references, automatic fails, attestation) are at
the end of this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError

from reports.catalogue_errors import CatalogueError, Problem, Section, read_yaml, validation_problems
from reports.registry import Check, EvidenceSource

__all__ = ["Catalogue", "CatalogueError", "Problem", "load_catalogue", "parse_catalogue"]

#: The Cyber Essentials v3.3 ("Danzell") catalogue shipped with Cyberwell.
CYBER_ESSENTIALS_V3_3: Traversable = resources.files("reports") / "frameworks" / "cyber_essentials_v3_3.yaml"


class Confidence(StrEnum):
    """How far a statement is confirmed. Reports carry it so an auditor never reads a second-hand
    claim as the scheme's own words."""

    #: Checked against the primary text (NCSC, Microsoft Learn, vendor source).
    VERIFIED = "verified"
    #: From a clause-by-clause public paraphrase of the official document, with page locators.
    PARAPHRASE = "paraphrase"
    #: Reported by secondary sources (certification bodies, consultancies, community documentation);
    #: not confirmed in a primary document.
    REPORTED = "reported"
    #: Unconfirmed, or an inference: check before relying on it.
    UNCONFIRMED = "unconfirmed"


class Assessment(StrEnum):
    """How much of a requirement telemetry can judge."""

    #: Checks decide it; no attestation needed.
    AUTOMATIC = "automatic"
    #: Checks cover part of the estate; a person attests the rest.
    PARTIAL = "partial"
    #: Only a person's attestation can show it.
    MANUAL = "manual"


class ControlKind(StrEnum):
    SCOPE = "scope"
    TECHNICAL = "technical"


E = TypeVar("E", bound=StrEnum)


def _closed(names: type[E], what: str) -> BeforeValidator:
    """Refuse a name outside a closed list with a message that says what the list is."""
    expected = ", ".join(member.value for member in names)

    def check(value: Any) -> Any:
        if isinstance(value, str) and value in {member.value for member in names}:
            return value
        raise PydanticCustomError(
            "unknown_name",
            "{value} is not a known {what}; expected one of {expected}",
            {"value": repr(value), "what": what, "expected": expected},
        )

    return BeforeValidator(check)


Id = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9.-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[EvidenceSource, _closed(EvidenceSource, "evidence source")]
CheckName = Annotated[Check, _closed(Check, "check")]
ConfidenceName = Annotated[Confidence, _closed(Confidence, "confidence")]
AssessmentName = Annotated[Assessment, _closed(Assessment, "assessment")]
KindName = Annotated[ControlKind, _closed(ControlKind, "control kind")]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Note(Record):
    """A fact beside a requirement, with how far it is confirmed."""

    text: Text
    confidence: ConfidenceName


class Locator(Record):
    """Where the requirement is in the scheme's documents. NCSC numbers no requirements, so
    these are section, page and bullet, plus the public paraphrase's provision ids."""

    current: Text
    provisions: tuple[Text, ...] = ()
    previous: Text | None = None


class Attestation(Record):
    """What a person must state, and the file that backs it, for what telemetry cannot show."""

    what: Text
    artefact: Text


class Framework(Record):
    id: Id
    name: Text
    version: Text
    question_set: Text
    effective_from: date
    test_specification: Text
    confidence: ConfidenceName
    notes: tuple[Note, ...] = ()


class Control(Record):
    id: Id
    name: Text
    kind: KindName
    section: Text


class Question(Record):
    """A question of the assessment question set, and whether a wrong answer fails outright."""

    id: Id
    subject: Text
    automatic_fail: bool
    confidence: ConfidenceName


class Entry(Record):
    """What requirements and CE+ test cases share: how each is judged and from what."""

    id: Id
    summary: Text
    text: Text
    assessment: AssessmentName
    evidence: tuple[Source, ...]
    checks: tuple[CheckName, ...]
    attestation: Attestation | None
    confidence: ConfidenceName
    notes: tuple[Note, ...] = ()


class Requirement(Entry):
    control: Id
    source: Locator
    questions: tuple[Id, ...]
    automatic_fail: bool


class TestCase(Entry):
    """A CE+ test case. Its checks show readiness; its result is the assessor's, so it always
    needs an attestation."""

    # Its name starts with "Test": tell pytest it is not a test class.
    __test__ = False

    source: Locator
    pass_rule: Text
    requirements: tuple[Id, ...]


class Catalogue(Record):
    framework: Framework
    controls: tuple[Control, ...]
    questions: tuple[Question, ...]
    requirements: tuple[Requirement, ...]
    test_cases: tuple[TestCase, ...]

    def requirement(self, id: str) -> Requirement:
        for requirement in self.requirements:
            if requirement.id == id:
                return requirement
        raise KeyError(f"no requirement {id!r} in {self.framework.name} {self.framework.version}")

    def requirements_of(self, control: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.control == control)


_SECTION_RECORDS: Mapping[str, tuple[str, type[Record]]] = {
    "controls": ("control", Control),
    "questions": ("question", Question),
    "requirements": ("requirement", Requirement),
    "test_cases": ("test case", TestCase),
}
#: The list sections, as messages name them.
SECTIONS: Mapping[str, Section] = {
    name: Section(word, tuple(record.model_fields)) for name, (word, record) in _SECTION_RECORDS.items()
}
_TOP_KEYS: Mapping[str, tuple[str, ...]] = {
    "catalogue": tuple(Catalogue.model_fields),
    "framework": tuple(Framework.model_fields),
}


def load_catalogue(path: Traversable = CYBER_ESSENTIALS_V3_3) -> Catalogue:
    """Read, validate and cross-check a catalogue file; raise :class:`CatalogueError` if wrong."""
    return parse_catalogue(read_yaml(path.read_text(encoding="utf-8"), path.name), path.name)


def parse_catalogue(raw: object, file: str) -> Catalogue:
    """Validate already-read catalogue data; ``file`` is the name its problems are reported under.

    Shape first (every shape problem at once), then the references between entries, which can
    only be followed once every entry has its shape.
    """
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as error:
        raise CatalogueError(file, validation_problems(error.errors(), raw, SECTIONS, _TOP_KEYS)) from None
    problems = cross_reference_problems(catalogue)
    if problems:
        raise CatalogueError(file, problems)
    return catalogue


def cross_reference_problems(catalogue: Catalogue) -> list[Problem]:
    """What is wrong between entries: each rule below says why it exists."""
    return [
        *_duplicate_ids(catalogue),
        *_unknown_references(catalogue),
        *_automatic_fail_agrees(catalogue),
        *_judged_somehow(catalogue),
        *_controls_have_requirements(catalogue),
    ]


def _entries(catalogue: Catalogue) -> Iterator[tuple[str, Control | Question | Entry]]:
    for name in SECTIONS:
        for entry in getattr(catalogue, name):
            yield SECTIONS[name].word, entry


def _duplicate_ids(catalogue: Catalogue) -> Iterator[Problem]:
    """Ids are how reports, attestations and other entries point at an entry: one id, one entry,
    across the whole catalogue."""
    first: dict[str, str] = {}
    for word, entry in _entries(catalogue):
        if entry.id in first:
            yield Problem(f"{word} {entry.id}", "id", f"is used twice; the first is the {first[entry.id]} {entry.id}")
        else:
            first[entry.id] = word


def _unknown_references(catalogue: Catalogue) -> Iterator[Problem]:
    """A reference to nothing would make a requirement belong nowhere or a test test nothing."""
    controls = {control.id for control in catalogue.controls}
    questions = {question.id for question in catalogue.questions}
    requirements = {requirement.id for requirement in catalogue.requirements}
    for requirement in catalogue.requirements:
        where = f"requirement {requirement.id}"
        if requirement.control not in controls:
            yield Problem(
                where, "control", f"{requirement.control!r} is not a control; expected one of {_listed(controls)}"
            )
        for question in requirement.questions:
            if question not in questions:
                yield Problem(
                    where, "questions", f"{question!r} is not a question; expected one of {_listed(questions)}"
                )
    for test in catalogue.test_cases:
        if not test.requirements:
            yield Problem(
                f"test case {test.id}", "requirements", "is empty; a test case tests at least one requirement"
            )
        for target in test.requirements:
            if target not in requirements:
                yield Problem(
                    f"test case {test.id}", "requirements", f"{target!r} is not a requirement in this catalogue"
                )


def _automatic_fail_agrees(catalogue: Catalogue) -> Iterator[Problem]:
    """A requirement fails outright exactly when one of its questions does: the flag is written
    on the requirement for the reader, and this keeps it from drifting from the question set."""
    failing = {question.id for question in catalogue.questions if question.automatic_fail}
    for requirement in catalogue.requirements:
        because = [question for question in requirement.questions if question in failing]
        if requirement.automatic_fail and not because:
            yield Problem(
                f"requirement {requirement.id}",
                "automatic_fail",
                f"is true, but none of its questions ({_listed(requirement.questions)}) is an automatic fail",
            )
        if because and not requirement.automatic_fail:
            yield Problem(
                f"requirement {requirement.id}",
                "automatic_fail",
                f"is false, but its question {because[0]} is an automatic fail",
            )


def _judged_somehow(catalogue: Catalogue) -> Iterator[Problem]:
    """Telemetry may never be shown as proving what only a person can state: what a check cannot
    reach needs an attestation, and an attestation is listed as evidence like any other."""
    for word, entry in _entries(catalogue):
        if isinstance(entry, Entry):
            yield from (Problem(f"{word} {entry.id}", key, detail) for key, detail in _judgement_problems(entry))
    for test in catalogue.test_cases:
        if test.assessment is Assessment.AUTOMATIC:
            yield Problem(f"test case {test.id}", "assessment", "cannot be automatic: the result is the assessor's")


def _judgement_problems(entry: Entry) -> Iterator[tuple[str, str]]:
    attested = EvidenceSource.ATTESTATION in entry.evidence
    telemetry = [source for source in entry.evidence if source is not EvidenceSource.ATTESTATION]
    if entry.assessment is Assessment.MANUAL and (entry.checks or telemetry):
        yield "checks", "must be empty, and evidence only 'attestation', when the assessment is manual"
    if entry.assessment is not Assessment.MANUAL and not (entry.checks and telemetry):
        yield "checks", f"and a telemetry source are needed when the assessment is {entry.assessment}"
    if entry.assessment is Assessment.AUTOMATIC and entry.attestation is not None:
        yield "attestation", "is given, but the assessment is automatic; make it partial"
    if entry.assessment is not Assessment.AUTOMATIC and entry.attestation is None:
        yield "attestation", f"is missing, but the assessment is {entry.assessment}: say what a person must attest"
    if (entry.attestation is not None) != attested:
        yield "evidence", "must list 'attestation' exactly when the entry has an attestation"


def _controls_have_requirements(catalogue: Catalogue) -> Iterator[Problem]:
    """A control with no requirements would report as nothing to do."""
    used = {requirement.control for requirement in catalogue.requirements}
    for control in catalogue.controls:
        if control.id not in used:
            yield Problem(f"control {control.id}", None, "has no requirements")


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))
