"""How the stores write files: so that they survive power loss (the embedded store and the syslog
spool both need that) and so that nobody but the user who runs Cyberwell can read them (sign-ins
and firewall logs are personal data)."""

from __future__ import annotations

import os
from pathlib import Path

#: Directories and files the stores create: the user's alone.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def fsync_path(path: Path) -> None:
    """fsync a file or directory by name: a new or renamed entry survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) if it is not there; the ones made here are 0700.

    Parents are made one by one with the mode: ``mkdir(parents=True)`` would give them the
    default one. A directory that already exists keeps its mode: it is the user's choice.
    """
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is not there, for a writer to open after.

    A file is created with its mode (``os.open``), never loosened then tightened, so there is no
    moment when another user could open it. An existing file is left as it is.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    return path
