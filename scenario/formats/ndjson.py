"""Writing NDJSON: one compact JSON object per line, written in chunks.

A day of sign-ins at benchmark size is hundreds of megabytes of JSON; joining it in chunks keeps
the memory at one chunk while still writing in large blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import orjson


def write_lines(records: Iterable[dict], out: IO[bytes], chunk: int = 20_000) -> int:
    """Write ``records`` to ``out``; returns how many lines were written."""
    dumps, written, lines = orjson.dumps, 0, []
    for record in records:
        lines.append(dumps(record))
        if len(lines) == chunk:
            out.write(b"\n".join(lines) + b"\n")
            written += len(lines)
            lines = []
    if lines:
        out.write(b"\n".join(lines) + b"\n")
        written += len(lines)
    return written
