"""GoPhish campaign results through its REST API, one row per recipient per campaign.

``GET /api/campaigns/`` lists the campaigns; ``GET /api/campaigns/:id/results`` gives each one's
results and timeline (docs.getgophish.com, api-documentation/campaigns). GoPhish does not page:
one campaign's results are one answer, so a snapshot holds one campaign's records at a time.

The API key is read when the run starts, from a file (a secret mounted by the service manager)
or an environment variable, and travels only in the ``Authorization`` header (GoPhish accepts
``Bearer <key>``): never in a URL, where a proxy's log would keep it, nor in a message. A 429 or
5xx from a proxy in front of GoPhish is retried as long as ``Retry-After`` asks, within bounds.

:func:`campaign_rows` turns a campaign document into rows; the export reader
(:mod:`collectors.evidence.awareness.gophish_export`) uses it too, so a file and the API give one shape.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from collectors.evidence.awareness.columns import GOPHISH, GOPHISH_COLUMNS
from collectors.evidence.columns import Column
from collectors.evidence.job import EvidenceJob, Records
from microsoft.rest_reader import RestFailure, WaitTooLong, wait_before_retry

RETRYABLE = (429, 500, 502, 503, 504)
#: GoPhish writes Go's zero time for a date it has not set.
UNSET_TIME_PREFIX = "0001-01-01"
#: Timeline messages whose first time per address becomes a column.
TIMELINE_COLUMNS = {
    "Email Sent": "sent_at",
    "Email Opened": "opened_at",
    "Clicked Link": "clicked_at",
    "Submitted Data": "submitted_at",
    "Email Reported": "reported_at",
}


class GophishFailure(RestFailure):
    """GoPhish did not answer with data; ``str()`` is for a person and never holds the key."""


@dataclass(frozen=True)
class GophishEndpoint:
    """Where GoPhish is and where its API key is kept (a file wins over the variable)."""

    base_url: str
    api_key_env: str = "GOPHISH_API_KEY"
    api_key_file: Path | None = None
    verify: str | bool = True  # GoPhish's admin server often has its own certificate: a CA bundle path
    max_retries: int = 4
    max_retry_wait: float = 120.0
    retry_delay: float = 2.0
    timeout: float = 60.0

    def api_key(self, environ: Mapping[str, str]) -> str:
        """The key, or a failure naming where it was looked for (never what was found)."""
        if self.api_key_file is not None:
            try:
                key = self.api_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise GophishFailure(
                    f"cannot read the GoPhish API key file {self.api_key_file}: {exc.strerror}"
                ) from None
            if not key:
                raise GophishFailure(f"the GoPhish API key file {self.api_key_file} is empty")
            return key
        key = environ.get(self.api_key_env, "").strip()
        if not key:
            raise GophishFailure(
                f"no GoPhish API key: set the environment variable {self.api_key_env} or name a key file"
            )
        return key


@dataclass(frozen=True)
class GophishResults:
    """Every campaign's results, as rows of :data:`GOPHISH_COLUMNS`."""

    endpoint: GophishEndpoint
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    sleep: Callable[[float], Any] = field(default=asyncio.sleep, repr=False)
    source: str = GOPHISH
    columns: Sequence[Column] = GOPHISH_COLUMNS

    async def pages(self) -> AsyncGenerator[Records]:
        key = self.endpoint.api_key(self.environ)
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        async with httpx.AsyncClient(
            base_url=self.endpoint.base_url.rstrip("/"),
            headers=headers,
            timeout=self.endpoint.timeout,
            verify=self.endpoint.verify,
        ) as http:
            campaigns = await self._get(http, "/api/campaigns/", "campaigns")
            if not isinstance(campaigns, list):
                raise GophishFailure("GoPhish sent a campaign list that is not a JSON list")
            for campaign in campaigns:
                if not isinstance(campaign, dict) or campaign.get("id") is None:
                    continue
                results = await self._get(http, f"/api/campaigns/{int(campaign['id'])}/results", "campaign results")
                if not isinstance(results, dict):
                    raise GophishFailure(f"GoPhish sent results for campaign {campaign['id']} that are not an object")
                yield campaign_rows({**campaign, **results}, "api")

    async def _get(self, http: httpx.AsyncClient, path: str, what: str) -> Any:
        attempt = 0
        while True:
            try:
                response = await http.get(path)
            except httpx.HTTPError as exc:
                raise GophishFailure(
                    f"cannot reach GoPhish at {self.endpoint.base_url}: {type(exc).__name__} {exc}"
                ) from None
            if response.status_code == 200:
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError:
                    raise GophishFailure(f"GoPhish sent {what} that are not JSON ({path})") from None
            if response.status_code in RETRYABLE and attempt < self.endpoint.max_retries:
                attempt += 1
                await self.sleep(self._wait(response, attempt, what))
                continue
            raise self._failure(response, what, path, attempt)

    def _wait(self, response: httpx.Response, attempt: int, what: str) -> float:
        try:
            return wait_before_retry(response, attempt, self.endpoint.retry_delay, self.endpoint.max_retry_wait)
        except WaitTooLong as long:
            raise GophishFailure(
                f"GoPhish answered {response.status_code} for {what} and asked to wait {long.asked:.0f} s, longer "
                f"than the {self.endpoint.max_retry_wait:.0f} s allowed; try again later",
                response.status_code,
            ) from None

    def _failure(self, response: httpx.Response, what: str, path: str, retries: int) -> GophishFailure:
        status, said = response.status_code, _message(response)
        where = str(self.endpoint.api_key_file) if self.endpoint.api_key_file else self.endpoint.api_key_env
        if status in (401, 403):
            text = f"GoPhish refused the API key for {what} ({status} {said}): check the key in {where}"
        elif status in RETRYABLE:
            text = f"GoPhish kept answering {status} for {what} after {retries} retries"
        else:
            text = f"GoPhish failed listing {what} ({path}): {status} {said}"
        return GophishFailure(text, status)


def _message(response: httpx.Response) -> str:
    """GoPhish's ``{"message": ..., "success": false}``, else the reason phrase."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.reason_phrase
    said = body.get("message") if isinstance(body, dict) else None
    return str(said)[:300] if said else response.reason_phrase


def campaign_rows(campaign: Mapping[str, Any], origin: str) -> Records:
    """One row per result of a GoPhish campaign document (a campaign, or a results answer),
    with the first time of each timeline event for the result's address."""
    firsts = _timeline_firsts(campaign.get("timeline"))
    rows = []
    for result in campaign.get("results") or []:
        if not isinstance(result, dict):
            continue
        email = str(result.get("email") or "").strip().lower() or None
        times = firsts.get(email or "", {})
        rows.append(
            {
                "campaign_id": _text(campaign.get("id")),
                "campaign_name": campaign.get("name"),
                "campaign_status": campaign.get("status"),
                "launched_at": _time(campaign.get("launch_date")),
                "completed_at": _time(campaign.get("completed_date")),
                "result_id": _text(result.get("id")),
                "email": email,
                "position": result.get("position") or None,
                "status": result.get("status"),
                "reported": result.get("reported"),
                "sent_at": times.get("sent_at") or _time(result.get("send_date")),
                "opened_at": times.get("opened_at"),
                "clicked_at": times.get("clicked_at"),
                "submitted_at": times.get("submitted_at"),
                "reported_at": times.get("reported_at"),
                "origin": origin,
            }
        )
    return rows


def _timeline_firsts(timeline: Any) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for event in timeline or []:
        if not isinstance(event, dict):
            continue
        column = TIMELINE_COLUMNS.get(str(event.get("message")))
        moment = _time(event.get("time"))
        email = str(event.get("email") or "").strip().lower()
        if column is None or moment is None or not email:
            continue
        mine = found.setdefault(email, {})
        # A later event can come first in the list; keep the earliest (same zone: compare as time).
        if column not in mine or _earlier(moment, mine[column]):
            mine[column] = moment
    return found


def _earlier(one: str, other: str) -> bool:
    try:
        return datetime.fromisoformat(one) < datetime.fromisoformat(other)
    except ValueError:
        return one < other


def _time(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value.startswith(UNSET_TIME_PREFIX):
        return None
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def jobs(endpoint: GophishEndpoint, environ: Mapping[str, str] | None = None) -> list[EvidenceJob]:
    return [GophishResults(endpoint, os.environ if environ is None else environ)]
