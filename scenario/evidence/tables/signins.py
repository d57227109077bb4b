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

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scenario.world.estate import AREA_OFFICE, CIVIC_CENTRE, DEPOT, LEISURE

from ..estate.fleet import Fleet
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
#: Where separate administrator accounts sign in: the admin portals, never mail or Teams.
ADMIN_APPS = np.array(
    ["Azure Portal", "Microsoft Entra admin center", "Microsoft Intune", "Microsoft 365 admin center"]
)
MODERN = np.array(["Browser", "Mobile Apps and Desktop clients"])
LEGACY = ("IMAP4", "Exchange ActiveSync", "Authenticated SMTP")
#: (errorCode, share): success, wrong password, MFA required, interrupted.
RESULTS = ((0, 0.95), (50126, 0.03), (50074, 0.01), (50140, 0.01))
ADDRESSES = np.array([CIVIC_CENTRE.egress_ip, DEPOT.egress_ip, LEISURE.egress_ip, AREA_OFFICE.egress_ip, "192.0.2.88"])
SPRAY_IP = "203.0.113.77"
LEGACY_AT_END = 2  # besides the scenario's own legacy user


#: Entra's deviceDetail.operatingSystem per kind of device.
SIGN_IN_OS = {"laptop": "Windows10", "desktop": "Windows10", "phone": "Android", "tablet": "Ios"}
#: (deviceId, displayName, operatingSystem): a device Entra does not know signs in with an empty id.
SignInDevice = tuple[str, str | None, str | None]
UNKNOWN_DEVICE: SignInDevice = ("", None, None)


@dataclass(frozen=True)
class PersonalDevice:
    """The story's personal tablet: registered in Entra by its owner, enrolled in neither Intune
    nor Defender, reaching mail every week (scope.device_inventory)."""

    owner_id: str
    device: SignInDevice


def sign_in_devices(
    fleet: Fleet, directory: Directory, seed: int
) -> tuple[dict[str, tuple[SignInDevice, ...]], PersonalDevice]:
    """Each person's devices as sign-ins name them, the personal tablet among its owner's."""
    found: dict[str, list[SignInDevice]] = {}
    owners = {p.upn: p.id for p in directory.people}
    for device in fleet.devices:
        if device.owner in owners and device.kind in SIGN_IN_OS:
            found.setdefault(owners[device.owner], []).append(
                (device.aad_device_id, device.name, SIGN_IN_OS[device.kind])
            )
    cast = {u.user_id for u in directory.tenant.cast.values()}
    owner = next(pid for pid in found if pid not in cast)
    tablet = PersonalDevice(
        owner, (str(uuid.UUID(bytes=hashlib.sha256(f"personal-tablet:{seed}".encode()).digest()[:16])), "iPad", "Ios")
    )
    found[owner].append(tablet.device)
    return {pid: tuple(devices) for pid, devices in found.items()}, tablet


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
    directory: Directory,
    seed: int,
    week: int,
    taken_at: datetime,
    count: int,
    legacy: tuple[LegacyUser, ...],
    devices: Mapping[str, tuple[SignInDevice, ...]],
) -> pa.Table:
    people = [
        p
        for p in directory.people
        if p.present(taken_at) and p.enabled(week) and p.left_at is None and not p.never_signed_in
    ]
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
    return _table(people, parts, draw, seed, week, taken_at, devices)


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
    devices: Mapping[str, tuple[SignInDevice, ...]],
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
    clients = parts["client"].astype(str)
    legacy = np.isin(clients, LEGACY)
    # Drawn for every row, then set where the story decides, so no other column's draw moves.
    apps = APPS[draw.choice(len(APPS), count, p=APP_WEIGHTS)]
    admin_only = np.array([not p.everyday_apps for p in people], bool)[parts["user"]]
    apps = np.where(admin_only, ADMIN_APPS[np.arange(count) % len(ADMIN_APPS)], apps)
    device = _devices(people, parts["user"], legacy, devices)
    prefix = f"{seed & 0xFFFFFFFF:08x}-{week:04x}-4000-8000-"
    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(count), pa.int64()), pa.string()), 12, "0")
    return pa.table(
        {
            "id": pc.binary_join_element_wise(pa.array([prefix] * count, pa.string()), numbers, ""),
            "created_at": times,
            "user_id": ids,
            "user_principal_name": upns,
            "app_display_name": pa.array(apps),
            "client_app_used": pa.array(clients),
            "is_interactive": pa.array((draw.random(count) < 0.7) | legacy),
            "error_code": errors,
            "conditional_access_status": pc.if_else(pc.equal(errors, 0), "success", "notApplied"),
            "ip_address": pa.array(parts["ip"].astype(str)),
            # Not in Graph v1.0's signIn, so not collected (collectors/evidence/legacy_signins.py).
            "authentication_requirement": pa.nulls(count, pa.string()),
            "device_id": pa.array(device[0], pa.string()),
            "device_name": pa.array(device[1], pa.string()),
            "device_operating_system": pa.array(device[2], pa.string()),
        },
        schema=SCHEMAS[SIGNINS],
    )


def _devices(
    people: list[Person], users: np.ndarray, legacy: np.ndarray, devices: Mapping[str, tuple[SignInDevice, ...]]
) -> list[np.ndarray]:
    """Each row's (device id, name, operating system): the person's devices in turn, row by row;
    none for a legacy client or a person with no device (admin, guest and break-glass accounts)."""
    choices = [devices.get(p.id, (UNKNOWN_DEVICE,)) for p in people]
    width = max((len(c) for c in choices), default=1)
    slots = np.arange(len(users)) % width
    columns: list[np.ndarray] = []
    for part in range(3):
        table = np.array([[c[i % len(c)][part] for i in range(width)] for c in choices] or [[None]], dtype=object)
        picked = table[users, slots] if len(people) else np.empty(0, dtype=object)
        picked[legacy] = UNKNOWN_DEVICE[part]
        columns.append(picked)
    return columns
