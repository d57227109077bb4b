"""How an audit entry is hashed, and the anchor a person keeps of the chain's head.

Written down once for the writer (``store.state.audit``) and the checker
(``store.state.audit_check``), which must agree byte for byte.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The ``prev_hash`` of entry 1: a fixed value, so a chain that starts elsewhere is visible.
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditAnchor:
    """A point of the chain, ``SEQ:HASH``: kept outside the database, it shows a rewritten log."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditAnchor:
        """``"41:9f86d0..."`` as printed by ``cyberwell audit verify``."""
        seq, colon, digest = text.strip().partition(":")
        if not colon or not seq.isdigit() or int(seq) < 1 or not re.fullmatch(r"[0-9a-f]{64}", digest.lower()):
            raise ValueError(
                f"an audit anchor is SEQ:HASH, an entry number and its 64 hex digit SHA-256, "
                f"as `cyberwell audit verify` prints it; got {text[:100]!r}"
            )
        return cls(int(seq), digest.lower())


def entry_digest(fields: Sequence[str], seq: int) -> str:
    """The hash of an entry: SHA-256 over its text fields as netstrings, then its number.

    ``fields`` are at, actor, kind, subject, what, result, detail (as stored JSON) and prev_hash.
    Netstrings (``len:bytes,``) make the encoding unambiguous whatever the fields hold; the
    number goes last so ``audit_check`` can try other numbers for a moved entry cheaply
    (``seeded_digest``).
    """
    return seeded_digest(fields, seq)[1]


def seeded_digest(fields: Sequence[str], seq: int) -> tuple[Any, str]:
    """The hash state after the fields (to copy and finish with other numbers), and the digest."""
    state = hashlib.sha256(b"cyberwell-audit-v1\n")
    for text in fields:
        data = text.encode("utf-8")
        state.update(b"%d:%b," % (len(data), data))
    finished = state.copy()
    finished.update(b"%d" % seq)
    return state, finished.hexdigest()
