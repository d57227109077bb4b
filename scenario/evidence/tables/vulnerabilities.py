"""Missing security updates of one week, as Defender's vulnerability export lists them: one row
per device, software and CVE, built in bulk (numpy indices, Arrow ``take``), since a large estate
has tens of thousands.

Three kinds of row:

- **this month's fixes**: each Patch Tuesday's CVEs appear on every Windows device the day after
  release and go as each device installs them, within 1 to 12 days: never overdue;
- **overdue fixes**: a few dozen laggard devices with a critical or high fix first seen weeks ago,
  put right one by one over the weeks until the three the story leaves open;
- **medium fixes** that stay open (CVSS under 7: not in the 14-day rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..estate.fleet import Device, Fleet
from ..estate.plan import bulk_rng, fix_weeks, rng, scaled
from .devices import os_of
from .schemas import SCHEMAS, VULNERABILITIES

#: Devices left with an overdue fix at the end: the story's "3 devices with a critical fix older than 14 days".
OVERDUE_AT_END = 3
MAX_INSTALL_DAYS = 12  # every device installs a month's fixes within this many days


@dataclass(frozen=True)
class Finding:
    vendor: str
    software: str
    version: str
    cve: str
    severity: str
    cvss: float
    update: str


#: The laggards' overdue fixes (one per device, by its position).
OVERDUE = (
    Finding("google", "chrome", "124.0.6367.60", "CVE-2024-4671", "Critical", 9.6, "Update Chrome to 124.0.6367.201"),
    Finding("mozilla", "firefox", "125.0.1", "CVE-2024-4367", "High", 8.8, "Update Firefox to 126.0"),
    Finding("microsoft", "edge_chromium", "124.0.2478.51", "CVE-2024-4947", "Critical", 9.6, "Update Edge to 125.0"),
)
MEDIUM = Finding("7-zip", "7-zip", "23.01", "CVE-2023-52168", "Medium", 5.5, "Update 7-Zip to 24.07")


@dataclass(frozen=True)
class Laggard:
    device: int  # index among the onboarded devices
    finding: Finding
    first_seen: datetime
    fixed_week: int


def laggards(fleet: Fleet, seed: int, weeks: int, first: datetime) -> tuple[Laggard, ...]:
    draw = rng(seed, "laggards")
    pool = [i for i, d in enumerate(fleet.onboarded()) if d.kind != "server"]
    chosen = draw.sample(pool, min(len(pool), scaled(40, 1500, len(fleet.devices))))
    closing = fix_weeks(draw, len(chosen), weeks, OVERDUE_AT_END)
    return tuple(
        Laggard(index, OVERDUE[n % len(OVERDUE)], first - timedelta(days=draw.uniform(20, 45)), week)
        for n, (index, week) in enumerate(zip(chosen, closing))
    )


def patch_tuesday(when: datetime) -> datetime:
    """The last Patch Tuesday (second Tuesday, 17:00 UTC) at least a day before ``when``."""
    year, month = when.year, when.month
    for _ in range(2):
        first = datetime(year, month, 1, 17, tzinfo=UTC)
        tuesday = first + timedelta(days=(1 - first.weekday()) % 7 + 7)
        if tuesday <= when - timedelta(days=1):
            return tuesday
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    raise AssertionError("a Patch Tuesday is never two months away")


def _cycle(released: datetime, platform: str) -> list[Finding]:
    kb = f"KB50{released.year % 100:02d}{released.month:02d}"
    software = {"Windows11": "windows_11", "Windows10": "windows_10"}.get(platform, "windows_server_2022")
    base = 21_000 + released.month * 400
    return [
        Finding("microsoft", software, "10.0", f"CVE-{released.year}-{base + k}", severity, cvss, kb + str(k))
        for k, (severity, cvss) in enumerate((("Critical", 9.8), ("High", 8.1), ("High", 7.8)))
    ]


def vulnerabilities(
    fleet: Fleet, seed: int, week: int, taken_at: datetime, overdue: tuple[Laggard, ...], first: datetime
) -> pa.Table:
    devices = fleet.onboarded()
    columns = _DeviceColumns(devices, week)
    parts = [_this_month(devices, columns, seed, taken_at)]
    open_overdue = [lag for lag in overdue if week < lag.fixed_week]
    parts += [_rows(columns, np.array([lag.device]), lag.finding, lag.first_seen, taken_at) for lag in open_overdue]
    medium = np.nonzero(bulk_rng(seed, "medium").random(len(devices)) < 0.35)[0]
    parts.append(_rows(columns, medium, MEDIUM, first - timedelta(days=100), taken_at))
    return pa.concat_tables(parts)


class _DeviceColumns:
    """The onboarded devices' id, name and platform in one week, as Arrow arrays to take from."""

    def __init__(self, devices: list[Device], week: int):
        self.platforms_list = [os_of(d, week)[0] for d in devices]
        self.ids = pa.array([d.machine_id for d in devices], pa.string())
        self.names = pa.array([d.dns_name for d in devices], pa.string())
        self.platforms = pa.array(self.platforms_list, pa.string())


def _this_month(devices: list[Device], columns: _DeviceColumns, seed: int, taken_at: datetime) -> pa.Table:
    released = patch_tuesday(taken_at)
    delays = bulk_rng(seed, f"patch-{released:%Y%m}").uniform(1, MAX_INSTALL_DAYS, len(devices))
    age = (taken_at - released).total_seconds() / 86_400
    pending = np.nonzero(delays > age)[0]
    seen = released + timedelta(hours=8)
    by_platform: dict[str, list[int]] = {}
    for index in pending.tolist():
        by_platform.setdefault(columns.platforms_list[index], []).append(index)
    tables = [
        _rows(columns, np.array(indices), finding, seen, taken_at)
        for platform, indices in sorted(by_platform.items())
        for finding in _cycle(released, platform)
    ]
    return pa.concat_tables(tables) if tables else SCHEMAS[VULNERABILITIES].empty_table()


def _rows(
    columns: _DeviceColumns, indices: np.ndarray, finding: Finding, first_seen: datetime, taken_at: datetime
) -> pa.Table:
    """One row of ``finding`` on each device of ``indices``, built column by column."""
    count = len(indices)
    take = pa.array(indices, pa.int64())
    ids, names, platforms = columns.ids.take(take), columns.names.take(take), columns.platforms.take(take)
    suffix = f"_{finding.vendor}_{finding.software}_{finding.version}_{finding.cve}"

    def same(value: object, kind: pa.DataType) -> pa.Array:
        return pa.array([value] * count, kind) if count else pa.array([], kind)

    values = {
        "id": pc.binary_join_element_wise(ids, same(suffix, pa.string()), ""),
        "device_id": ids,
        "device_name": names,
        "os_platform": platforms,
        "software_vendor": same(finding.vendor, pa.string()),
        "software_name": same(finding.software, pa.string()),
        "software_version": same(finding.version, pa.string()),
        "cve_id": same(finding.cve, pa.string()),
        "severity": same(finding.severity, pa.string()),
        "cvss_score": same(finding.cvss, pa.float64()),
        "exploitability_level": same("NoKnownExploit", pa.string()),
        "security_update_available": same(True, pa.bool_()),
        "recommended_security_update": same(finding.update, pa.string()),
        "recommended_security_update_id": same(finding.update.split()[-1], pa.string()),
        "first_seen": same(first_seen, SCHEMAS[VULNERABILITIES].field("first_seen").type),
        "last_seen": same(taken_at - timedelta(hours=5), SCHEMAS[VULNERABILITIES].field("last_seen").type),
    }
    return pa.table(values, schema=SCHEMAS[VULNERABILITIES])
