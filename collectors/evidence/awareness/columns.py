"""The columns of the awareness snapshots, in one place: what the collectors write and what the
awareness report reads (and what a demo generator must write to stand in for them).

Two sources, one row per person per campaign, with the campaign's own fields repeated on each
row so a snapshot is one file a report can read without a join:

``attack_simulation.results``
    Microsoft Defender for Office 365 Attack Simulation Training, through Graph
    (``security/attackSimulation/simulations`` and each simulation's
    ``report/simulationUsers``). The times are the first of each kind of event in the user's
    ``simulationEvents``; ``events`` keeps them all as JSON, so a definition can be revised later
    without collecting again.

``gophish.results``
    GoPhish campaigns (``/api/campaigns/`` and ``/api/campaigns/:id/results``, or the same JSON
    or the CSV exports read from files). ``status`` is GoPhish's furthest event reached; the
    times are the first of each kind of event in the campaign's ``timeline`` for that address.

Neither keeps a person's name: an awareness report counts people and never names them, and the
address is enough to find their department. Every time is UTC; GoPhish's "not set"
(``0001-01-01T00:00:00Z``) is null.
"""

from __future__ import annotations

import pyarrow as pa

from collectors.evidence.columns import TEXT_LIST, TIME, col, schema_of

ATTACK_SIMULATION = "attack_simulation.results"
GOPHISH = "gophish.results"

#: Attack Simulation event names (``simulationEvents[].eventName``) read into the time columns.
#: Graph's reference shows ``SuccessfullyDeliveredEmail``, ``EmailLinkClicked`` and
#: ``ReportedEmail``; the others are the names the portal's export and the overview use.
AST_DELIVERED = ("SuccessfullyDeliveredEmail", "SuccessfullyDeliveredMail")
AST_DELIVERY_FAILED = ("FailedToDeliverEmail",)
AST_CLICKED = ("EmailLinkClicked", "AttachmentLinkClicked")
AST_CREDENTIALS = ("CredSupplied", "CredentialsSupplied")
AST_REPORTED = ("ReportedEmail",)

AST_COLUMNS = (
    col("simulation_id", pa.string(), "simulation_id"),
    col("simulation_name", pa.string(), "simulation_name"),
    col("attack_technique", pa.string(), "attack_technique"),
    col("attack_type", pa.string(), "attack_type"),
    col("simulation_status", pa.string(), "simulation_status"),
    col("delivery_platform", pa.string(), "delivery_platform"),
    col("launched_at", TIME, "launched_at"),
    col("completed_at", TIME, "completed_at"),
    col("user_id", pa.string(), "user_id"),
    col("email", pa.string(), "email"),  # lower case
    col("is_compromised", pa.bool_(), "is_compromised"),
    col("compromised_at", TIME, "compromised_at"),
    col("reported_at", TIME, "reported_at"),  # reportedPhishDateTime, else the first ReportedEmail event
    col("delivered_at", TIME, "delivered_at"),
    col("delivery_failed_at", TIME, "delivery_failed_at"),
    col("clicked_at", TIME, "clicked_at"),
    col("credentials_at", TIME, "credentials_at"),
    col("assigned_trainings", pa.int32(), "assigned_trainings"),
    col("completed_trainings", pa.int32(), "completed_trainings"),
    col("in_progress_trainings", pa.int32(), "in_progress_trainings"),
    col("training_statuses", TEXT_LIST, "training_statuses"),  # latestTrainingStatus of each
    col("events", pa.string(), "events", kind="json"),
)

#: GoPhish's result statuses (models.go): the furthest event reached, or a sending state.
GOPHISH_DELIVERED_STATUSES = ("Email Sent", "Email Opened", "Clicked Link", "Submitted Data", "Email Reported")
GOPHISH_OTHER_STATUSES = ("Error Sending Email", "Error", "Scheduled", "Queued", "Sending", "Retrying")
GOPHISH_STATUSES = GOPHISH_DELIVERED_STATUSES + GOPHISH_OTHER_STATUSES

GOPHISH_COLUMNS = (
    col("campaign_id", pa.string(), "campaign_id"),
    col("campaign_name", pa.string(), "campaign_name"),
    col("campaign_status", pa.string(), "campaign_status"),
    col("launched_at", TIME, "launched_at"),
    col("completed_at", TIME, "completed_at"),
    col("result_id", pa.string(), "result_id"),
    col("email", pa.string(), "email"),  # lower case
    col("position", pa.string(), "position"),
    col("status", pa.string(), "status"),
    col("reported", pa.bool_(), "reported"),
    col("sent_at", TIME, "sent_at"),
    col("opened_at", TIME, "opened_at"),
    col("clicked_at", TIME, "clicked_at"),
    col("submitted_at", TIME, "submitted_at"),
    col("reported_at", TIME, "reported_at"),
    col("origin", pa.string(), "origin"),  # "api" or the export file's name
)

#: Each awareness source's columns, for whoever writes or checks a snapshot of it.
AWARENESS_COLUMNS = {ATTACK_SIMULATION: AST_COLUMNS, GOPHISH: GOPHISH_COLUMNS}


def awareness_schema(source: str) -> pa.Schema:
    """The Arrow schema of an awareness source's snapshot (``ATTACK_SIMULATION`` or ``GOPHISH``)."""
    return schema_of(AWARENESS_COLUMNS[source])
