"""Manual attestations in YAML: loaded with who, when and the evidence file (hashed), in force
for their validity only, and a broken file refused with every problem named by file, entry, key."""

from __future__ import annotations

import datetime as dt
import hashlib
import textwrap
from pathlib import Path

import pytest

from reports.attestations import AttestationError, load_attestations
from reports.catalogue import load_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def write(folder: Path, text: str, files: tuple[str, ...] = ("evidence/router.pdf",)) -> Path:
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"%PDF-1.4 router admin password changed")
    path = folder / "attestations.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = """
    attestations:
      - requirement: FW-03
        by: Priya Shah, IT manager
        date: 2026-11-02
        statement: The office router's default administrator password was changed on installation.
        evidence: evidence/router.pdf
      - requirement: SCP-01
        by: Sam Okafor, head of digital
        date: 2026-01-10
        statement: Whole organisation in scope, as agreed with the certification body.
        evidence: evidence/router.pdf
        valid_until: 2026-06-30
"""


def test_attestations_load_with_who_when_and_the_hashed_evidence_file(tmp_path, catalogue):
    first, second = load_attestations(write(tmp_path, GOOD), catalogue)
    assert (first.requirement, first.by, first.date) == ("FW-03", "Priya Shah, IT manager", dt.date(2026, 11, 2))
    assert first.evidence == tmp_path / "evidence/router.pdf"
    assert first.sha256 == hashlib.sha256(b"%PDF-1.4 router admin password changed").hexdigest()
    assert first.valid_until == dt.date(2027, 11, 2)  # a year when not given
    assert str(first).startswith("attested by Priya Shah, IT manager on 2026-11-02 (evidence router.pdf")
    assert second.valid_until == dt.date(2026, 6, 30)


def test_attestations_are_in_force_only_within_their_validity(tmp_path, catalogue):
    first, second = load_attestations(write(tmp_path, GOOD), catalogue)
    assert second.in_force(dt.date(2026, 6, 30)) and not second.in_force(dt.date(2026, 7, 1))
    assert not first.in_force(dt.date(2026, 11, 1))  # not yet made
    assert first.in_force(dt.date(2027, 11, 2)) and not first.in_force(dt.date(2027, 11, 3))


def test_every_problem_is_named_by_file_entry_and_key(tmp_path, catalogue):
    bad = """
        attestations:
          - requirement: FW-99
            by: Priya Shah
            date: 2026-11-02
            statement: Something.
            evidence: evidence/router.pdf
          - requirement: SC-02
            date: 2026-11-02
            statement: Default passwords changed.
            evidence: evidence/missing.pdf
          - requirement: UA-18
            by: Priya Shah
            date: 2026-11-02
            statement: Password manager offered to all staff.
            evidence: ../outside.pdf
            valid_until: 2026-01-01
            approver: Sam
          - requirement: UA-20
            by: Priya Shah
            date: 2 November
            statement: No complexity rules.
            evidence: evidence/router.pdf
    """
    with pytest.raises(AttestationError) as caught:
        load_attestations(write(tmp_path, bad), catalogue)
    message = str(caught.value).splitlines()
    assert "attestations.yaml: attestation #2 (SC-02): by is missing" in message
    assert any(line.startswith("attestations.yaml: attestation #3 (UA-18): approver is not a key") for line in message)
    assert any(line.startswith("attestations.yaml: attestation #4 (UA-20): date is invalid") for line in message)
    # Shape first; the cross-checks run on a file whose shape is right.
    fixed = bad.replace("          - requirement: SC-02\n", "          - requirement: SC-02\n            by: Sam\n")
    fixed = fixed.replace("            approver: Sam\n", "").replace("date: 2 November", "date: 2026-11-02")
    with pytest.raises(AttestationError) as caught:
        load_attestations(write(tmp_path, fixed), catalogue)
    assert str(caught.value).splitlines() == [
        "attestations.yaml: attestation #1 (FW-99): requirement names no requirement of Cyber Essentials 3.3",
        f"attestations.yaml: attestation #2 (SC-02): evidence names 'evidence/missing.pdf', which is not a file in {tmp_path}",
        f"attestations.yaml: attestation #3 (UA-18): evidence must be a path inside {tmp_path}, got '../outside.pdf'",
        "attestations.yaml: attestation #3 (UA-18): valid_until 2026-01-01 is before the attestation's date 2026-11-02",
    ]


def test_broken_yaml_and_a_repeated_key_are_refused(tmp_path, catalogue):
    with pytest.raises(AttestationError, match=r"attestations.yaml: line \d+: is not valid YAML"):
        load_attestations(write(tmp_path, "attestations: [\n"), catalogue)
    repeated = GOOD.replace(
        "        by: Priya Shah, IT manager\n", "        by: Priya Shah, IT manager\n        by: Someone else\n"
    )
    with pytest.raises(AttestationError, match="'by' appears twice"):
        load_attestations(write(tmp_path, repeated), catalogue)
    with pytest.raises(AttestationError, match=r"attestation #1 \(FW-03\): has a key YAML reads as true.*not on:"):
        load_attestations(write(tmp_path, GOOD.replace("date: 2026-11-02", "on: 2026-11-02")), catalogue)
    with pytest.raises(AttestationError, match="file: attestations is invalid"):
        load_attestations(write(tmp_path, "attestations: []\n"), catalogue)
