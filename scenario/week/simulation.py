"""The phishing-simulation campaign with its training follow-up, as Attack Simulation Training reports it.

Graph ``GET /security/attackSimulation/simulations`` (one simulation) and
``.../simulations/{id}/report/simulationUsers`` (pages of ``userSimulationDetails``), shaped as
in microsoft-graph-docs-contrib's attacksimulationroot-list-simulations.md and
usersimulationdetails-list.md. Office staff are targeted; some click, fewer hand over their
password, some report the mail; everyone who clicked is assigned training, which most finish.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from scenario.week.timeline import DAY_MS, MINUTE_MS, Window, iso7
from scenario.world.draws import guid, rng_for
from scenario.world.tenant import MEMBERS, Tenant, User

PAGE_SIZE = 200
TARGET_DEPARTMENTS = {
    "Planning",
    "Revenues & Benefits",
    "Housing",
    "Environmental Health",
    "IT",
    "Finance",
    "HR",
    "Customer Services",
    MEMBERS,
}
CLICK_RATE, SUBMIT_RATE, REPORT_RATE, TRAINING_DONE_RATE = 0.14, 0.4, 0.22, 0.65
TRAINING = "Spotting phishing e-mails (Microsoft Mini-Module)"
BASE = "https://graph.microsoft.com/v1.0/security/attackSimulation/simulations"


@dataclass(frozen=True)
class Campaign:
    simulations: dict  # the simulations list page
    user_pages: list[dict]  # pages of simulationUsers
    simulation_id: str
    targeted: int


def campaign(tenant: Tenant, window: Window, seed: int) -> Campaign:
    rng = rng_for(seed, "attack-simulation")
    sim_id = guid(rng)
    manager = tenant.cast["security_manager"]
    launch = window.at(0, 10, 0)
    completion = window.at(4, 17, 0)
    targets = [u for u in tenant.users if u.department.name in TARGET_DEPARTMENTS and not u.is_councillor]
    details = [_user_details(rng, u, launch, completion) for u in targets]
    owner = {"id": manager.user_id, "displayName": manager.display_name, "email": manager.upn}
    simulation = {
        "id": sim_id,
        "displayName": "June: council tax rebate (credential harvest)",
        "description": "Quarterly phishing exercise: a spoofed HMRC-style council tax rebate asking staff to sign in.",
        "attackType": "social",
        "attackTechnique": "credentialHarvesting",
        "status": "succeeded",
        "createdDateTime": iso7(launch - 3 * DAY_MS),
        "createdBy": owner,
        "lastModifiedDateTime": iso7(launch - 2 * DAY_MS),
        "lastModifiedBy": owner,
        "launchDateTime": iso7(launch),
        "completionDateTime": iso7(completion),
        "isAutomated": False,
        "automationId": None,
        "payloadDeliveryPlatform": "email",
    }
    pages = []
    for start in range(0, len(details), PAGE_SIZE):
        page = {
            "@odata.context": f"{BASE}('{sim_id}')/report/simulationUsers",
            "value": details[start : start + PAGE_SIZE],
        }
        if start + PAGE_SIZE < len(details):
            page["@odata.nextLink"] = f"{BASE}/{sim_id}/report/simulationUsers?$skiptoken={start + PAGE_SIZE}"
        pages.append(page)
    return Campaign({"value": [simulation]}, pages, sim_id, len(targets))


def _event(name: str, ms: int, user: User) -> dict:
    device = user.primary
    return {
        "eventName": name,
        "eventDateTime": iso7(ms),
        "ipAddress": device.site.egress_ip,
        "osPlatformDeviceDetails": device.operating_system,
        "browser": "Edge",
    }


def _user_details(rng: random.Random, user: User, launch: int, completion: int) -> dict:
    delivered = launch + rng.randrange(1, 20) * MINUTE_MS
    events = [_event("SuccessfullyDeliveredEmail", delivered, user)]
    compromised_at = reported_at = None
    trainings = []
    clicked = rng.random() < CLICK_RATE
    if clicked:
        click = delivered + rng.randrange(5, 2 * 24 * 60) * MINUTE_MS
        events.append(_event("EmailLinkClicked", click, user))
        if rng.random() < SUBMIT_RATE:
            compromised_at = click + rng.randrange(1, 4) * MINUTE_MS
            events.append(_event("CredentialSupplied", compromised_at, user))
        assigned = min(click + 5 * MINUTE_MS, completion)
        done = rng.random() < TRAINING_DONE_RATE
        started = rng.random() < 0.5 or done
        training = {
            "displayName": TRAINING,
            "latestTrainingStatus": "completed" if done else ("inProgress" if started else "assigned"),
            "trainingAssignedProperties": _training_step(assigned, user),
        }
        if started:
            training["trainingUpdatedProperties"] = _training_step(assigned + rng.randrange(1, 3) * DAY_MS, user)
        if done:
            training["trainingCompletedProperties"] = _training_step(assigned + rng.randrange(3, 6) * DAY_MS, user)
        trainings.append(training)
    elif rng.random() < REPORT_RATE:
        reported_at = delivered + rng.randrange(2, 240) * MINUTE_MS
        events.append(_event("ReportedEmail", reported_at, user))
    status = [t["latestTrainingStatus"] for t in trainings]
    return {
        "isCompromised": compromised_at is not None,
        "compromisedDateTime": iso7(compromised_at) if compromised_at else None,
        "simulationEvents": events,
        "trainingEvents": trainings,
        "assignedTrainingsCount": len(trainings),
        "completedTrainingsCount": status.count("completed"),
        "inProgressTrainingsCount": status.count("inProgress"),
        "reportedPhishDateTime": iso7(reported_at) if reported_at else None,
        "simulationUser": {"userId": user.user_id, "displayName": user.display_name, "email": user.upn},
    }


def _training_step(ms: int, user: User) -> dict:
    return {
        "contentDateTime": iso7(ms),
        "ipAddress": user.primary.site.egress_ip,
        "osPlatformDeviceDetails": user.primary.operating_system,
        "browser": "Edge",
        "potentialScoreImpact": 5.0,
    }
