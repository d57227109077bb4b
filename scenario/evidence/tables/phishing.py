"""The awareness campaign: phishing simulations over the weeks, in two shapes.

Office staff get Microsoft's Attack Simulation Training (one row per targeted user of a
simulation, after ``userSimulationDetails``); frontline staff without a council laptop (waste,
leisure) get GoPhish campaigns sent to their phones (one row per recipient, after a campaign
result's ``results`` with the first time of each timeline event). Each later campaign is
clicked less and reported more, as training takes hold; some people click every time (the
repeat offenders the metrics count, never name in the default report). A week's snapshot holds
every campaign launched by then.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from scenario.week.simulation import TARGET_DEPARTMENTS
from scenario.world.draws import guid

from ..estate.people import Directory, Person
from ..estate.plan import rng
from .schemas import ATTACK_SIMULATION, GOPHISH, SCHEMAS


@dataclass(frozen=True)
class Campaign:
    name: str
    week: int  # the snapshot week it is launched before
    click: float
    submit: float  # of those who click
    report: float  # of those who do not click
    gophish: bool = False


CAMPAIGNS = (
    Campaign("Council tax rebate (credential harvest)", 0, 0.16, 0.45, 0.18),
    Campaign("Depot rota change (link)", 1, 0.24, 0.35, 0.08, gophish=True),
    Campaign("Parking permit renewal (credential harvest)", 4, 0.09, 0.35, 0.31),
    Campaign("Payslip query (link)", 5, 0.15, 0.3, 0.16, gophish=True),
)
#: People more likely to click whatever the campaign.
SUSCEPTIBLE = 0.05


def _targets(directory: Directory, when: datetime, gophish: bool) -> list[Person]:
    found = [
        p
        for p in directory.people
        if p.user_type == "Member" and p.licences and p.left_at is None and p.present(when) and not p.roles
    ]
    return [p for p in found if (p.department in TARGET_DEPARTMENTS) != gophish]


def _susceptible(seed: int, person: Person) -> bool:
    return rng(seed, f"susceptible-{person.id}").random() < SUSCEPTIBLE


def attack_simulation(directory: Directory, seed: int, week: int, times: tuple[datetime, ...]) -> pa.Table:
    rows = []
    for number, campaign in enumerate(CAMPAIGNS):
        if campaign.gophish or campaign.week > week:
            continue
        draw = rng(seed, f"campaign-{number}")
        launched = times[campaign.week] - timedelta(days=6, hours=20)
        sim_id = guid(draw)
        for person in _targets(directory, launched, gophish=False):
            rows.append(_simulated(draw, seed, campaign, sim_id, launched, person))
    return pa.Table.from_pylist(rows, schema=SCHEMAS[ATTACK_SIMULATION])


def _simulated(
    draw: random.Random, seed: int, campaign: Campaign, sim_id: str, launched: datetime, person: Person
) -> dict[str, object]:
    delivered = launched + timedelta(minutes=draw.randrange(1, 30))
    clicked, compromised, reported = _outcome(draw, seed, campaign, person, delivered)
    status = None if clicked is None else ("completed" if draw.random() < 0.7 else "assigned")
    events = [("SuccessfullyDeliveredEmail", delivered), ("EmailLinkClicked", clicked)]
    events += [("CredSupplied", compromised), ("ReportedEmail", reported)]
    technique = "credentialHarvesting" if "credential" in campaign.name else "linkToMalwareFile"
    return {
        "simulation_id": sim_id,
        "simulation_name": campaign.name,
        "attack_technique": technique,
        "attack_type": "social",
        "simulation_status": "succeeded",
        "delivery_platform": "email",
        "launched_at": launched,
        "completed_at": launched + timedelta(days=5),
        "user_id": person.id,
        "email": person.upn.lower(),
        "is_compromised": compromised is not None if technique == "credentialHarvesting" else clicked is not None,
        "compromised_at": compromised if technique == "credentialHarvesting" else clicked,
        "reported_at": reported,
        "delivered_at": delivered,
        "delivery_failed_at": None,
        "clicked_at": clicked,
        "credentials_at": compromised,
        "assigned_trainings": 0 if status is None else 1,
        "completed_trainings": 1 if status == "completed" else 0,
        "in_progress_trainings": 0,
        "training_statuses": [] if status is None else [status],
        "events": json.dumps(
            [{"eventName": name, "eventDateTime": f"{when:%Y-%m-%dT%H:%M:%SZ}"} for name, when in events if when]
        ),
    }


def _outcome(
    draw: random.Random, seed: int, campaign: Campaign, person: Person, delivered: datetime
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """When (if) the person clicked, handed over a password, reported the mail."""
    chance = min(0.9, campaign.click * (4 if _susceptible(seed, person) else 1))
    if draw.random() < chance:
        clicked = delivered + timedelta(minutes=draw.randrange(3, 2 * 24 * 60))
        submitted = clicked + timedelta(minutes=draw.randrange(1, 5)) if draw.random() < campaign.submit else None
        return clicked, submitted, None
    if draw.random() < campaign.report:
        return None, None, delivered + timedelta(minutes=draw.randrange(2, 300))
    return None, None, None


def gophish(directory: Directory, seed: int, week: int, times: tuple[datetime, ...]) -> pa.Table:
    rows = []
    for number, campaign in enumerate(CAMPAIGNS):
        if not campaign.gophish or campaign.week > week:
            continue
        draw = rng(seed, f"campaign-{number}")
        launched = times[campaign.week] - timedelta(days=6, hours=20)
        for person in _targets(directory, launched, gophish=True):
            sent = launched + timedelta(minutes=draw.randrange(1, 30))
            clicked, submitted, reported = _outcome(draw, seed, campaign, person, sent)
            opened = clicked - timedelta(minutes=1) if clicked else None
            if opened is None and draw.random() < 0.6:
                opened = sent + timedelta(hours=2)
            rows.append(
                {
                    "campaign_id": str(number + 1),
                    "campaign_name": campaign.name,
                    "campaign_status": "Completed",
                    "launched_at": launched,
                    "completed_at": launched + timedelta(days=5),
                    "result_id": guid(draw)[:7],
                    "email": person.upn.lower(),
                    "position": person.department,
                    "status": _furthest(submitted, clicked, opened),
                    "reported": reported is not None,
                    "sent_at": sent,
                    "opened_at": opened,
                    "clicked_at": clicked,
                    "submitted_at": submitted,
                    "reported_at": reported,
                    "origin": "api",
                }
            )
    return pa.Table.from_pylist(rows, schema=SCHEMAS[GOPHISH])


def _furthest(submitted: datetime | None, clicked: datetime | None, opened: datetime | None) -> str:
    """GoPhish's status: the furthest event reached."""
    if submitted:
        return "Submitted Data"
    if clicked:
        return "Clicked Link"
    return "Email Opened" if opened else "Email Sent"
