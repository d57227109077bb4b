"""Sign-ins in Entra ID's own formats: Graph ``signIn`` JSON and a Log Analytics ``SigninLogs`` CSV.

Graph: one ``microsoft.graph.signIn`` object per line (NDJSON), camelCase, keys in the order
Graph returns them (see microsoft-graph-docs v1.0 signin-list.md). Log Analytics: the portal's
CSV export of the ``SigninLogs`` table, with the columns, BOM, CRLF line ends and time format of
such an export (see the Sentinel training lab's sign-in_adelete.csv); dynamic columns are JSON
text. The nested objects every sign-in shares (a device, a place, a result) are built once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any, Protocol

import orjson

from scenario.formats.ndjson import write_lines
from scenario.week.events import SignIn
from scenario.week.timeline import iso7, la_time
from scenario.world.tenant import TENANT_ID
from scenario.world.vocabulary import Policy, Result

#: The Log Analytics workspace the export came from (LA's TenantId column is the workspace id).
WORKSPACE_ID = "a41c7e05-93d2-4b8e-8f6a-2c0d71e9b5f3"

LA_COLUMNS = (
    "TenantId,SourceSystem,ResourceId,OperationName,OperationVersion,Category,ResultType,ResultSignature,"
    "ResultDescription,DurationMs,CorrelationId,Resource,ResourceGroup,ResourceProvider,Identity,Level,Location,"
    "AlternateSignInName,AppDisplayName,AppId,AuthenticationDetails,AuthenticationMethodsUsed,"
    "AuthenticationProcessingDetails,AuthenticationRequirement,AuthenticationRequirementPolicies,ClientAppUsed,"
    "ConditionalAccessPolicies_dynamic,ConditionalAccessPolicies_string,ConditionalAccessStatus,"
    "CreatedDateTime [UTC],DeviceDetail_dynamic,DeviceDetail_string,IsInteractive,Id,IPAddress,IsRisky,"
    "LocationDetails_dynamic,LocationDetails_string,MfaDetail_dynamic,MfaDetail_string,NetworkLocationDetails,"
    "OriginalRequestId,ProcessingTimeInMilliseconds,RiskDetail,RiskEventTypes,RiskEventTypes_V2,"
    "RiskLevelAggregated,RiskLevelDuringSignIn,RiskState,ResourceDisplayName,ResourceIdentity,ServicePrincipalId,"
    "ServicePrincipalName,Status_dynamic,Status_string,TokenIssuerName,TokenIssuerType,UserAgent,UserDisplayName,"
    "UserId,UserPrincipalName,AADTenantId,UserType,FlaggedForReview,SignInIdentifier,SignInIdentifierType,"
    "ResourceTenantId,HomeTenantId,Type,AdditionalDetails,InitiatedBy"
).split(",")

_status: dict[Result, dict] = {}
_ca: dict[tuple, list] = {}
_ca_la: dict[tuple, str] = {}
_named: dict[str | None, list] = {}
_device_la: dict[tuple, str] = {}
_EMPTY: list = []
_INTERACTIVE = ["interactiveUser"]
_NON_INTERACTIVE = ["nonInteractiveUser"]


def _status_of(result: Result) -> dict:
    status = _status.get(result)
    if status is None:
        status = _status[result] = {
            "errorCode": result.code,
            "failureReason": result.failure_reason,
            "additionalDetails": result.additional_details,
        }
    return status


def _grant(policy: Policy, result: str) -> list[str]:
    return list(policy.grant) if result in ("success", "failure") else []


def _policies(ca: tuple[tuple[Policy, str], ...]) -> list:
    policies = _ca.get(ca)
    if policies is None:
        policies = _ca[ca] = [
            {
                "id": p.policy_id,
                "displayName": p.name,
                "enforcedGrantControls": _grant(p, r),
                "enforcedSessionControls": [],
                "result": r,
            }
            for p, r in ca
        ]
    return policies


def _network(named: str | None) -> list:
    details = _named.get(named)
    if details is None:
        details = _named[named] = [] if named is None else [{"networkType": "namedNetwork", "networkNames": [named]}]
    return details


def _risk_state(risk: str) -> str:
    return "none" if risk == "none" else "atRisk"


def _ca_status(ca: tuple[tuple[Policy, str], ...]) -> str:
    results = [r for _, r in ca]
    if "failure" in results:
        return "failure"
    return "success" if "success" in results else "notApplied"


def graph_record(s: SignIn) -> dict:
    """The sign-in as Graph ``GET /auditLogs/signIns`` returns it."""
    user = s.user.graph
    return {
        "id": s.id,
        "createdDateTime": iso7(s.ms),
        "userDisplayName": user["userDisplayName"],
        "userPrincipalName": user["userPrincipalName"],
        "userId": user["userId"],
        "appId": s.app_id,
        "appDisplayName": s.app_name,
        "ipAddress": s.ip,
        "clientAppUsed": s.client_app,
        "userAgent": s.user_agent,
        "correlationId": s.correlation_id,
        "conditionalAccessStatus": _ca_status(s.ca_results),
        "isInteractive": s.interactive,
        "riskDetail": "none",
        "riskLevelAggregated": s.risk,
        "riskLevelDuringSignIn": s.risk,
        "riskState": _risk_state(s.risk),
        "riskEventTypes": _EMPTY,
        "riskEventTypes_v2": _EMPTY,
        "resourceDisplayName": s.resource[1],
        "resourceId": s.resource[0],
        "resourceTenantId": TENANT_ID,
        "homeTenantId": TENANT_ID,
        "authenticationRequirement": "multiFactorAuthentication" if s.mfa else "singleFactorAuthentication",
        "signInEventTypes": _INTERACTIVE if s.interactive else _NON_INTERACTIVE,
        "status": _status_of(s.result),
        "deviceDetail": s.device_detail,
        "location": s.place.graph,
        "appliedConditionalAccessPolicies": _policies(s.ca_results),
        "networkLocationDetails": _network(s.named_location),
    }


def write_graph(sign_ins: Iterable[SignIn], out: IO[bytes]) -> int:
    """Write NDJSON; returns the number of lines."""
    return write_lines(map(graph_record, sign_ins), out)


# --- Log Analytics -----------------------------------------------------------------------


class RowWriter(Protocol):
    """What the export is written with: ``csv.writer``'s object, whose class is private."""

    def writerow(self, row: Iterable[Any], /) -> Any: ...

    def writerows(self, rows: Iterable[Iterable[Any]], /) -> None: ...


def la_writer(out: IO[str]) -> RowWriter:
    """A CSV writer that has written the BOM and header, as the Log Analytics portal does."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LA_COLUMNS)
    return writer


def _ca_json(ca: tuple[tuple[Policy, str], ...]) -> str:
    text = _ca_la.get(ca)
    if text is None:
        text = _ca_la[ca] = orjson.dumps(
            [
                {
                    "enforcedSessionControls": [],
                    "conditionsNotSatisfied": 0,
                    "enforcedGrantControls": _grant(p, r),
                    "conditionsSatisfied": 0 if r == "notApplied" else 3,
                    "displayName": p.name,
                    "result": r,
                    "id": p.policy_id,
                }
                for p, r in ca
            ]
        ).decode()
    return text


def _device_json(detail: dict) -> str:
    # Log Analytics leaves out the properties Graph reports as null.
    key = tuple(detail.items())
    text = _device_la.get(key)
    if text is None:
        text = _device_la[key] = orjson.dumps({k: v for k, v in detail.items() if v is not None}).decode()
    return text


def _status_json(result: Result) -> str:
    status: dict[str, int | str] = {"errorCode": result.code}
    if result.failure_reason:
        status["failureReason"] = result.failure_reason
    if result.additional_details:
        status["additionalDetails"] = result.additional_details
    return orjson.dumps(status).decode()


def _auth_details(s: SignIn) -> str:
    when = iso7(s.ms).replace("Z", "+00:00")
    password_ok = s.result.code != 50126
    steps = [
        {
            "authenticationStepDateTime": when,
            "authenticationMethod": "Password",
            "succeeded": password_ok,
            "authenticationStepResultDetail": "Correct password" if password_ok else "Invalid username or password",
            "authenticationStepRequirement": "Primary authentication",
        }
    ]
    if s.mfa and password_ok:
        denied = s.result.code == 500121
        steps.append(
            {
                "authenticationStepDateTime": when,
                "authenticationMethod": "Mobile app notification",
                "succeeded": not denied,
                "authenticationStepResultDetail": "MFA denied; user declined the authentication"
                if denied
                else "MFA successfully completed",
                "authenticationStepRequirement": "Multi-factor authentication",
            }
        )
    return orjson.dumps(steps).decode()


def la_row(s: SignIn) -> list:
    """The sign-in as a row of the portal's CSV export of ``SigninLogs``."""
    user = s.user.graph
    result = s.result
    mfa = "multiFactorAuthentication" if s.mfa else "singleFactorAuthentication"
    network = orjson.dumps(_network(s.named_location)).decode()
    return [
        WORKSPACE_ID,
        "Azure AD",
        f"/tenants/{TENANT_ID}/providers/Microsoft.aadiam",
        "Sign-in activity",
        "1",
        "SignInLogs",
        str(result.code),
        "None",
        result.failure_reason or "",
        "0",
        s.correlation_id,
        "Microsoft.aadiam",
        "Microsoft.aadiam",
        "",
        user["userDisplayName"],
        "4",
        s.place.country,
        "",
        s.app_name,
        s.app_id,
        _auth_details(s),
        "",
        "[]",
        mfa,
        "[]",
        s.client_app,
        _ca_json(s.ca_results),
        "",
        _ca_status(s.ca_results),
        la_time(s.ms),
        _device_json(s.device_detail),
        "",
        "TRUE" if s.interactive else "FALSE",
        s.id,
        s.ip,
        "",
        s.place.la_json,
        "",
        "{}",
        "",
        network,
        s.id,
        str(40 + (int(s.id[:4], 16) % 400)),
        "none",
        "[]",
        "[]",
        s.risk,
        s.risk,
        _risk_state(s.risk),
        s.resource[1],
        s.resource[0],
        "",
        "",
        _status_json(result),
        "",
        "",
        "AzureAD",
        s.user_agent,
        user["userDisplayName"],
        user["userId"],
        user["userPrincipalName"],
        TENANT_ID,
        "Member",
        "",
        "",
        "",
        TENANT_ID,
        TENANT_ID,
        "SigninLogs",
        "",
        "",
    ]
