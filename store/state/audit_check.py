"""Checking the audit trail: walk the chain and say what was done to it, and where.

Each entry's hash covers its number, so for an entry whose hash does not fit where it stands
the checker asks where it *was* written (trying nearby numbers first: the number is hashed
last, so each try costs one small SHA-256 update). That tells apart

- an **edited** entry: its hash fits no number at all (``entry 17 was edited``);
- **inserted** entries: the entries after them were all written that many places earlier;
- a **reordered** pair: one entry written as a later number, its partner as an earlier one;
- **deleted** entries: a gap in the numbers, later entries written further on, or a log that
  ends before its head says; and a missing **head**, or a chain that starts again from genesis
  because the head was deleted before the next entry was written;
- and, with an anchor the operator kept elsewhere, a log rewritten wholesale (**anchor**).

The walk reads the log in chunks of ``CHUNK`` rows inside one read transaction (a consistent
snapshot while ``serve`` keeps appending) and holds only the current row and what is pending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from store.state.audit_chain import GENESIS, AuditAnchor, seeded_digest
from store.state.database import StateDB

CHUNK = 5000
#: How many numbers the checker may try in all to place moved entries (~0.5 µs each); past it
#: an entry whose hash does not fit is reported as edited.
SEARCH_BUDGET = 4_000_000
#: Problems kept in one verdict; a log shifted by an insertion near its start needs only one.
MAX_PROBLEMS = 1000

ProblemKind = Literal["edited", "inserted", "reordered", "deleted", "head", "anchor"]


@dataclass(frozen=True)
class AuditProblem:
    """One kind of tampering at one place: ``seq`` is the first entry number it concerns."""

    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class AuditVerdict:
    """What ``verify_audit`` found: ``ok`` when the chain is whole and leads to its head."""

    checked: int
    head: AuditAnchor | None
    problems: tuple[AuditProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> AuditProblem | None:
        return self.problems[0] if self.problems else None


def verify_audit(state: StateDB, *, expect_head: AuditAnchor | None = None, all_problems: bool = False) -> AuditVerdict:
    """Walk the whole chain; return the first problem (or every one, ``all_problems``).

    ``expect_head`` is an anchor kept outside the database: the chain must still hold that
    entry with that hash, which a rewrite of the whole file cannot fake.
    """
    with state.connect() as con:
        con.execute("BEGIN")  # one snapshot for the head and every chunk
        try:
            head_row = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            head = None if head_row is None else AuditAnchor(int(head_row[0]), str(head_row[1]))
            (top,) = con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()
            walk = _Walk(bound=max(int(top), head.seq if head else 0) + 1000, anchor=expect_head)
            for row in _rows(con):
                walk.see(row)
            walk.finish(head)
        finally:
            con.execute("ROLLBACK")
    problems = walk.problems if all_problems else walk.problems[:1]
    return AuditVerdict(checked=walk.checked, head=head, problems=tuple(problems))


@dataclass(frozen=True)
class _Row:
    seq: int
    fields: tuple[str, ...]  # at, actor, kind, subject, what, result, detail, prev_hash
    hash: str

    @property
    def prev_hash(self) -> str:
        return self.fields[-1]


def _rows(con: sqlite3.Connection) -> Iterator[_Row]:
    after = 0
    while True:
        chunk = con.execute(
            "SELECT seq, at, actor, kind, subject, what, result, detail, prev_hash, hash FROM audit_log"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, CHUNK),
        ).fetchall()
        for row in chunk:
            yield _Row(int(row[0]), tuple(str(value) for value in row[1:9]), str(row[9]))
        if len(chunk) < CHUNK:
            return
        after = int(chunk[-1][0])


@dataclass
class _Seen:
    """A row as judged: where it stands, where it was written (None: nowhere fits)."""

    seq: int
    written: int | None
    hash: str
    troubled: bool = False


@dataclass
class _Walk:
    bound: int
    anchor: AuditAnchor | None
    problems: list[AuditProblem] = field(default_factory=list)
    checked: int = 0
    offset: int = 0  # seq - written seq, changed by insertions and renumbered deletions
    budget: int = SEARCH_BUDGET
    last: _Seen | None = None
    shift: _Seen | None = None  # a row out of place, waiting for the next to say shift or move
    moved: dict[int, int] = field(default_factory=dict)  # seq -> written seq of moved rows
    anchored: str | None = None
    top: tuple[int, str] = (0, GENESIS)  # the highest written number seen, and its entry's hash

    def see(self, row: _Row) -> None:
        self.checked += 1
        shift = self.shift
        written = self._written(row, row.seq - (shift.seq - shift.written if shift and shift.written else self.offset))
        seen = _Seen(row.seq, written, row.hash)
        if shift is not None:
            self._settle_shift(seen)
        expected = row.seq - self.offset
        prev_seq = self.last.seq if self.last else 0
        if row.seq > prev_seq + 1 and (written is None or written == expected):
            self._report(prev_seq + 1, "deleted", _gone(prev_seq + 1 - self.offset, row.seq - 1 - self.offset))
            seen.troubled = True
        if written is None:
            self._report(row.seq, "edited", f"entry {row.seq} was edited: its hash does not match its content")
            seen.troubled = True
        elif written != expected:
            self._out_of_place(seen, written)
        elif not self._linked(row) and not seen.troubled and not (self.last and self.last.troubled):
            self._broken_link(row)
            seen.troubled = True
        if written is not None:
            if written >= self.top[0]:  # on a tie the later row: the forged one sits before
                self.top = (written, row.hash)
            if self.anchor is not None and written == self.anchor.seq:
                self.anchored = row.hash
        self.last = seen

    def finish(self, head: AuditAnchor | None) -> None:
        if self.shift is not None:
            self._settle_shift(None)
        for seq, written in sorted(self.moved.items()):
            self._report(seq, "reordered", f"entry {seq} is out of order: it was written as entry {written}")
        self._check_head(head)
        self._check_anchor()
        self.problems.sort(key=lambda problem: problem.seq)

    # -- placing a row --------------------------------------------------------------------

    def _written(self, row: _Row, expected: int) -> int | None:
        """The number this row was written as: ``expected`` if its hash fits there, else the
        nearest that fits, else None (its content changed)."""
        state, digest = seeded_digest(row.fields, expected)
        if digest == row.hash:
            return expected
        for candidate in _around(expected, self.bound):
            if self.budget <= 0:
                return None
            self.budget -= 1
            trial = state.copy()
            trial.update(b"%d" % candidate)
            if trial.hexdigest() == row.hash:
                return candidate
        return None

    def _linked(self, row: _Row) -> bool:
        return row.prev_hash == (self.last.hash if self.last else GENESIS)

    def _out_of_place(self, seen: _Seen, written: int) -> None:
        seen.troubled = True
        partner = self.moved.pop(written, None)
        if partner == seen.seq:
            self._report(written, "reordered", f"entries {written} and {seen.seq} were swapped")
        elif partner is not None:
            self.moved[written] = partner
            self.moved[seen.seq] = written
        else:
            self.shift = seen  # the next row says whether everything after moved with it

    def _settle_shift(self, following: _Seen | None) -> None:
        """A row stood where it was not written: if the next row follows it, the rest of the
        log moved (entries inserted, or deleted and renumbered); if not, it alone moved."""
        candidate, self.shift = self.shift, None
        assert candidate is not None and candidate.written is not None
        continues = following is None or (
            following.written is not None and following.written - candidate.written == following.seq - candidate.seq
        )
        if not continues:
            self.moved[candidate.seq] = candidate.written
            return
        moved_by = candidate.seq - candidate.written - self.offset
        expected = candidate.seq - self.offset
        self.offset = candidate.seq - candidate.written
        if moved_by > 0:
            first = candidate.seq - moved_by
            self.problems = [p for p in self.problems if not (p.kind == "edited" and first <= p.seq < candidate.seq)]
            self._report(first, "inserted", _inserted(first, candidate.seq - 1, candidate.written))
        else:
            self._report(
                candidate.seq,
                "deleted",
                f"{_gone(expected, candidate.written - 1)}, and the later entries renumbered: "
                f"entry {candidate.seq} was written as {candidate.written}",
            )

    def _broken_link(self, row: _Row) -> None:
        if row.prev_hash == GENESIS:
            self._report(
                row.seq,
                "head",
                f"the audit head was deleted before entry {row.seq} was written: the chain starts again there",
            )
        else:
            before = row.seq - 1
            self._report(
                before,
                "edited",
                f"entry {before} was replaced (its hash was recomputed): entry {row.seq} was chained to a different entry",
            )

    # -- the end ---------------------------------------------------------------------------

    def _check_head(self, head: AuditAnchor | None) -> None:
        last = self.last
        if last is None:
            if head is not None:
                self._report(1, "deleted", f"all {head.seq} entries were deleted: the head records entry {head.seq}")
            return
        if head is None:
            self._report(last.seq, "head", f"the audit head was deleted: the log ends at entry {last.seq}")
            return
        # Where the log ends: the latest entry written, or where the last row stands if it was
        # added after that (a forged entry at the end whose hash fits nowhere).
        written = max(self.top[0], last.seq - self.offset)
        if written < head.seq:
            self._report(
                written + 1, "deleted", f"entries after {written} were deleted: the head records entry {head.seq}"
            )
        elif written > head.seq:
            first = head.seq + 1 + self.offset
            self.problems = [p for p in self.problems if not (p.kind == "edited" and p.seq >= first)]
            self._report(
                first,
                "inserted",
                f"entries after {head.seq} were added without the head: the head records entry {head.seq}, "
                f"the log ends at {written}",
            )
        elif self.top[0] == written and self.top[1] != head.hash:
            self._report(
                head.seq, "head", f"the head does not match entry {head.seq}: the entry was replaced or the head edited"
            )

    def _check_anchor(self) -> None:
        if self.anchor is None:
            return
        short = f"{self.anchor.seq}:{self.anchor.hash[:16]}…"
        if self.anchored is None:
            self._report(self.anchor.seq, "anchor", f"the anchored entry {short} is not in the log any more")
        elif self.anchored != self.anchor.hash:
            self._report(
                self.anchor.seq,
                "anchor",
                f"the chain no longer leads to the anchor {short}: the log was rewritten up to entry {self.anchor.seq}",
            )

    def _report(self, seq: int, kind: ProblemKind, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(AuditProblem(seq, kind, message))


def _around(centre: int, bound: int) -> Iterator[int]:
    """1..bound by distance from ``centre``: a shifted entry is usually one or two away."""
    for distance in range(1, bound + 1):
        below, above = centre - distance, centre + distance
        if below < 1 and above > bound:
            return
        if below >= 1:
            yield below
        if above <= bound:
            yield above


def _gone(first: int, last: int) -> str:
    return f"entry {first} was deleted" if first == last else f"entries {first} to {last} were deleted"


def _inserted(first: int, last: int, written: int) -> str:
    what = f"entry {first} was inserted" if first == last else f"entries {first} to {last} were inserted"
    return f"{what}: the entry after it was written as {written}"
