"""The council's devices as Defender and Intune see them: the scenario's laptops, desktops,
phones and tablets (same names and Entra device ids as its sign-ins), the servers in Azure, and
shared desktops to make up a larger estate; with their gaps over the weeks: sensors that stopped
reporting, antivirus signatures out of date, devices not compliant, the last Windows 10 machines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scenario.world.draws import guid, hex_digits
from scenario.world.estate import SERVERS
from scenario.world.tenant import DEVICE_KINDS, Tenant

from .people import Directory
from .plan import EstateSize, fix_weeks, rng, scaled

#: Defender onboards Windows laptops, desktops and servers; Intune manages the clients.
DEFENDER_KINDS = ("laptop", "desktop", "server")
INTUNE_KINDS = ("laptop", "desktop", "phone", "tablet")


@dataclass(frozen=True)
class Gaps:
    """A device's gaps: each open until this week (0: never open; the week count: open to the end)."""

    sensor_silent_until: int = 0
    av_stale_until: int = 0
    noncompliant_until: int = 0
    windows10_until: int = 0


@dataclass(frozen=True)
class Device:
    name: str
    machine_id: str  # Defender's 40-hex machine id
    aad_device_id: str
    kind: str
    owner: str | None  # the primary user's UPN; None for servers and shared desktops
    department: str
    enrolled_at: datetime
    gaps: Gaps = Gaps()

    @property
    def onboarded(self) -> bool:
        return self.kind in DEFENDER_KINDS

    @property
    def managed(self) -> bool:
        return self.kind in INTUNE_KINDS

    @property
    def dns_name(self) -> str:
        suffix = "westbrook.local" if self.kind == "server" else "corp.westbrook-dc.gov.uk"
        return f"{self.name.lower()}.{suffix}"


@dataclass(frozen=True)
class Fleet:
    devices: tuple[Device, ...]

    def onboarded(self) -> list[Device]:
        return [d for d in self.devices if d.onboarded]


def build_fleet(seed: int, size: EstateSize, directory: Directory, first: datetime) -> Fleet:
    draw = rng(seed, "fleet")
    devices = _owned(draw, directory.tenant, directory, first)
    devices += [_device(draw, s.name, "server", None, "IT", first) for s in SERVERS]
    wanted = size.devices
    if wanted is not None and wanted < len(devices):
        devices = devices[:wanted]
    number = 10_000
    while wanted is not None and len(devices) < wanted:
        number += 1
        devices.append(_device(draw, f"WBDC-DT-{number}", "desktop", None, "Shared", first))
    return Fleet(tuple(_with_gaps(draw, devices, directory.weeks)))


def _owned(draw: random.Random, tenant: Tenant, directory: Directory, first: datetime) -> list[Device]:
    """The tenant's people's devices; people the estate adds get one of their department's kind."""
    known = {u.user_id: u for u in tenant.users}
    kinds = {name: code for name, (code, *_rest) in DEVICE_KINDS.items()}
    found: list[Device] = []
    number = 10_000
    for person in directory.people:
        if person.user_type != "Member" or not person.licences or person.left_at or person.record_from_week:
            continue
        user = known.get(person.id)
        if user is not None:
            found += [
                _device(draw, d.name, d.kind, person.upn, person.department, first, d.device_id) for d in user.devices
            ]
            continue
        number += 1
        kind = "laptop" if number % 3 else "desktop"
        found.append(_device(draw, f"WBDC-{kinds[kind]}-{number}", kind, person.upn, person.department, first))
    return found


def _device(
    draw: random.Random, name: str, kind: str, owner: str | None, department: str, first: datetime, aad: str = ""
) -> Device:
    enrolled = first - timedelta(days=draw.randrange(60, 1200))
    return Device(name, hex_digits(draw, 40), aad or guid(draw), kind, owner, department, enrolled)


def _with_gaps(draw: random.Random, devices: list[Device], weeks: int) -> list[Device]:
    """Draw which devices have which gap and the week each closes in."""
    onboarded = [i for i, d in enumerate(devices) if d.onboarded and d.kind != "server"]
    managed = [i for i, d in enumerate(devices) if d.managed]
    population = len(devices)
    gaps: dict[int, dict[str, int]] = {}
    plans = (
        ("sensor_silent_until", onboarded, 14, 4),
        ("av_stale_until", onboarded, 25, 5),
        ("noncompliant_until", managed, 60, 9),
        ("windows10_until", onboarded, 240, 4),
    )
    for field, pool, opening, left in plans:
        chosen = draw.sample(pool, min(len(pool), scaled(opening, 1500, population)))
        remaining = scaled(left, 1500, population, floor=min(left, 3))
        for index, week in zip(chosen, fix_weeks(draw, len(chosen), weeks, remaining)):
            gaps.setdefault(index, {})[field] = week
    return [replace(d, gaps=Gaps(**gaps[i])) if i in gaps else d for i, d in enumerate(devices)]
