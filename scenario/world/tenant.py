"""The council: its people in departments, their devices and where they work from.

About 1,500 staff and councillors of a fictional district council, Westbrook District Council
(``westbrook-dc.gov.uk``). The people the attack stories happen to (the "cast") are fixed
whatever the seed, so the alerts the stories must raise can be written down once
(expected_alerts.yaml); everyone else is drawn from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import scenario.world.estate as estate
from scenario.world.draws import Weighted, guid, rng_for
from scenario.world.places import GB_PLACES, HOME_V4_PREFIX, HOME_V6_PREFIX, Place
from scenario.world.vocabulary import (
    UA_ANDROID_OUTLOOK,
    UA_EDGE_WINDOWS,
    UA_IOS_OUTLOOK,
    UA_IOS_SAFARI,
    UA_WINDOWS_CLIENT,
)

DOMAIN = "westbrook-dc.gov.uk"
TENANT_ID = "6d3c2b1a-48f0-4e1f-9a7c-5b2d0e8f4c31"

MEMBERS = "Democratic Services (members/councillors)"


@dataclass(frozen=True)
class Department:
    name: str
    headcount: int
    site: estate.Site
    activity: float  # sign-ins per person relative to an office worker
    device: str  # primary device kind: laptop, desktop, phone, tablet
    phone_share: float  # share of people who also have a council phone


DEPARTMENTS: tuple[Department, ...] = (
    Department("Planning", 120, estate.CIVIC_CENTRE, 1.2, "laptop", 0.3),
    Department("Revenues & Benefits", 200, estate.CIVIC_CENTRE, 1.2, "laptop", 0.1),
    Department("Waste & Recycling", 260, estate.DEPOT, 0.4, "phone", 0.0),
    Department("Housing", 180, estate.CIVIC_CENTRE, 1.0, "laptop", 0.4),
    Department("Environmental Health", 100, estate.CIVIC_CENTRE, 1.0, "laptop", 0.5),
    Department(MEMBERS, 62, estate.CIVIC_CENTRE, 0.5, "tablet", 0.0),
    Department("IT", 45, estate.CIVIC_CENTRE, 2.0, "laptop", 0.6),
    Department("Finance", 70, estate.CIVIC_CENTRE, 1.2, "laptop", 0.1),
    Department("HR", 40, estate.CIVIC_CENTRE, 1.2, "laptop", 0.1),
    Department("Customer Services", 160, estate.AREA_OFFICE, 1.2, "desktop", 0.0),
    Department("Leisure", 230, estate.LEISURE, 0.5, "desktop", 0.1),
)
_BY_NAME = {d.name: d for d in DEPARTMENTS}

#: Of the Democratic Services headcount, how many are elected members (the rest are officers).
COUNCILLORS = 48

DEVICE_KINDS = {
    # kind: (name code, operatingSystem, trustType, desktop browser, user agent, browser UA)
    "laptop": ("LT", "Windows 10", "Azure AD joined", "Edge 125.0.2535", UA_WINDOWS_CLIENT, UA_EDGE_WINDOWS),
    "desktop": ("DT", "Windows 10", "Azure AD joined", "Edge 125.0.2535", UA_WINDOWS_CLIENT, UA_EDGE_WINDOWS),
    "phone": ("MB", "Android", "Azure AD registered", "Rich Client 5.4.0", UA_ANDROID_OUTLOOK, UA_ANDROID_OUTLOOK),
    "tablet": ("TB", "Ios", "Azure AD registered", "Mobile Safari 17.5", UA_IOS_OUTLOOK, UA_IOS_SAFARI),
}


@dataclass(frozen=True)
class Device:
    name: str  # e.g. WBDC-LT-0421
    number: int
    kind: str
    device_id: str  # Entra device id
    site: estate.Site
    internal_ip: str
    operating_system: str
    trust_type: str
    client_ua: str
    browser_ua: str
    # deviceDetail as Graph writes it, once for rich clients and once for browsers; shared.
    detail_client: dict = field(repr=False, compare=False, default_factory=dict)
    detail_browser: dict = field(repr=False, compare=False, default_factory=dict)


def make_device(kind: str, number: int, site: estate.Site, device_id: str) -> Device:
    code, os_name, trust, browser, client_ua, browser_ua = DEVICE_KINDS[kind]
    name = f"WBDC-{code}-{number:04d}"
    base = {"deviceId": device_id, "displayName": name, "operatingSystem": os_name}
    tail = {"isCompliant": True, "isManaged": True, "trustType": trust}
    client_browser = "Rich Client 5.4.0" if kind in ("laptop", "desktop") else browser
    return Device(
        name=name,
        number=number,
        kind=kind,
        device_id=device_id,
        site=site,
        internal_ip=estate.client_ip(site, number),
        operating_system=os_name,
        trust_type=trust,
        client_ua=client_ua,
        browser_ua=browser_ua,
        detail_client={**base, "browser": client_browser, **tail},
        detail_browser={**base, "browser": browser, **tail},
    )


@dataclass(frozen=True)
class User:
    index: int
    given: str
    surname: str
    upn: str
    user_id: str
    department: Department
    is_councillor: bool
    home: Place
    home_ip: str
    devices: tuple[Device, ...]
    activity: float
    # The Graph/LA identity fields, serialised once.
    graph: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.surname}"

    @property
    def primary(self) -> Device:
        return self.devices[0]


@dataclass(frozen=True)
class CastMember:
    """A person a story happens to: the same whatever the seed."""

    role: str
    given: str
    surname: str
    department: str
    user_id: str
    device_kind: str
    device_number: int
    home: Place
    home_ip: str


CAST: tuple[CastMember, ...] = (
    CastMember(
        "mfa_fatigue",
        "Hannah",
        "Whitfield",
        "Revenues & Benefits",
        "0b1f4e2a-6c3d-4f7e-8a9b-1c2d3e4f5a01",
        "laptop",
        1187,
        GB_PLACES[1],
        "192.0.2.31",
    ),
    CastMember(
        "compromised",
        "Gareth",
        "Llewellyn",
        "Planning",
        "0b1f4e2a-6c3d-4f7e-8a9b-1c2d3e4f5a02",
        "laptop",
        2036,
        GB_PLACES[0],
        "192.0.2.47",
    ),
    CastMember(
        "legacy",
        "Derek",
        "Ashworth",
        "Housing",
        "0b1f4e2a-6c3d-4f7e-8a9b-1c2d3e4f5a03",
        "laptop",
        1552,
        GB_PLACES[4],
        "192.0.2.58",
    ),
    CastMember(
        "malware",
        "Karen",
        "Doyle",
        "Housing",
        "0b1f4e2a-6c3d-4f7e-8a9b-1c2d3e4f5a04",
        "laptop",
        421,
        GB_PLACES[2],
        "192.0.2.66",
    ),
    CastMember(
        "security_manager",
        "Priya",
        "Raman",
        "IT",
        "0b1f4e2a-6c3d-4f7e-8a9b-1c2d3e4f5a05",
        "laptop",
        3310,
        GB_PLACES[5],
        "192.0.2.72",
    ),
)

GIVEN_NAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Leo Alfie Henry Joshua "
    "Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas Mohammed "
    "Dylan Theo Adam Benjamin Matthew Sebastian Tom Mark Paul Andrew David Richard Stephen Peter "
    "Michael Christopher Simon Ian Neil Gary Lee Craig Darren Wayne Kevin Martin Rajesh Sanjay Amir "
    "Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella Sophie Jessica "
    "Charlotte Chloe Lucy Ruby Freya Alice Florence Hannah Sarah Emma Laura Rebecca Claire Rachel "
    "Helen Nicola Joanne Karen Susan Julie Alison Louise Kirsty Gemma Zoe Natalie Priya Aisha Fatima "
    "Siobhan Megan Bethan Rhiannon Catriona Eilidh Anna Margaret Janet Pauline"
).split()
SURNAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
    "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner "
    "Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott "
    "Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson "
    "Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams "
    "Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell "
    "Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens "
    "Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews "
    "Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson "
    "O'Brien O'Connor Cartwright Okafor Adeyemi Nowak Kowalski"
).split()


def upn_for(given: str, surname: str, taken: set[str]) -> str:
    """firstname.lastname@domain, with a number when the name is already taken (as councils do)."""
    stem = f"{given}.{surname}".lower().replace("'", "").replace(" ", "")
    upn, n = f"{stem}@{DOMAIN}", 1
    while upn in taken:
        n += 1
        upn = f"{stem}{n}@{DOMAIN}"
    taken.add(upn)
    return upn


@dataclass(frozen=True)
class Tenant:
    users: tuple[User, ...]
    cast: dict[str, User]  # role -> user
    domain: str = DOMAIN
    tenant_id: str = TENANT_ID


def _identity(user_id: str, display: str, upn: str) -> dict:
    return {"userDisplayName": display, "userPrincipalName": upn, "userId": user_id}


def build_tenant(seed: int) -> Tenant:
    """The council's people and devices; the cast first, then everyone else drawn from ``seed``."""
    rng = rng_for(seed, "tenant")
    taken: set[str] = set()
    numbers = _asset_numbers(rng)
    homes = Weighted(GB_PLACES, (30, 14, 12, 6, 8, 6, 5, 4, 4, 2))
    users: list[User] = []
    cast: dict[str, User] = {}

    for member in CAST:
        dept = _BY_NAME[member.department]
        upn = upn_for(member.given, member.surname, taken)
        device = make_device(member.device_kind, member.device_number, dept.site, guid(rng))
        user = _user(
            len(users),
            member.given,
            member.surname,
            upn,
            member.user_id,
            dept,
            False,
            member.home,
            member.home_ip,
            (device,),
        )
        users.append(user)
        cast[member.role] = user

    cast_count = {d.name: 0 for d in DEPARTMENTS}
    for member in CAST:
        cast_count[member.department] += 1
    for dept in DEPARTMENTS:
        for i in range(dept.headcount - cast_count[dept.name]):
            given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
            upn = upn_for(given, surname, taken)
            councillor = dept.name == MEMBERS and i < COUNCILLORS
            kind = "tablet" if councillor else ("laptop" if dept.name == MEMBERS else dept.device)
            devices = [make_device(kind, numbers[kind].pop(), dept.site, guid(rng))]
            if rng.random() < dept.phone_share:
                devices.append(make_device("phone", numbers["phone"].pop(), dept.site, guid(rng)))
            home = homes.pick(rng)
            users.append(
                _user(len(users), given, surname, upn, guid(rng), dept, councillor, home, _home_ip(rng), tuple(devices))
            )
    return Tenant(users=tuple(users), cast=cast)


def _user(index, given, surname, upn, user_id, dept, councillor, home, home_ip, devices) -> User:
    activity = 0.4 if councillor else dept.activity
    return User(
        index=index,
        given=given,
        surname=surname,
        upn=upn,
        user_id=user_id,
        department=dept,
        is_councillor=councillor,
        home=home,
        home_ip=home_ip,
        devices=devices,
        activity=activity,
        graph=_identity(user_id, f"{given} {surname}", upn),
    )


def _home_ip(rng: random.Random) -> str:
    # Addresses .240 and above in TEST-NET-1 are kept for the stories (an attacker's proxy).
    if rng.random() < 0.6:
        return f"{HOME_V4_PREFIX}{rng.randrange(1, 240)}"
    a, b, c = rng.randrange(0x1000, 0xFFFF), rng.randrange(0x1000, 0xFFFF), rng.randrange(1, 0xFFFF)
    return f"{HOME_V6_PREFIX}{a:x}:{b:x}::{c:x}"


def _asset_numbers(rng: random.Random) -> dict[str, list[int]]:
    """Shuffled asset numbers per device kind, without those the cast's devices hold."""
    reserved = {m.device_number for m in CAST}
    pools = {}
    for kind in DEVICE_KINDS:
        pool = [n for n in range(1, 10000) if n not in reserved]
        rng.shuffle(pool)
        pools[kind] = pool
    return pools
