"""The Cyber Essentials v3.3 catalogue: what it says, that its references hold, and that a broken
catalogue is refused with a message naming the file, the entry and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.catalogue import (
    CYBER_ESSENTIALS_V3_3,
    SECTIONS,
    Assessment,
    CatalogueError,
    Confidence,
    ControlKind,
    Requirement,
    TestCase,
    load_catalogue,
    parse_catalogue,
)
from reports.registry import CHECKS, EVIDENCE_SOURCES, Check, EvidenceSource

FILE = "cyber_essentials_v3_3.yaml"
TEXT = CYBER_ESSENTIALS_V3_3.read_text(encoding="utf-8")
CATALOGUE = load_catalogue()


def raw() -> dict[str, Any]:
    """A fresh copy of the shipped file as plain data, to break in one place."""
    data = yaml.safe_load(TEXT)
    assert isinstance(data, dict)
    return data


def entry(data: dict[str, Any], section: str, id: str) -> dict[str, Any]:
    return next(item for item in data[section] if item["id"] == id)


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / FILE
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    return str(caught.value)


# ------------------------------------------------------------------------------- what it says


def test_the_shipped_catalogue_is_cyber_essentials_v3_3_danzell():
    framework = CATALOGUE.framework
    assert (framework.name, framework.version, framework.question_set) == ("Cyber Essentials", "3.3", "Danzell")
    assert str(framework.effective_from) == "2026-04-27"
    assert len(CATALOGUE.requirements) >= 55
    assert [test.id for test in CATALOGUE.test_cases] == ["TC1", "TC2", "TC3", "TC4", "TC5"]


def test_each_of_the_five_technical_controls_has_requirements():
    technical = {c.name: c.id for c in CATALOGUE.controls if c.kind is ControlKind.TECHNICAL}
    assert set(technical) == {
        "Firewalls",
        "Secure configuration",
        "Security update management",
        "User access control",
        "Malware protection",
    }
    for name, control in technical.items():
        assert CATALOGUE.requirements_of(control), f"{name} has no requirements"


def test_the_automatic_fails_the_scheme_names_are_marked():
    failing_questions = {q.id for q in CATALOGUE.questions if q.automatic_fail}
    assert failing_questions == {"A6.4", "A6.5", "A7.16", "A7.17"}
    failing = {r.id for r in CATALOGUE.requirements if r.automatic_fail}
    # High/critical (or CVSS 7+, or unrated) fixes within 14 days; MFA for all cloud users and admins.
    assert failing == {"SU-05", "SU-06", "SU-07", "UA-07", "UA-08"}
    for id in ("SU-05", "SU-06", "SU-07"):
        assert Check.UPDATES_WITHIN_14_DAYS in CATALOGUE.requirement(id).checks
    assert Check.MFA_ENFORCED in CATALOGUE.requirement("UA-07").checks
    assert Check.MFA_ADMINS in CATALOGUE.requirement("UA-08").checks


@pytest.mark.parametrize(
    ("id", "gap"),
    [
        ("FW-01", "boundary firewalls"),  # non-Azure firewalls
        ("FW-03", "default administrator password"),
        ("UA-07", "does not sign in through Entra"),  # non-Entra SaaS
        ("FW-08", "approval"),  # approval processes
        ("UA-03", "approval"),
        ("TC1", "external scan"),  # external scans
    ],
)
def test_what_telemetry_cannot_prove_needs_an_attestation(id, gap):
    found = next(e for e in (*CATALOGUE.requirements, *CATALOGUE.test_cases) if e.id == id)
    assert found.assessment is not Assessment.AUTOMATIC
    assert found.attestation is not None and gap in found.attestation.what
    assert EvidenceSource.ATTESTATION in found.evidence


def test_every_ce_plus_test_case_is_the_assessors_to_judge():
    for test in CATALOGUE.test_cases:
        assert test.assessment is not Assessment.AUTOMATIC and test.attestation is not None, test.id


def test_second_hand_facts_are_not_presented_as_certain():
    # The v3.3 text is known only through a paraphrase, so no requirement may claim verification.
    assert {r.confidence for r in CATALOGUE.requirements} == {Confidence.PARAPHRASE}
    assert all(q.confidence is Confidence.REPORTED for q in CATALOGUE.questions if q.automatic_fail)
    unconfirmed = {r.id for r in CATALOGUE.requirements for n in r.notes if n.confidence is Confidence.UNCONFIRMED}
    # Entra's lockout default, the beta-only single-factor field, password expiry semantics...
    assert {"UA-07", "UA-16", "UA-17", "UA-19", "SC-04"} <= unconfirmed
    danzell_ce_plus = [n for t in CATALOGUE.test_cases for n in t.notes if "second random sample" in n.text]
    assert [n.confidence for n in danzell_ce_plus] == [Confidence.REPORTED]


# ------------------------------------------------------------------------------- its references


def test_every_cross_reference_in_the_file_resolves():
    """Read from the YAML itself, not through the loader, so this is a property of the data."""
    data = raw()
    ids = [item["id"] for section in SECTIONS for item in data[section]]
    assert len(ids) == len(set(ids)), "ids are unique across the catalogue"
    controls = {c["id"] for c in data["controls"]}
    questions = {q["id"]: q for q in data["questions"]}
    requirements = {r["id"] for r in data["requirements"]}
    sources = {source.value for source in EVIDENCE_SOURCES}
    checks = {check.value for check in CHECKS}
    for item in [*data["requirements"], *data["test_cases"]]:
        assert set(item["evidence"]) <= sources, item["id"]
        assert set(item["checks"]) <= checks, item["id"]
        assert ("attestation" in item["evidence"]) == (item["attestation"] is not None), item["id"]
    for requirement in data["requirements"]:
        assert requirement["control"] in controls, requirement["id"]
        assert set(requirement["questions"]) <= set(questions), requirement["id"]
        fails = any(questions[q]["automatic_fail"] for q in requirement["questions"])
        assert requirement["automatic_fail"] == fails, requirement["id"]
    for test in data["test_cases"]:
        assert test["requirements"] and set(test["requirements"]) <= requirements, test["id"]


def test_every_registered_name_is_described_and_used():
    assert set(EVIDENCE_SOURCES) == set(EvidenceSource) and all(EVIDENCE_SOURCES.values())
    assert set(CHECKS) == set(Check) and all(CHECKS.values())
    entries = [*CATALOGUE.requirements, *CATALOGUE.test_cases]
    assert {source for e in entries for source in e.evidence} == set(EvidenceSource)
    assert {check for e in entries for check in e.checks} == set(Check)


def test_the_documentation_lists_every_registered_name_with_its_description():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "compliance.md").read_text(encoding="utf-8")
    for name, description in [*EVIDENCE_SOURCES.items(), *CHECKS.items()]:
        assert f"| `{name}` | {description} |" in doc, name
    assert "../shared" not in doc, "the project stands alone"


# ------------------------------------------------------------------------------- broken catalogues


def _unknown_source(data: dict[str, Any]) -> None:
    entry(data, "requirements", "UA-03")["evidence"][0] = "graph.userz"


def _dangling_test_case(data: dict[str, Any]) -> None:
    entry(data, "test_cases", "TC5")["requirements"].append("UA-99")


def _duplicate_id(data: dict[str, Any]) -> None:
    entry(data, "requirements", "SC-02")["id"] = "SC-01"


def _missing_key(data: dict[str, Any]) -> None:
    del entry(data, "requirements", "MP-04")["summary"]


def _unknown_check(data: dict[str, Any]) -> None:
    entry(data, "requirements", "FW-10")["checks"] = ["firewall.unused_rulez"]


def _automatic_fail_dropped(data: dict[str, Any]) -> None:
    entry(data, "requirements", "SU-05")["automatic_fail"] = False


def _attestation_dropped(data: dict[str, Any]) -> None:
    entry(data, "requirements", "UA-07")["attestation"] = None


def _misspelt_key(data: dict[str, Any]) -> None:
    item = entry(data, "test_cases", "TC2")
    item["pass_rules"] = item.pop("pass_rule")


def _section_missing(data: dict[str, Any]) -> None:
    del data["questions"]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            _unknown_source,
            f"{FILE}: requirement UA-03: evidence 'graph.userz' is not a known evidence source; "
            "expected one of graph.users, graph.authentication_methods,",
        ),
        (_dangling_test_case, f"{FILE}: test case TC5: requirements 'UA-99' is not a requirement in this catalogue"),
        (_duplicate_id, f"{FILE}: requirement SC-01: id is used twice; the first is the requirement SC-01"),
        (_missing_key, f"{FILE}: requirement MP-04: summary is missing"),
        (_unknown_check, f"{FILE}: requirement FW-10: checks 'firewall.unused_rulez' is not a known check"),
        (
            _automatic_fail_dropped,
            f"{FILE}: requirement SU-05: automatic_fail is false, but its question A6.4 is an automatic fail",
        ),
        (_attestation_dropped, f"{FILE}: requirement UA-07: attestation is missing, but the assessment is partial"),
        (_misspelt_key, f"{FILE}: test case TC2: pass_rules is not a key this entry may have; expected one of id,"),
        (_section_missing, f"{FILE}: catalogue: questions is missing"),
    ],
    ids=lambda value: value.__name__.lstrip("_") if callable(value) else "",
)
def test_a_broken_catalogue_is_refused_naming_file_entry_and_key(tmp_path, breakage, expected):
    data = raw()
    breakage(data)
    assert expected in refused(write(tmp_path, data))


def test_every_problem_is_reported_at_once(tmp_path):
    data = raw()
    _unknown_source(data)
    _missing_key(data)
    lines = refused(write(tmp_path, data)).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["requirement UA-03", "requirement MP-04"]


def test_a_key_written_twice_is_refused_with_its_line(tmp_path):
    text = TEXT.replace("  - id: SU-05\n", "  - id: SU-05\n    automatic_fail: false\n", 1)
    (tmp_path / FILE).write_text(text, encoding="utf-8")
    line = text[: text.index("  - id: SU-05\n")].count("\n") + 1
    message = refused(tmp_path / FILE)
    assert message.startswith(f"{FILE}: line ")
    assert "key 'automatic_fail' appears twice" in message
    assert int(message.split("line ")[1].split(":")[0]) > line


def test_an_entry_without_an_id_is_named_by_its_position(tmp_path):
    data = raw()
    del data["requirements"][2]["id"]
    assert f"{FILE}: requirement #3: id is missing" in refused(write(tmp_path, data))


# ------------------------------------------------------------------------------- properties

SHIPPED = raw()
NAMED = [(section, i) for section in ("requirements", "test_cases") for i in range(len(SHIPPED[section]))]
SOURCE_NAMES = {source.value for source in EvidenceSource}


@settings(max_examples=60, deadline=None)
@given(where=st.sampled_from(NAMED), name=st.text(min_size=1, max_size=30).filter(lambda s: s not in SOURCE_NAMES))
def test_any_unknown_evidence_name_is_named_with_its_entry(where, name):
    section, index = where
    data = copy.deepcopy(SHIPPED)
    item = data[section][index]
    item["evidence"] = [*item["evidence"], name]
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(data, FILE)
    word = SECTIONS[section].word
    assert f"{FILE}: {word} {item['id']}: evidence {name!r} is not a known evidence source" in str(caught.value)


REQUIRED = {
    "requirements": [k for k, f in Requirement.model_fields.items() if f.is_required() and k != "id"],
    "test_cases": [k for k, f in TestCase.model_fields.items() if f.is_required() and k != "id"],
}


@settings(max_examples=60, deadline=None)
@given(where=st.sampled_from(NAMED), data=st.data())
def test_any_missing_required_key_is_named_with_its_entry(where, data):
    section, index = where
    key = data.draw(st.sampled_from(REQUIRED[section]))
    broken = copy.deepcopy(SHIPPED)
    item = broken[section][index]
    del item[key]
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(broken, FILE)
    assert f"{FILE}: {SECTIONS[section].word} {item['id']}: {key} is missing" in str(caught.value).splitlines()
