"""What the demo's last week of evidence shows, told from the model that generated it: the
accounts without MFA, the devices with an overdue fix, the risky firewall rule... A report
judged over the snapshots must find exactly these (tests/reports/test_demo_evidence.py holds it to
them), and the demo can say what to look for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .council import Council
from .tables.devices import WINDOWS_10, os_of
from .tables.firewall import RISKY_FROM_WEEK, RISKY_RULE

STALE_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class EvidenceStory:
    """The gaps open at the last snapshot; names sorted, devices by their DNS names."""

    users_without_mfa: tuple[str, ...]  # enabled member accounts not registered
    admins_without_mfa: tuple[str, ...]
    stale_accounts: tuple[str, ...]  # enabled, no sign-in for 90 days
    disabled_accounts: int
    legacy_accounts: tuple[str, ...]  # successful legacy-protocol sign-ins in the last week
    overdue_devices: tuple[str, ...]  # a high or critical fix first seen over 14 days ago
    sensor_inactive: tuple[str, ...]
    antivirus_out_of_date: tuple[str, ...]
    noncompliant_devices: tuple[str, ...]
    windows_10_devices: tuple[str, ...]
    risky_rules: tuple[str, ...]  # any source to a management port
    unused_guests: tuple[str, ...]  # enabled guests never signed in to (an invitation never redeemed)
    everyday_admins: tuple[str, ...]  # a directory role held on a licensed everyday account
    daily_use_admins: tuple[str, ...]  # administrators signing in to mail, Teams, SharePoint or Office
    unmanaged_devices: tuple[str, ...]  # Entra device ids that sign in but neither Intune nor Defender knows
    users: int  # accounts in the last users snapshot
    devices: int  # devices Defender or Intune knows


def tell(council: Council) -> EvidenceStory:
    last, at = len(council.times) - 1, council.times[-1]
    people = [p for p in council.directory.people if p.present(at)]
    members = [p for p in people if p.enabled(last) and p.user_type == "Member"]
    onboarded = council.fleet.onboarded()
    return EvidenceStory(
        users_without_mfa=tuple(sorted(p.upn for p in members if not p.registered(last))),
        admins_without_mfa=tuple(sorted(p.upn for p in people if p.roles and not p.registered(last))),
        stale_accounts=tuple(
            sorted(p.upn for p in people if p.enabled(last) and p.left_at is not None and p.left_at < at - STALE_AFTER)
        ),
        disabled_accounts=sum(1 for p in people if not p.enabled(last)),
        legacy_accounts=tuple(sorted(u.person.upn for u in council.legacy if last < u.stops_week)),
        overdue_devices=tuple(
            sorted(onboarded[lag.device].dns_name for lag in council.overdue if last < lag.fixed_week)
        ),
        sensor_inactive=tuple(sorted(d.dns_name for d in onboarded if last < d.gaps.sensor_silent_until)),
        antivirus_out_of_date=tuple(sorted(d.dns_name for d in onboarded if last < d.gaps.av_stale_until)),
        noncompliant_devices=tuple(
            sorted(d.name for d in council.fleet.devices if d.managed and last < d.gaps.noncompliant_until)
        ),
        windows_10_devices=tuple(sorted(d.dns_name for d in onboarded if os_of(d, last) == WINDOWS_10)),
        risky_rules=(RISKY_RULE,) if last >= RISKY_FROM_WEEK else (),
        unused_guests=tuple(sorted(p.upn for p in people if p.user_type == "Guest" and p.never_signed_in)),
        everyday_admins=tuple(sorted(p.upn for p in people if p.roles and p.licences)),
        daily_use_admins=tuple(sorted(p.upn for p in people if p.roles and p.everyday_apps and p.enabled(last))),
        unmanaged_devices=(council.personal_device.device[0],),
        users=len(people),
        devices=len(council.fleet.devices),
    )
