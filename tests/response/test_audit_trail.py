"""The audit trail: entries chain, and ``verify_audit`` names the tampering and where it happened.

The tamperer here is someone with the SQLite file and a second connection: they edit fields,
slip forged entries in (with a hash computed the way Cyberwell computes it, or made up), swap
entries, delete them (renumbering the rest or not), cut the end off, empty the log, delete the
head. For each, the first problem verify reports must name the right entry and the right kind.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.state.audit import (
    AUDIT_KINDS,
    GENESIS,
    AuditAnchor,
    AuditEntry,
    append_audit,
    read_head,
    recent_audit,
    verify_audit,
)
from store.state.audit_chain import entry_digest
from store.state.database import StateDB

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
entries = st.builds(
    AuditEntry,
    actor=text.filter(str.strip),
    kind=st.sampled_from(AUDIT_KINDS),
    subject=text,
    what=text,
    result=st.sampled_from(["succeeded", "failed: 403 from Graph", "dry-run", "parked: 5 attempts"]),
    detail=st.dictionaries(
        st.sampled_from(["user", "device", "attempts", "note", "ip"]), st.integers() | text, max_size=3
    ),
)
batches = st.lists(st.lists(entries, min_size=1, max_size=8), min_size=1, max_size=5)


# Hypothesis runs many examples per test, too many for one tmp_path: each gets a folder of its
# own in one that is removed when the test process ends.
_FOLDERS = tempfile.TemporaryDirectory(prefix="cw-audit-")


def new_state() -> StateDB:
    return StateDB(Path(tempfile.mkdtemp(dir=_FOLDERS.name)) / "state.sqlite")


def written(batches_: list[list[AuditEntry]]) -> StateDB:
    state = new_state()
    for batch in batches_:
        with state.transaction() as con:
            append_audit(con, batch)
    return state


def tamper(state: StateDB, *statements: tuple[str, tuple]) -> None:
    """What an attacker with the file does: plain SQL on a connection of their own."""
    con = sqlite3.connect(state.path, isolation_level=None)
    try:
        con.execute("BEGIN")
        for sql, params in statements:
            con.execute(sql, params)
        con.execute("COMMIT")
    finally:
        con.close()


def renumber(first: int, by: int) -> list[tuple[str, tuple]]:
    """Move entries ``first``.. by ``by`` places (through negatives: seq is the primary key)."""
    return [
        ("UPDATE audit_log SET seq = -seq WHERE seq >= ?", (first,)),
        ("UPDATE audit_log SET seq = -seq + ? WHERE seq < 0", (by,)),
    ]


def row(state: StateDB, seq: int) -> sqlite3.Row:
    with state.connect() as con:
        return con.execute("SELECT * FROM audit_log WHERE seq = ?", (seq,)).fetchone()


def first_problem(state: StateDB) -> tuple[int, str] | None:
    verdict = verify_audit(state)
    return None if verdict.first is None else (verdict.first.seq, verdict.first.kind)


# -- an untouched log ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_an_untouched_log_always_verifies_and_its_head_is_its_last_entry(batches_):
    state = written(batches_)
    total = sum(len(batch) for batch in batches_)
    verdict = verify_audit(state, all_problems=True)
    assert verdict.ok, verdict.problems
    assert verdict.checked == total
    last = row(state, total)
    assert verdict.head == AuditAnchor(total, last["hash"])
    assert verify_audit(state, expect_head=verdict.head).ok
    # what was appended is what is kept, in order, with the time added
    kept = list(reversed(recent_audit(state, limit=total)))
    flat = [entry for batch in batches_ for entry in batch]
    assert [(r.actor, r.kind, r.subject, r.what, r.result, dict(r.detail)) for r in kept] == [
        (e.actor, e.kind, e.subject, e.what, e.result, dict(e.detail)) for e in flat
    ]


# -- tampering -----------------------------------------------------------------------------------

FIELDS = ["at", "actor", "kind", "subject", "what", "result", "detail", "prev_hash", "hash"]


@st.composite
def tampered(draw):
    """A log and one act of tampering, with the (seq, kind) verify must report first."""
    batches_ = draw(st.lists(st.lists(entries, min_size=1, max_size=6), min_size=1, max_size=4))
    n = sum(len(batch) for batch in batches_)
    act = draw(
        st.sampled_from(["edit", "insert", "forge", "swap", "delete", "delete-renumber", "cut", "empty", "head"])
    )
    k = draw(st.integers(1, n))
    extra: dict = {"k": k}
    if act == "edit":
        extra["field"] = draw(st.sampled_from(FIELDS))
    if act in ("insert", "forge"):
        extra["k"] = draw(st.integers(1, n + 1))
    if act == "swap":
        if n < 2:
            act = "edit"
            extra["field"] = "what"
        else:
            i, j = draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True).map(sorted))
            extra = {"k": i, "j": j}
    return batches_, n, act, extra


def apply(state: StateDB, n: int, act: str, extra: dict) -> tuple[int, str]:
    k = extra["k"]
    if act == "edit":
        column = extra["field"]
        old = row(state, k)[column]
        new = json.dumps({"note": "nothing happened"}) if column == "detail" else old + "!"
        if new == old:
            new = "{}" if old != "{}" else '{"x":1}'
        tamper(state, (f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (new, k)))
        return k, "edited"
    if act in ("insert", "forge"):
        # "forge" computes the hash the way Cyberwell does, chained to the entry before it;
        # "insert" makes one up. Either way the entries from k on move up one.
        prev = GENESIS if k == 1 else row(state, k - 1)["hash"]
        fields = ["2026-12-01T00:00:00+00:00", "mallory", "approval", "alert:x", "approved it", "succeeded", "{}", prev]
        digest = entry_digest(fields, k) if act == "forge" else "f" * 64
        tamper(
            state,
            *renumber(k, 1),
            ("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (k, *fields, digest)),
        )
        return k, "inserted"
    if act == "swap":
        j = extra["j"]
        tamper(
            state,
            ("UPDATE audit_log SET seq = -1 WHERE seq = ?", (k,)),
            ("UPDATE audit_log SET seq = ? WHERE seq = ?", (k, j)),
            ("UPDATE audit_log SET seq = ? WHERE seq = -1", (j,)),
        )
        return k, "reordered"
    if act == "delete":
        tamper(state, ("DELETE FROM audit_log WHERE seq = ?", (k,)))
        return k, "deleted"
    if act == "delete-renumber":
        tamper(state, ("DELETE FROM audit_log WHERE seq = ?", (k,)), *renumber(k + 1, -1))
        return k, "deleted"
    if act == "cut":
        tamper(state, ("DELETE FROM audit_log WHERE seq = ?", (n,)))
        return n, "deleted"
    if act == "empty":
        tamper(state, ("DELETE FROM audit_log", ()))
        return 1, "deleted"
    tamper(state, ("DELETE FROM audit_head", ()))
    return n, "head"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tampered())
def test_verify_names_the_first_tampered_entry_and_what_was_done(case):
    batches_, n, act, extra = case
    state = written(batches_)
    expected = apply(state, n, act, extra)
    verdict = verify_audit(state)
    assert not verdict.ok
    assert verdict.first is not None
    assert (verdict.first.seq, verdict.first.kind) == expected, (act, extra, verdict.first)
    assert len(verdict.problems) == 1  # without --all, the first problem only


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tampered())
def test_all_problems_of_one_act_of_tampering_are_one_problem(case):
    """An insertion near the start shifts every later entry; that is one problem, not a
    thousand, and a swap is one pair."""
    batches_, n, act, extra = case
    state = written(batches_)
    expected = apply(state, n, act, extra)
    problems = verify_audit(state, all_problems=True).problems
    assert [(p.seq, p.kind) for p in problems] == [expected], (act, extra, problems)


def test_messages_say_what_happened_to_which_entry():
    def message(act: str, **extra: int) -> str:
        state = written([[AuditEntry("alice", "triage", f"alert:{i}", "closed", "succeeded") for i in range(50)]])
        apply(state, 50, act, {"field": "what", **extra})
        problem = verify_audit(state).first
        assert problem is not None
        return problem.message

    assert message("edit", k=17) == "entry 17 was edited: its hash does not match its content"
    assert message("cut", k=50) == "entries after 49 were deleted: the head records entry 50"
    assert message("delete", k=30) == "entry 30 was deleted"
    assert message("swap", k=3, j=9) == "entries 3 and 9 were swapped"
    assert message("forge", k=12).startswith("entry 12 was inserted")
    assert message("empty", k=1) == "all 50 entries were deleted: the head records entry 50"
    assert message("head", k=1) == "the audit head was deleted: the log ends at entry 50"


def test_an_edit_stays_visible_after_more_entries_are_appended():
    state = written([[AuditEntry("alice", "approval", "alert:a", "approved", "succeeded")] * 5])
    apply(state, 5, "edit", {"k": 2, "field": "actor"})
    with state.transaction() as con:
        append_audit(con, [AuditEntry("cyberwell serve", "action", "alert:a", "disabled", "succeeded")])
    assert first_problem(state) == (2, "edited")


def test_a_deleted_head_is_reported_where_the_chain_starts_again():
    """Without a head, writing goes on (the council must not stop recording), from genesis
    after the last number, so the restart stays visible when the head is back."""
    state = written([[AuditEntry("alice", "approval", "alert:a", "approved", "succeeded")] * 5])
    tamper(state, ("DELETE FROM audit_head", ()))
    with state.transaction() as con:
        append_audit(con, [AuditEntry("cyberwell serve", "action", "alert:a", "disabled", "succeeded")])
    assert read_head(state) is not None and read_head(state).seq == 6  # type: ignore[union-attr]
    verdict = verify_audit(state)
    assert verdict.first is not None
    assert (verdict.first.seq, verdict.first.kind) == (6, "head")
    assert "head was deleted before entry 6" in verdict.first.message


def test_a_rewritten_log_verifies_alone_but_not_against_the_anchor_kept_elsewhere():
    """Someone who recomputes the whole chain beats the chain; not the head the operator kept."""
    state = written([[AuditEntry("alice", "denial", f"alert:{i}", "denied isolation", "succeeded") for i in range(8)]])
    anchor = verify_audit(state).head
    assert anchor is not None
    tamper(state, ("DELETE FROM audit_log", ()), ("DELETE FROM audit_head", ()))
    with state.transaction() as con:  # the same log, but alice approved instead of denying
        append_audit(
            con, [AuditEntry("alice", "approval", f"alert:{i}", "approved isolation", "succeeded") for i in range(8)]
        )
    assert verify_audit(state).ok
    verdict = verify_audit(state, expect_head=anchor)
    assert verdict.first is not None
    assert (verdict.first.seq, verdict.first.kind) == (8, "anchor")
    assert "no longer leads to the anchor 8:" in verdict.first.message


def test_an_anchor_past_the_end_of_the_log_is_reported():
    state = written([[AuditEntry("alice", "triage", "alert:a", "acknowledged", "succeeded")] * 3])
    verdict = verify_audit(state, expect_head=AuditAnchor(7, "a" * 64))
    assert verdict.first is not None and verdict.first.kind == "anchor"
    assert "entry 7:aaaaaaaaaaaaaaaa… is not in the log" in verdict.first.message


def test_anchor_text_is_parsed_or_refused_with_what_is_expected():
    digest = "AB" * 32
    assert AuditAnchor.parse(f" 12:{digest} ") == AuditAnchor(12, digest.lower())
    for bad in ["12", "x:" + "a" * 64, "0:" + "a" * 64, "3:abc"]:
        with pytest.raises(ValueError, match="SEQ:HASH"):
            AuditAnchor.parse(bad)


# -- what append refuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (AuditEntry("alice", "approve", "alert:a", "x", "succeeded"), "kind must be one of approval, denial"),
        (AuditEntry("  ", "approval", "alert:a", "x", "succeeded"), "the actor is empty"),
        (AuditEntry("alice", "action", "alert:a", "x", "succeeded", {"client_secret": "s3cr3t"}), "detail.client_secret"),
        (AuditEntry("alice", "action", "alert:a", "x", "ok", {"request": {"headers": {"Authorization": "x"}}}), "detail.request.headers.Authorization"),
        (AuditEntry("alice", "action", "alert:a", "x", "ok", {"apiKey": "x"}), "detail.apiKey"),
        (AuditEntry("alice", "action", "alert:a", "x", "ok", {"sent": ["a", "Bearer eyJhbGciOi"]}), "detail.sent[1] holds a credential"),
        (AuditEntry("alice", "delivery", "webhook:1", "x", "failed: Authorization: Basic dXNlcjpwYXNz"), None),
        (AuditEntry("alice", "action", "alert:a", "x", "ok", {"when": object()}), "detail must be JSON-able"),
        (AuditEntry("alice", "action", "alert:a", "x", "ok", {"ratio": float("nan")}), "detail must be JSON-able"),
    ],
)  # fmt: skip
def test_append_refuses_what_the_trail_must_not_hold_and_writes_nothing(entry, says):
    state = written([[AuditEntry("alice", "triage", "alert:a", "acknowledged", "succeeded")]])
    with pytest.raises(ValueError) as refused, state.transaction() as con:
        append_audit(con, [AuditEntry("bob", "triage", "alert:b", "closed", "succeeded"), entry])
    message = str(refused.value)
    assert "audit entry 2" in message
    if says is not None:
        assert says in message
    for secret in ("s3cr3t", "eyJhbGciOi", "dXNlcjpwYXNz"):
        assert secret not in message
    assert verify_audit(state).checked == 1  # the whole batch was refused, and the transaction undone


def test_a_credential_in_the_result_line_is_refused():
    state = new_state()
    with pytest.raises(ValueError, match="result holds a credential"), state.transaction() as con:
        append_audit(con, [AuditEntry("cyberwell deliverer", "delivery", "webhook:1", "post", "Bearer abc.def")])


def test_public_names_that_contain_secret_words_are_kept():
    state = new_state()
    with state.transaction() as con:
        append_audit(
            con,
            [
                AuditEntry(
                    "cyberwell deliverer",
                    "delivery",
                    "webhook:7",
                    "post",
                    "succeeded",
                    {"idempotency_key": "a-1", "key_id": "k1"},
                )
            ],
        )
    assert recent_audit(state)[0].detail == {"idempotency_key": "a-1", "key_id": "k1"}


def test_append_needs_the_callers_transaction():
    state = new_state()
    with state.connect() as con, pytest.raises(ValueError, match=r"open write transaction \(StateDB.transaction\(\)\)"):
        append_audit(con, [AuditEntry("alice", "triage", "alert:a", "closed", "succeeded")])


def test_an_entry_commits_or_rolls_back_with_the_change_it_records():
    state = new_state()
    with pytest.raises(RuntimeError), state.transaction() as con:
        append_audit(con, [AuditEntry("alice", "approval", "playbook-run:1", "approved step 2", "succeeded")])
        raise RuntimeError("the approval itself failed")
    assert read_head(state) is None
    assert verify_audit(state).checked == 0


def test_a_hundred_thousand_entries_are_one_transaction():
    state = new_state()
    batch = [
        AuditEntry("cyberwell deliverer", "delivery", f"webhook:{i}", "post", "succeeded", {"attempts": 1})
        for i in range(100_000)
    ]
    with state.transaction() as con:
        statements: list[str] = []
        con.set_trace_callback(statements.append)
        append_audit(con, batch)
        con.set_trace_callback(None)
        with state.connect() as reader:  # nothing is visible to another process until commit
            assert reader.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    assert sum("INSERT INTO audit_log" in s for s in statements) == 100_000  # one executemany, no commits between
    assert not any(s.strip().upper() in ("COMMIT", "BEGIN", "BEGIN IMMEDIATE") for s in statements)
    verdict = verify_audit(state)
    assert verdict.ok and verdict.checked == 100_000 and verdict.head is not None and verdict.head.seq == 100_000


def test_text_that_cannot_be_stored_is_refused_naming_the_field():
    state = new_state()
    with (
        pytest.raises(ValueError, match=r"audit entry 1 \(triage\): what is not valid text"),
        state.transaction() as con,
    ):
        append_audit(con, [AuditEntry("alice", "triage", "alert:a", "closed \ud800", "succeeded")])


def test_a_refusal_does_not_repeat_the_subject_that_may_hold_the_credential():
    state = new_state()
    with pytest.raises(ValueError) as refused, state.transaction() as con:
        append_audit(con, [AuditEntry("alice", "action", "Bearer abcdefgh", "x", "succeeded")])
    assert "subject holds a credential" in str(refused.value) and "abcdefgh" not in str(refused.value)
