"""The council's accounts as the evidence sees them: the scenario's staff (same ids, names and
departments as its sign-ins), more people drawn the same way when a larger estate is asked for,
separate administrator accounts, a break-glass account, suppliers' guest accounts, and the gaps:
people not registered for MFA, leavers whose accounts are still enabled, new starters.

Each gap carries the week it closes in (``plan.fix_weeks``); the week count means never.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scenario.world.draws import Weighted, guid
from scenario.world.tenant import CAST, DEPARTMENTS, DOMAIN, GIVEN_NAMES, SURNAMES, Tenant, build_tenant, upn_for

from .plan import EstateSize, fix_weeks, pick, rng, scaled

#: The tenant's initial domain, where break-glass and guest accounts live.
ONMICROSOFT = "westbrookdc.onmicrosoft.com"
IT = "IT"

#: Directory roles: name -> Entra's role template id (the same in every tenant).
ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Intune Administrator": "3a2c62db-5318-420d-8d74-23affee5d9d5",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "Billing Administrator": "b0f54661-2d74-4c50-afa3-1ec803f12efe",  # activated, nobody holds it
    # Left on the security manager's everyday account after a Teams roll-out: the story's
    # administrator without a separate account (admins.separate_accounts, admins.daily_use).
    "Teams Administrator": "69091246-20e8-4a56-aa4d-066075b2a7a8",
}
#: The scenario's cast member whose everyday account holds a role, and the role.
EVERYDAY_ADMIN = ("security_manager", "Teams Administrator")
#: The separate admin accounts' roles, in order; the first goes to the security manager.
ADMIN_ROLES: tuple[tuple[str, ...], ...] = (
    ("Global Administrator", "Security Administrator"),
    ("Exchange Administrator",),  # the account the story leaves without MFA
    ("User Administrator", "Helpdesk Administrator"),
    ("Intune Administrator",),
    ("SharePoint Administrator",),
    ("Helpdesk Administrator",),
)
UNREGISTERED_ADMIN = 1  # index in ADMIN_ROLES
DAILY_USE_ADMIN = 5  # index in ADMIN_ROLES: the admin account also used to read mail
#: Days before the first snapshot the supplier's never-used guest was invited: recent enough
#: that it is never stale (under 90 days at the last snapshot), so only the guest review sees it.
UNUSED_GUEST_INVITED_DAYS = 10


@dataclass(frozen=True)
class Person:
    id: str
    upn: str
    given: str
    surname: str
    department: str
    created_at: datetime
    user_type: str = "Member"
    roles: tuple[str, ...] = ()
    licences: int = 1
    synced: bool = True  # from the on-premises directory; admin and cloud accounts are not
    #: Not registered for MFA until this week (0: registered all along; the week count: never).
    mfa_from_week: int = 0
    #: Left the council at this time; the account stays enabled until ``disabled_week``.
    left_at: datetime | None = None
    disabled_week: int | None = None
    methods: tuple[str, ...] = ("microsoftAuthenticatorPush", "softwareOneTimePasscode")
    #: Entra has a registration record for the account from this week (a new starter's comes
    #: once they first sign in).
    record_from_week: int = 0
    #: An emergency-access account: excluded from Conditional Access, signed in to only when tested.
    break_glass: bool = False
    #: Signs in to everyday apps (mail, Teams, SharePoint); a separate admin account does not.
    everyday_apps: bool = True
    #: An invited guest who never redeemed the invitation: no sign-in at all.
    never_signed_in: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.surname}"

    def present(self, when: datetime) -> bool:
        return self.created_at <= when

    def enabled(self, week: int) -> bool:
        return self.disabled_week is None or week < self.disabled_week

    def registered(self, week: int) -> bool:
        return week >= self.mfa_from_week


@dataclass(frozen=True)
class Directory:
    people: tuple[Person, ...]
    tenant: Tenant
    break_glass_group: str
    weeks: int


def build_directory(seed: int, size: EstateSize, first: datetime, times: Sequence[datetime]) -> Directory:
    """Everyone in the directory over the weeks of ``times`` (``first`` is the first snapshot)."""
    draw = rng(seed, "people")
    tenant = build_tenant(seed)
    weeks = len(times)
    staff = _staff(draw, tenant, size.users, first)
    admins = _admins(draw, staff, first)
    population = len(staff)
    staff = _gaps(draw, staff, weeks, first, population)
    taken = {p.upn for p in staff}
    others = [*_break_glass(draw, first), *_guests(draw, population, first), *_leavers(draw, population, first, taken)]
    starters = _starters(draw, taken, times)
    staff = _everyday_admin(tenant, staff)
    return Directory((*staff, *admins, *others, *starters), tenant, guid(draw), weeks)


def _everyday_admin(tenant: Tenant, staff: list[Person]) -> list[Person]:
    """The story's role on an everyday account (no draw, so every other gap stays where it was)."""
    cast_role, role = EVERYDAY_ADMIN
    holder = tenant.cast[cast_role].user_id
    return [replace(p, roles=(*p.roles, role)) if p.id == holder else p for p in staff]


def _staff(draw: random.Random, tenant: Tenant, wanted: int | None, first: datetime) -> list[Person]:
    taken = {u.upn for u in tenant.users}
    people = [
        Person(u.user_id, u.upn, u.given, u.surname, u.department.name, _joined(draw, first)) for u in tenant.users
    ]
    if wanted is None or wanted == len(people):
        return people
    if wanted < len(people):
        return people[:wanted]  # the cast come first and stay
    departments = Weighted([d.name for d in DEPARTMENTS], [d.headcount for d in DEPARTMENTS])
    for _ in range(wanted - len(people)):
        given, surname = draw.choice(GIVEN_NAMES), draw.choice(SURNAMES)
        upn = upn_for(given, surname, taken)
        people.append(Person(guid(draw), upn, given, surname, departments.pick(draw), _joined(draw, first)))
    return people


def _joined(draw: random.Random, first: datetime) -> datetime:
    return first - timedelta(days=draw.randrange(120, 9 * 365), minutes=draw.randrange(0, 1440))


def _admins(draw: random.Random, staff: list[Person], first: datetime) -> list[Person]:
    """Separate, unlicensed admin accounts (``adm.``) for IT staff, the security manager's first."""
    it_staff = [p for p in staff if p.department == IT]
    holders = it_staff[:1] + pick(draw, it_staff[1:], len(ADMIN_ROLES) - 1)
    found = []
    for index, (holder, roles) in enumerate(zip(holders, ADMIN_ROLES)):
        local = holder.upn.split("@")[0]
        found.append(
            Person(
                guid(draw),
                f"adm.{local}@{DOMAIN}",
                holder.given,
                f"{holder.surname} (admin)",
                IT,
                _joined(draw, first),
                roles=roles,
                licences=0,
                synced=False,
                mfa_from_week=10_000 if index == UNREGISTERED_ADMIN else 0,
                everyday_apps=index == DAILY_USE_ADMIN,
            )
        )
    return found


def _gaps(draw: random.Random, staff: list[Person], weeks: int, first: datetime, population: int) -> list[Person]:
    """People not yet registered for MFA, and leavers whose accounts are still enabled."""
    cast = len(CAST)  # the scenario's story people come first and keep their stories: no new gaps
    candidates = list(range(cast, len(staff)))
    draw.shuffle(candidates)
    unregistered = candidates[: scaled(180, 1500, population)]
    leavers = candidates[len(unregistered) : len(unregistered) + scaled(22, 1500, population)]
    changed = list(staff)
    for index, week in zip(unregistered, fix_weeks(draw, len(unregistered), weeks, scaled(16, 1500, population))):
        changed[index] = replace(changed[index], mfa_from_week=week, methods=("mobilePhone",))
    for index, week in zip(leavers, fix_weeks(draw, len(leavers), weeks, scaled(5, 1500, population, floor=3))):
        left = first - timedelta(days=draw.randrange(100, 260))
        changed[index] = replace(changed[index], left_at=left, disabled_week=week if week < weeks else None)
    return changed


def _break_glass(draw: random.Random, first: datetime) -> list[Person]:
    return [
        Person(
            guid(draw),
            f"breakglass0{n}@{ONMICROSOFT}",
            "Emergency",
            f"Access 0{n}",
            IT,
            first - timedelta(days=1400),
            roles=("Global Administrator",),
            licences=0,
            synced=False,
            methods=("fido2",),
            break_glass=True,
            everyday_apps=False,
        )
        for n in (1, 2)
    ]


SUPPLIERS = ("civica.co.uk", "capita.com", "idox.com", "nec.com")


def _guests(draw: random.Random, population: int, first: datetime) -> list[Person]:
    """Suppliers' staff; guests are not judged for MFA registration, so half have none."""
    found = []
    for n in range(scaled(12, 1500, population)):
        given, surname, domain = draw.choice(GIVEN_NAMES), draw.choice(SURNAMES), draw.choice(SUPPLIERS)
        local = f"{given}.{surname}".lower().replace("'", "")
        invited = first - timedelta(days=draw.randrange(30, 700))
        unused = n == 0  # the first supplier's invitation was never redeemed
        found.append(
            Person(
                guid(draw),
                f"{local}_{domain.replace('.', '_')}#EXT#@{ONMICROSOFT}",
                given,
                surname,
                f"Supplier: {domain}",
                first - timedelta(days=UNUSED_GUEST_INVITED_DAYS) if unused else invited,
                user_type="Guest",
                licences=0,
                synced=False,
                mfa_from_week=0 if n % 2 else 10_000,
                methods=("microsoftAuthenticatorPush",) if n % 2 else (),
                never_signed_in=unused,
            )
        )
    return found


def _leavers(draw: random.Random, population: int, first: datetime, taken: set[str]) -> list[Person]:
    """Accounts of people who left long ago, disabled as they should be."""
    found = []
    for _ in range(scaled(30, 1500, population)):
        given, surname = draw.choice(GIVEN_NAMES), draw.choice(SURNAMES)
        left = first - timedelta(days=draw.randrange(120, 500))
        found.append(
            Person(
                guid(draw),
                upn_for(given, surname, taken),
                given,
                surname,
                draw.choice(DEPARTMENTS).name,
                left - timedelta(days=draw.randrange(400, 3000)),
                left_at=left,
                disabled_week=0,
            )
        )
    return found


def _starters(draw: random.Random, taken: set[str], times: Sequence[datetime]) -> list[Person]:
    """Two new starters a week, created a day or two before the snapshot: no registration record
    that week (Entra has none until they sign in), registered by the next."""
    found = []
    for week, when in enumerate(times):
        for _ in range(2):
            given, surname = draw.choice(GIVEN_NAMES), draw.choice(SURNAMES)
            found.append(
                Person(
                    guid(draw),
                    upn_for(given, surname, taken),
                    given,
                    surname,
                    draw.choice(DEPARTMENTS).name,
                    when - timedelta(hours=draw.randrange(20, 60)),
                    mfa_from_week=week + 1,
                    record_from_week=week + 1,
                )
            )
    return found
