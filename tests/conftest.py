"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    candidates = [
        os.environ.get("CYBERWELL_SHARED_DATA"),
        REPO.parent / "shared" / "data",
        "/work/shared/data",
    ]
    for candidate in candidates:
        if candidate and Path(candidate, "README.md").is_file():
            return Path(candidate)
    raise RuntimeError(
        "third-party sample data not found: set CYBERWELL_SHARED_DATA to the shared/data folder"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Third-party sample data (../shared/data): sources and licences in its README.

    The samples are used in place, not copied into this repository: some carry licences that
    allow use as local test fixtures but not redistribution.
    """
    return _shared_data_dir()
