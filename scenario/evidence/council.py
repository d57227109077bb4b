"""The demo council's estate over the weeks, built once per call: its directory, its devices and
the gaps drawn for them, and the table each evidence source gets in a week."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

import scenario.evidence.tables.devices as devices
import scenario.evidence.tables.directory as directory
import scenario.evidence.tables.firewall as firewall
import scenario.evidence.tables.phishing as phishing
import scenario.evidence.tables.schemas as schemas
import scenario.evidence.tables.signins as signins
import scenario.evidence.tables.vulnerabilities as vulnerabilities

from .estate.fleet import Fleet, build_fleet
from .estate.people import Directory, build_directory
from .estate.plan import EstateSize

#: A source's table in a week: (week number, snapshot time) -> rows.
Build = Callable[[int, datetime], pa.Table]


@dataclass(frozen=True)
class Council:
    seed: int
    size: EstateSize
    times: tuple[datetime, ...]
    directory: Directory
    fleet: Fleet
    overdue: tuple[vulnerabilities.Laggard, ...]
    legacy: tuple[signins.LegacyUser, ...]
    sign_in_devices: Mapping[str, tuple[signins.SignInDevice, ...]]
    personal_device: signins.PersonalDevice

    @property
    def first(self) -> datetime:
        return self.times[0]

    def builders(self) -> Mapping[str, Build]:
        """Every source the demo writes, in the order written."""
        seed, people, fleet, times = self.seed, self.directory, self.fleet, self.times
        return {
            schemas.USERS: lambda w, t: directory.users(people, seed, w, t),
            schemas.REGISTRATION: lambda w, t: directory.registration(people, w, t),
            schemas.ROLES: lambda w, t: directory.roles(people, seed, t),
            schemas.POLICIES: lambda w, t: directory.policies(people, seed, t),
            schemas.SIGNINS: lambda w, t: signins.signins(
                people, seed, w, t, self.size.signins_per_week, self.legacy, self.sign_in_devices
            ),
            schemas.MACHINES: lambda w, t: devices.machines(fleet, seed, w, t),
            schemas.ANTIVIRUS: lambda w, t: devices.antivirus(fleet, seed, w, t),
            schemas.INTUNE: lambda w, t: devices.intune(fleet, seed, w, t),
            schemas.VULNERABILITIES: lambda w, t: vulnerabilities.vulnerabilities(
                fleet, seed, w, t, self.overdue, self.first
            ),
            schemas.SOFTWARE_EOL: lambda w, t: devices.software_eol(fleet, seed, w, t),
            schemas.FIREWALL_RULES: lambda w, t: firewall.firewall_rules(w),
            schemas.ATTACK_SIMULATION: lambda w, t: phishing.attack_simulation(people, seed, w, times),
            schemas.GOPHISH: lambda w, t: phishing.gophish(people, seed, w, times),
        }


def build_council(seed: int, size: EstateSize, times: tuple[datetime, ...]) -> Council:
    people = build_directory(seed, size, times[0], times)
    fleet = build_fleet(seed, size, people, times[0])
    overdue = vulnerabilities.laggards(fleet, seed, size.weeks, times[0])
    legacy = signins.legacy_users(people, seed, size.weeks)
    devices, personal = signins.sign_in_devices(fleet, people, seed)
    return Council(seed, size, times, people, fleet, overdue, legacy, devices, personal)
