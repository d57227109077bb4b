"""The sign-in evidence of one week: the week's window of the sign-in log as the evidence job
keeps it (client app, result, Conditional Access), built in bulk with numpy and Arrow because a
large tenant's week is a million rows.

Almost everyone signs in with modern clients. The story's legacy-protocol successes come from a
handful of people still on IMAP or ActiveSync (the scenario's Derek Ashworth among them: his
story is legacy authentication); most move to modern clients over the weeks, a few do not.
Failed legacy attempts (a slow password spray over IMAP) are there too: the check must count
only what got in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scenario.estate import AREA_OFFICE, CIVIC_CENTRE, DEPOT, LEISURE

from ..estate.people import Directory, Person
from ..estate.plan import bulk_rng, fix_weeks, rng, scaled
from .schemas import SCHEMAS, SIGNINS

APPS = np.array(
    [
        "Office 365 Exchange Online",
        "Microsoft Teams",
        "Office 365 SharePoint Online",
        "Microsoft Office",
        "Windows Sign In",
    ]
)
APP_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)
MODERN = np.array(["Browser", "Mobile Apps and Desktop clients"])
LEGACY = ("IMAP4", "Exchange ActiveSync", "Authenticated SMTP")
#: (errorCode, share): success, wrong password, MFA required, interrupted.
RESULTS = ((0, 0.95), (50126, 0.03), (50074, 0.01), (50140, 0.01))
ADDRESSES = np.array([CIVIC_CENTRE.egress_ip, DEPOT.egress_ip, LEISURE.egress_ip, AREA_OFFICE.egress_ip, "192.0.2.88"])
SPRAY_IP = "203.0.113.77"
LEGACY_AT_END = 2  # besides the scenario's own legacy user


@dataclass(frozen=True)
class LegacyUser:
    person: Person
    protocol: str
    stops_week: int  # moves to a modern client in this week (the week count: never)


def legacy_users(directory: Directory, seed: int, weeks: int) -> tuple[LegacyUser, ...]:
    draw = rng(seed, "legacy")
    story = directory.tenant.cast["legacy"].user_id
    cast = {u.user_id for u in directory.tenant.cast.values()}
    staff = [p for p in directory.people if _ordinary(p) and p.id not in cast and p.mfa_from_week == 0]
    chosen = draw.sample(staff, min(len(staff), scaled(9, 1500, len(staff))))
    closing = fix_weeks(draw, len(chosen), weeks, LEGACY_AT_END)
    found = [LegacyUser(p, LEGACY[n % len(LEGACY)], week) for n, (p, week) in enumerate(zip(chosen, closing))]
    derek = next(p for p in directory.people if p.id == story)
    return (LegacyUser(derek, "IMAP4", weeks), *found)


def _ordinary(person: Person) -> bool:
    return person.user_type == "Member" and person.licences > 0 and person.left_at is None and not person.roles


def signins(
    directory: Directory, seed: int, week: int, taken_at: datetime, count: int, legacy: tuple[LegacyUser, ...]
) -> pa.Table:
    people = [p for p in directory.people if p.present(taken_at) and p.enabled(week) and p.left_at is None]
    draw = bulk_rng(seed, f"signins-{week}")
    position = {p.id: i for i, p in enumerate(people)}
    still = [u for u in legacy if week < u.stops_week and u.person.id in position]
    legacy_ok = min(count, 6 * len(still))
    spray = min(count - legacy_ok, max(0, count // 500))
    modern = count - legacy_ok - spray
    who = draw.integers(0, len(people), modern)
    codes = draw.choice([c for c, _ in RESULTS], modern, p=[s for _, s in RESULTS])
    parts = {
        "user": np.concatenate([who, _legacy_index(position, still, legacy_ok), draw.integers(0, len(people), spray)]),
        "client": np.concatenate(
            [
                MODERN[draw.integers(0, 2, modern)],
                np.array([u.protocol for u in still for _ in range(6)][:legacy_ok], dtype=object),
                np.full(spray, "IMAP4", dtype=object),
            ]
        ),
        "error": np.concatenate([codes, np.zeros(legacy_ok, np.int64), np.full(spray, 50126)]),
        "ip": np.concatenate(
            [
                ADDRESSES[draw.integers(0, len(ADDRESSES), modern)],
                np.full(legacy_ok, ADDRESSES[4]),
                np.full(spray, SPRAY_IP),
            ]
        ),
    }
    return _table(people, parts, draw, seed, week, taken_at)


def _legacy_index(position: dict[str, int], still: list[LegacyUser], rows: int) -> np.ndarray:
    found = [position[u.person.id] for u in still for _ in range(6)]
    return np.array(found[:rows], np.int64)


def _table(
    people: list[Person],
    parts: dict[str, np.ndarray],
    draw: np.random.Generator,
    seed: int,
    week: int,
    taken_at: datetime,
) -> pa.Table:
    count = len(parts["user"])
    users = pa.array(parts["user"], pa.int64())
    ids = pa.array([p.id for p in people], pa.string()).take(users)
    upns = pa.array([p.upn for p in people], pa.string()).take(users)
    start = taken_at - timedelta(days=7)
    micros = np.sort(draw.integers(0, 7 * 86_400_000_000, count))
    times = pa.array(micros + int(start.timestamp() * 1_000_000), pa.int64()).cast(
        SCHEMAS[SIGNINS].field("created_at").type
    )
    errors = pa.array(parts["error"], pa.int64())
    prefix = f"{seed & 0xFFFFFFFF:08x}-{week:04x}-4000-8000-"
    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(count), pa.int64()), pa.string()), 12, "0")
    return pa.table(
        {
            "id": pc.binary_join_element_wise(pa.array([prefix] * count, pa.string()), numbers, ""),
            "created_at": times,
            "user_id": ids,
            "user_principal_name": upns,
            "app_display_name": pa.array(APPS[draw.choice(len(APPS), count, p=APP_WEIGHTS)]),
            "client_app_used": pa.array(parts["client"].astype(str)),
            "is_interactive": pa.array(draw.random(count) < 0.7),
            "error_code": errors,
            "conditional_access_status": pc.if_else(pc.equal(errors, 0), "success", "notApplied"),
            "ip_address": pa.array(parts["ip"].astype(str)),
        },
        schema=SCHEMAS[SIGNINS],
    )
