"""How much of a directory of third-party sample logs a parser stores, and why it refuses the rest.

    .venv/bin/python bench/parser_tolerance.py DIR [DIR ...] --source syslog [--by file|kind]

Not a test: a check to run on public samples that the parsers were not fitted to (vendor samples,
other projects' parser fixtures), to see what a new user would see. Every file under each ``DIR``
is a sample set:

* a ``.json`` file with ``input.message`` (the test-case layout of SEKOIA-IO/intake-formats) is one
  record, that message; one with ``events[].message`` (Elastic's ingest-pipeline test inputs)
  is one record per event; a message that is a JSON document is not a line of this source and
  is counted as skipped, not as a failure;
* any other file (``.log``, ``.txt``, gzip...) is ingested whole, as ``cyberwell ingest`` would.

Each record is written to a file of its own and read with the source kind's ``parse_file`` (the
same parser ``cyberwell ingest --source KIND`` uses), so records cannot affect one another. The
report prints, per kind (the folder under ``DIR``, two levels deep) or per file: records, stored,
quarantined, the share stored and the most common quarantine reasons, then the total.
Paths are arguments: nothing here needs a sample directory to exist at import time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.formats.registry import source_format  # noqa: E402

#: Quarantine reasons are grouped by their words, not their values (line numbers, lengths, excerpts).
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


@dataclass
class Tally:
    """What one sample set (a file or a kind) gave."""

    records: int = 0
    stored: int = 0
    quarantined: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.records += other.records
        self.stored += other.stored
        self.quarantined += other.quarantined
        self.skipped += other.skipped
        self.reasons.update(other.reasons)

    @property
    def share(self) -> float:
        return self.stored / self.records if self.records else 1.0


def samples(path: Path) -> Iterator[bytes] | None:
    """The records of one sample file as bytes to ingest; None when it holds none of them (a
    SEKOIA case whose message is a JSON document)."""
    if path.suffix == ".json":
        try:
            case = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            case = None
        messages = _messages(case)
        if messages is not None:
            lines = [m for m in messages if isinstance(m, str) and not m.lstrip().startswith(("{", "["))]
            return iter([m.encode("utf-8") for m in lines]) if lines else None
    return iter([path.read_bytes()])


def _messages(case: object) -> list | None:
    """The raw messages of a test case in one of the layouts above, or None."""
    if not isinstance(case, dict):
        return None
    if isinstance(case.get("input"), dict) and "message" in case["input"]:
        return [case["input"]["message"]]
    if isinstance(case.get("events"), list):
        return [event.get("message") for event in case["events"] if isinstance(event, dict)]
    return None


def measure(path: Path, source: str, scratch: Path) -> Tally:
    """Ingest every record of one sample file through the source kind's parser."""
    parse = source_format(source).parse_file
    tally = Tally()
    records = samples(path)
    if records is None:
        tally.skipped += 1
        return tally
    for index, data in enumerate(records):
        copy = scratch / f"{index}-{path.name}"
        copy.write_bytes(data)
        batch = parse(copy)
        copy.unlink()
        tally.stored += batch.count
        tally.quarantined += len(batch.quarantined)
        tally.reasons.update(_VALUES.sub("…", q.reason)[:110] for q in batch.quarantined)
    tally.records = tally.stored + tally.quarantined
    return tally


def kind_of(path: Path, root: Path) -> str:
    """The sample set a file belongs to: its folder under ``root``, two levels deep."""
    parts = path.relative_to(root).parent.parts
    return "/".join((root.name, *parts[:2]))


def report(rows: dict[str, Tally], top: int) -> str:
    width = max((len(name) for name in rows), default=10)
    lines = [f"{'set':<{width}}  records  stored  quarant.  skipped  stored%  top reasons"]
    total = Tally()
    for name in sorted(rows):
        tally = rows[name]
        total.add(tally)
        reasons = "; ".join(f"{count}× {reason}" for reason, count in tally.reasons.most_common(top))
        lines.append(
            f"{name:<{width}}  {tally.records:7}  {tally.stored:6}  {tally.quarantined:8}  {tally.skipped:7}"
            f"  {100 * tally.share:6.1f}%  {reasons}"
        )
    lines.append(
        f"{'TOTAL':<{width}}  {total.records:7}  {total.stored:6}  {total.quarantined:8}  {total.skipped:7}"
        f"  {100 * total.share:6.1f}%"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="directories of sample files")
    parser.add_argument("--source", default="syslog", help="source kind, as for cyberwell ingest --source")
    parser.add_argument("--by", choices=("kind", "file"), default="kind")
    parser.add_argument("--top", type=int, default=3, help="quarantine reasons shown per set")
    args = parser.parse_args()
    rows: dict[str, Tally] = defaultdict(Tally)
    with tempfile.TemporaryDirectory(prefix="cyberwell-tolerance-") as scratch:
        for root in args.dirs:
            if not root.is_dir():
                parser.error(f"{root} is not a directory of samples")
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                name = str(path.relative_to(root.parent)) if args.by == "file" else kind_of(path, root)
                rows[name].add(measure(path, args.source, Path(scratch)))
    print(report(rows, args.top))


if __name__ == "__main__":
    main()
