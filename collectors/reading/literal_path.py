"""A file's path as DuckDB's readers must be given it: a name that means that one file only.

DuckDB's ``read_json``, ``read_csv`` and ``read_json_objects`` read their path as a glob pattern
(``*``, ``?``, ``[...]``, ``**``), expand a leading ``~`` and take ``scheme://`` for a remote
file system, so ``arr[1].json`` reads ``arr1.json`` and ``signins*.json`` reads its siblings.
DuckDB 2.0 has no switch to read a path literally, and escaping (``[[]``) still lists the folder
and leaves ``~`` and schemes as they are. So a path that is not plainly safe is handed over as a
symbolic link with a safe name, in a private temporary folder made for the read; a path of safe
characters (the usual case) is handed over as it is, costing nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Characters that mean nothing to DuckDB's globbing or file-system dispatch, in an absolute path.
_SAFE = re.compile(r"/[A-Za-z0-9_./+-]*")


def is_plain(name: str) -> bool:
    """Whether DuckDB reads ``name`` (an absolute path) as exactly that one file."""
    return _SAFE.fullmatch(name) is not None and "/~" not in name


@contextmanager
def duckdb_path(path: Path) -> Iterator[str]:
    """A path DuckDB reads as exactly ``path``, whatever characters its name has, for the
    duration of the ``with`` block (a reader that streams must finish inside it)."""
    name = os.path.abspath(path)
    if is_plain(name):
        yield name
        return
    folder = tempfile.mkdtemp(prefix="cyberwell-read-")
    try:
        link = os.path.join(folder, "export")
        os.symlink(name, link)
        if not is_plain(link):  # the temporary folder itself has a name DuckDB would misread
            raise OSError(f"temporary folder {folder!r} has a name DuckDB reads as a pattern; set TMPDIR")
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)
