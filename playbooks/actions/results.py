"""How an action's failure reads, the same for every action: what was being done, what the
service answered, and what a person can do about it (a 403 names the permission to grant).

``retryable`` is set where trying again later may help: throttling and unavailability that
outlasted the client's own retries, a timeout, a refused connection, a concurrent change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbooks.actions.base import ActionResult

#: Statuses that say "not now" rather than "no".
TRY_LATER = frozenset({408, 409, 412, 429, 500, 502, 503, 504})


def refused(
    doing: str,
    status: int | None,
    code: str | None,
    said: str,
    permission: str,
    retry_after: float | None = None,
    detail: Mapping[str, Any] | None = None,
) -> ActionResult:
    """The result of a request the service answered with an error while ``doing`` something
    ("disabling a.user@council.gov.uk")."""
    shown = f"{status} {code or ''}".strip()
    if status == 403:
        summary = f"{doing} was refused ({shown}: {said}): the app needs {permission}"
    elif status == 401:
        summary = f"{doing} failed: the service did not accept the access token ({shown}: {said}), twice"
    elif status == 404:
        summary = f"{doing} failed: not found ({shown}: {said})"
    elif status in TRY_LATER:
        wait = f"; it asked to wait {retry_after:.0f} s" if retry_after is not None else ""
        summary = f"{doing} failed for now ({shown}: {said}){wait}; trying again later may succeed"
    else:
        summary = f"{doing} failed ({shown}: {said})"
    facts: dict[str, Any] = {"status": status, "code": code, **(detail or {})}
    if retry_after is not None:
        facts["retry_after"] = retry_after
    return ActionResult("failed", summary, facts, retryable=status in TRY_LATER)


def unreachable(doing: str, why: str) -> ActionResult:
    """The service did not answer at all (``why`` is already safe to show)."""
    return ActionResult("failed", f"{doing} failed: {why}", {"status": None}, retryable=True)
