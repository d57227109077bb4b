"""Sigma regular expressions (RE2 syntax, a search) as Lucene regular expressions.

The Lucene backend (detections/backends/lucene_backend.py) needs ``|re`` to select on Elasticsearch what
RE2 selects on the embedded store. Lucene's regexps match the whole term and have no flags; RE2's
search a string. A pattern is split into its top-level alternatives; each is translated piece by
piece and, unless anchored, surrounded by '.*'. Flags are applied while translating: (?i) turns
letters into classes of both cases, without (?s) '.' excludes the newline, (?m) lets '^'/'$' match
at line breaks. What has no exact translation (look-around, back-references, ``\\b``, anchors
inside the pattern) is a ValueError saying why, so that the rule is refused rather than run with
another meaning.
"""

from __future__ import annotations

import re
from typing import Literal

from sigma.types import SigmaRegularExpressionFlag

_LUCENE_SPECIALS = set('.?+*|{}[]()"\\#@&<>~^$-')  # '/' is escaped last, for the query parser
_SHORTHANDS = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\n\f\r"}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAG_LETTERS = {
    "i": SigmaRegularExpressionFlag.IGNORECASE,
    "m": SigmaRegularExpressionFlag.MULTILINE,
    "s": SigmaRegularExpressionFlag.DOTALL,
}


def translate_regex(pattern: str, flags=()) -> str:
    """An RE2/Sigma search pattern as an equivalent Lucene regexp; ValueError when there is none."""
    flags = set(flags)
    leading = re.match(r"\(\?([ims]+)\)", pattern)
    if leading:
        flags |= {_FLAG_LETTERS[letter] for letter in leading.group(1)}
        pattern = pattern[leading.end() :]
    reader = _RegexReader(pattern, flags)
    branches = reader.alternatives(top=True)
    if reader.position != len(pattern):
        raise ValueError(f"unbalanced ')' at position {reader.position}")
    return "|".join(f"({branch})" for branch in branches)


def _literal(char: str, fold: bool) -> str:
    variants = _case_variants(char) if fold else [char]
    if len(variants) > 1:
        return "[" + "".join(_class_char(v) for v in variants) + "]"
    return "\\" + char if char in _LUCENE_SPECIALS else char


def _case_variants(char: str) -> list[str]:
    found = [char]
    for other in (char.lower(), char.upper(), char.swapcase()):
        if len(other) == 1 and other not in found:
            found.append(other)
    return found


def _class_char(char: str) -> str:
    return "\\" + char if char in _LUCENE_SPECIALS or char in "^-]" else char


class _RegexReader:
    """A recursive-descent reader of the RE2 subset that Lucene can express."""

    def __init__(self, pattern: str, flags: set):
        self.p, self.position = pattern, 0
        self.fold = SigmaRegularExpressionFlag.IGNORECASE in flags
        self.dotall = SigmaRegularExpressionFlag.DOTALL in flags
        self.multiline = SigmaRegularExpressionFlag.MULTILINE in flags

    def peek(self) -> str | None:
        return self.p[self.position] if self.position < len(self.p) else None

    def take(self) -> str:
        char = self.p[self.position]
        self.position += 1
        return char

    def alternatives(self, top: bool) -> list[str]:
        branches = [self.branch(top)]
        while self.peek() == "|":
            self.take()
            branches.append(self.branch(top))
        return branches

    def branch(self, top: bool) -> str:
        # An anchor at the branch's start or end: none, the text's, or a line's (multiline).
        anchored_start: bool | Literal["multiline"] = False
        anchored_end: bool | Literal["multiline"] = False
        if top and self.peek() == "^":
            self.take()
            anchored_start = "multiline" if self.multiline else True
        elif top and self.p.startswith("\\A", self.position):
            self.position += 2
            anchored_start = True
        pieces = []
        while (char := self.peek()) is not None and char not in "|)":
            if top and self.peek() == "$" and self._ends_branch(self.position + 1):
                self.take()
                anchored_end = "multiline" if self.multiline else True
                break
            if top and self.p.startswith("\\z", self.position) and self._ends_branch(self.position + 2):
                self.position += 2
                anchored_end = True
                break
            pieces.append(self.piece())
        body = "".join(pieces)
        if not top:
            return body
        prefix = {False: ".*", True: "", "multiline": "(.*\n)?"}[anchored_start]
        suffix = {False: ".*", True: "", "multiline": "(\n.*)?"}[anchored_end]
        return f"{prefix}({body}){suffix}" if body else (prefix + suffix if prefix + suffix else '""')

    def _ends_branch(self, index: int) -> bool:
        return index >= len(self.p) or self.p[index] == "|"

    def piece(self) -> str:
        atom = self.atom()
        char = self.peek()
        quantifier = ""
        if char in ("*", "+", "?"):
            quantifier = self.take()
        elif char == "{":
            match = _QUANTIFIER.match(self.p, self.position)
            if match:
                low, comma, high = match.group(1), match.group(2), match.group(3)
                if comma and high and int(high) < int(low):
                    raise ValueError(f"bad repetition {match.group(0)}")
                quantifier = match.group(0)
                self.position = match.end()
        if quantifier:
            if self.peek() == "?":
                self.take()  # lazy or greedy select the same strings
            elif self.peek() == "+":
                raise ValueError("possessive quantifiers are not RE2 syntax")
            if self.peek() in ("*", "+", "?") or (self.peek() == "{" and _QUANTIFIER.match(self.p, self.position)):
                raise ValueError("a repeated quantifier")
            return f"({atom}){quantifier}" if len(atom) > 1 and not atom.startswith("[") else atom + quantifier
        return atom

    def atom(self) -> str:
        char = self.take()
        if char == ".":
            return "." if self.dotall else "[^\n]"
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group()
        if char == "\\":
            return self.escape()
        if char in "^$":
            raise ValueError(f"the anchor {char!r} is only translated at the start or end of the pattern")
        if char in "*+?":
            raise ValueError(f"nothing to repeat at position {self.position - 1}")
        if char == "{" and _QUANTIFIER.match(self.p, self.position - 1):
            raise ValueError(f"nothing to repeat at position {self.position - 1}")
        return _literal(char, self.fold)

    def group(self) -> str:
        if self.p.startswith("?:", self.position):
            self.position += 2
        elif self.p.startswith("?P<", self.position) or (
            self.p.startswith("?<", self.position) and self.p[self.position + 2 : self.position + 3] not in ("=", "!")
        ):
            end = self.p.find(">", self.position)
            if end < 0:
                raise ValueError("unterminated group name")
            self.position = end + 1
        elif self.peek() == "?":
            raise ValueError("look-around and inline flags inside the pattern have no Lucene equivalent")
        inner = self.alternatives(top=False)
        if self.peek() != ")":
            raise ValueError("missing ')'")
        self.take()
        return "(" + "|".join(branch or '""' for branch in inner) + ")"

    def escape(self) -> str:
        if self.peek() is None:
            raise ValueError("a trailing backslash")
        char = self.take()
        if char.lower() in _SHORTHANDS:
            return ("[^" if char.isupper() else "[") + _class_body(_SHORTHANDS[char.lower()]) + "]"
        if char in _CHAR_ESCAPES:
            return _literal(_CHAR_ESCAPES[char], self.fold)
        if char in "xu":
            return _literal(self.code_point(char), self.fold)
        if char.isalnum():
            raise ValueError(f"the escape \\{char} has no Lucene equivalent")
        return _literal(char, self.fold)

    def code_point(self, kind: str) -> str:
        if kind == "x" and self.peek() == "{":
            end = self.p.find("}", self.position)
            digits, self.position = self.p[self.position + 1 : end], end + 1
        else:
            width = 2 if kind == "x" else 4
            digits = self.p[self.position : self.position + width]
            self.position += width
        try:
            return chr(int(digits, 16))
        except ValueError:
            raise ValueError(f"bad escape \\{kind}{digits}") from None

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.take()
        items: list[tuple[str, str]] = []  # (low, high) ranges
        parts: list[str] = []
        first = True
        while True:
            if self.peek() is None:
                raise ValueError("missing ']'")
            char = self.take()
            if char == "]" and not first:
                break
            first = False
            if char == "[" and self.peek() == ":":
                raise ValueError("POSIX classes ([:alpha:]) are not translated")
            if char == "\\":
                escaped = self.take() if self.peek() is not None else ""
                if escaped.lower() in _SHORTHANDS:
                    if escaped.isupper():
                        raise ValueError(f"\\{escaped} inside a class has no Lucene equivalent")
                    parts.append(_class_body(_SHORTHANDS[escaped]))
                    continue
                char = _CHAR_ESCAPES.get(escaped) or (self.code_point(escaped) if escaped in "xu" else escaped)
                if escaped.isalnum() and escaped not in _CHAR_ESCAPES and escaped not in "xu":
                    raise ValueError(f"the escape \\{escaped} has no Lucene equivalent")
            low = char
            if self.peek() == "-" and self.p[self.position + 1 : self.position + 2] not in ("]", ""):
                self.take()
                high = self.take()
                if high == "\\":
                    escaped = self.take()
                    high = _CHAR_ESCAPES.get(escaped) or (self.code_point(escaped) if escaped in "xu" else escaped)
                if ord(high) < ord(low):
                    raise ValueError(f"bad range {low}-{high}")
                items.append((low, high))
            else:
                items.append((low, low))
        if self.fold:
            items += self._folded(items)
        body = "".join(
            _class_char(low) if low == high else f"{_class_char(low)}-{_class_char(high)}" for low, high in items
        ) + "".join(parts)
        return ("[^" if negated else "[") + body + "]"

    @staticmethod
    def _folded(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        extra = []
        for low, high in items:
            if ord(high) - ord(low) > 0x3000:
                raise ValueError("a case-insensitive class range too wide to translate")
            for code in range(ord(low), ord(high) + 1):
                for variant in _case_variants(chr(code))[1:]:
                    extra.append((variant, variant))
        return extra


def _class_body(chars: str) -> str:
    """Shorthand class contents; only '0-9'-style ranges are written as ranges."""
    out, index = [], 0
    while index < len(chars):
        if index + 2 < len(chars) and chars[index + 1] == "-":
            out.append(f"{_class_char(chars[index])}-{_class_char(chars[index + 2])}")
            index += 3
        else:
            out.append(_class_char(chars[index]))
            index += 1
    return "".join(out)
