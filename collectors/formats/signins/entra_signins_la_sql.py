"""The SQL that turns Log Analytics ``SigninLogs`` rows into ``azure.signinlogs`` columns.

Both forms of an export meet here: the CSV reader (:mod:`collectors.formats.signins.entra_signins_la_csv`)
and the JSON reader hand over one relation ``la`` of text columns named as in the table
(:data:`LA_COLUMNS`), and :func:`la_select` maps it to the dataset's columns, the same ones the
Graph parser fills. The decisions it encodes are listed in :mod:`collectors.formats.signins.entra_signins_la`.
"""

from __future__ import annotations

import json
from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from collectors.formats.azure_time import time_sql
from collectors.formats.signins.entra_signins import Dialect, read_json_columns
from collectors.formats.signins.signin_schema import DEVICE_DETAIL_SHAPE, absent_if_empty, select_items

SOURCE = "entra-signins-la"

#: The ``SigninLogs`` columns the dataset is filled from.
LA_COLUMNS = (
    "TimeGenerated",
    "CreatedDateTime",
    "Id",
    "ResultType",
    "ResultDescription",
    "UserPrincipalName",
    "UserId",
    "UserDisplayName",
    "IPAddress",
    "Location",
    "LocationDetails",
    "UserAgent",
    "HomeTenantId",
    "ResourceTenantId",
    "AADTenantId",
    "Category",
    "Type",
    "Status",
    "AppId",
    "AppDisplayName",
    "ResourceDisplayName",
    "ClientAppUsed",
    "ConditionalAccessStatus",
    "AuthenticationRequirement",
    "AuthenticationProtocol",
    "IsInteractive",
    "RiskState",
    "RiskLevelDuringSignIn",
    "RiskLevelAggregated",
    "DeviceDetail",
    "NetworkLocationDetails",
    "AuthenticationDetails",
    "ConditionalAccessPolicies",
    "CorrelationId",
)

#: Log Analytics table names (``Type``) → diagnostic categories.
_TABLE_CATEGORIES = {
    "SigninLogs": "SignInLogs",
    "AADNonInteractiveUserSignInLogs": "NonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs": "ServicePrincipalSignInLogs",
    "AADManagedIdentitySignInLogs": "ManagedIdentitySignInLogs",
    "ADFSSignInLogs": "ADFSSignInLogs",
}

V = "VARCHAR"
_LOCATION = {"countryOrRegion": V, "city": V, "state": V}
_STATUS = {"errorCode": V, "failureReason": V, "additionalDetails": V}


def _dynamic(column: str, struct: dict) -> str:
    """A dynamic column's JSON text as a struct, null when it is not JSON. (``try`` rather than
    a ``json_valid`` guard: one parse instead of two, 0.7 CPU-s per million rows.)"""
    return f"try(json_transform({column}, '{json.dumps(struct)}'))"


def _minified(column: str, handed_over: bool = False) -> str:
    """JSON text as Graph's form of it reads: compact. Only text with a line end or a colon
    and a space is re-written; parsing every cell twice would cost a fifth of the CSV's time.
    (``': '``, not ``'": '``: a needle starting with a quote is slow to find in JSON.)
    ``handed_over``: only the re-written texts, null for the rest (see :data:`HANDED_OVER`)."""
    spaced = f"strpos({column}, chr(10)) > 0 OR strpos({column}, ': ') > 0"
    rewritten = f"CASE WHEN json_valid({column}) THEN json({column})::VARCHAR ELSE {column} END"
    if handed_over:
        return f"CASE WHEN {spaced} THEN {rewritten} END"
    return f"CASE WHEN {spaced} THEN {rewritten} ELSE NULLIF({column}, '') END"


_CATEGORY_OF_TYPE = " ".join(f"WHEN '{t}' THEN '{c}'" for t, c in _TABLE_CATEGORIES.items())


#: The columns that are a ``SigninLogs`` text column as it is, an empty string read as absent
#: (a string column of Log Analytics is never null: ``""`` is how it says "no value", where Graph
#: writes null).
_PLAIN_TEXTS = {
    "event.id": "Id",
    "user.id": "UserId",
    "user.full_name": "UserDisplayName",
    "source.ip": "IPAddress",
    "user_agent.original": "UserAgent",
    "azure.signinlogs.properties.app_id": "AppId",
    "azure.signinlogs.properties.app_display_name": "AppDisplayName",
    "azure.signinlogs.properties.resource_display_name": "ResourceDisplayName",
    "azure.signinlogs.properties.client_app_used": "ClientAppUsed",
    "azure.signinlogs.properties.conditional_access_status": "ConditionalAccessStatus",
    "azure.signinlogs.properties.authentication_requirement": "AuthenticationRequirement",
    "azure.signinlogs.properties.authentication_protocol": "AuthenticationProtocol",
    "azure.signinlogs.properties.risk_state": "RiskState",
    "azure.signinlogs.properties.risk_level_during_signin": "RiskLevelDuringSignIn",
    "azure.signinlogs.properties.risk_level_aggregated": "RiskLevelAggregated",
    "azure.signinlogs.properties.correlation_id": "CorrelationId",
}
#: The dynamic columns kept as JSON text, minified (:func:`_minified`).
_JSON_TEXTS = {
    "azure.signinlogs.properties.network_location_details": "NetworkLocationDetails",
    "azure.signinlogs.properties.authentication_details": "AuthenticationDetails",
    "azure.signinlogs.properties.applied_conditional_access_policies": "ConditionalAccessPolicies",
}
#: Columns a reader that already holds the ``SigninLogs`` columns as Arrow text (empty as null)
#: can hand over itself, so the SQL does not copy the largest texts again: the dataset's column
#: → the ``SigninLogs`` column. See :func:`la_select` and :func:`handed_over`.
HANDED_OVER = {**_PLAIN_TEXTS, **_JSON_TEXTS}

#: Where each column comes from in a ``SigninLogs`` row; the dynamic columns are parsed as
#: ``loc``, ``st`` and ``dev``. Inside a dynamic column the JSON is Graph's own, and an empty
#: string there is a value: ``DeviceDetail``'s ``"deviceId": ""`` is what SigmaHQ's
#: unknown-device rules look for.
_LA_TEXTS = {
    **{column: absent_if_empty(source) for column, source in _PLAIN_TEXTS.items()},
    "source.geo.country_iso_code": absent_if_empty("coalesce(NULLIF(loc.countryOrRegion, ''), Location)"),
    "azure.tenant_id": absent_if_empty("coalesce(NULLIF(HomeTenantId, ''), NULLIF(ResourceTenantId, ''), AADTenantId)"),
    "azure.signinlogs.properties.is_interactive": absent_if_empty("IsInteractive"),
    "source.geo.city_name": "loc.city",
    "source.geo.region_name": "loc.state",
    "azure.signinlogs.result_description": "coalesce(NULLIF(ResultDescription, ''), st.failureReason)",
    "azure.signinlogs.properties.status.failure_reason": "st.failureReason",
    "azure.signinlogs.properties.status.additional_details": "st.additionalDetails",
    "azure.signinlogs.properties.device_detail.device_id": "dev.deviceId",
    "azure.signinlogs.properties.device_detail.display_name": "dev.displayName",
    "azure.signinlogs.properties.device_detail.operating_system": "dev.operatingSystem",
    "azure.signinlogs.properties.device_detail.browser": "dev.browser",
    "azure.signinlogs.properties.device_detail.is_compliant": "dev.isCompliant",
    "azure.signinlogs.properties.device_detail.is_managed": "dev.isManaged",
    "azure.signinlogs.properties.device_detail.trust_type": "dev.trustType",
}


def _la_items(handed: Collection[str]) -> str:
    """The SELECT items; a column in ``handed`` (of :data:`HANDED_OVER`) is left to its reader:
    null, or for JSON text only the texts re-written."""
    texts = {**_LA_TEXTS, **{column: "NULL::VARCHAR" for column in handed if column in _PLAIN_TEXTS}}
    other = {
        "azure.signinlogs.category": f"coalesce({absent_if_empty('Category')}, CASE Type {_CATEGORY_OF_TYPE} END)",
        **{column: _minified(source, column in handed) for column, source in _JSON_TEXTS.items()},
    }
    return select_items(texts, other)


def handed_over(result: pa.Table, given: dict[str, pa.ChunkedArray]) -> pa.Table:
    """``result`` of :func:`la_select` with the columns ``given`` (dataset column → the reader's
    ``SigninLogs`` text, empty as null, a row per row of ``result``) put in: as given, or for
    JSON text the SQL's re-written text where it made one."""
    for column, values in given.items():
        index = result.column_names.index(column)
        if column in _JSON_TEXTS:
            rewritten = result.column(index)
            if rewritten.null_count < len(rewritten):
                values = pc.if_else(rewritten.is_valid(), rewritten, values)
        result = result.set_column(index, column, values)
    return result


def la_select(with_original: bool, handed: Collection[str] = ()) -> str:
    """SQL from ``la(_row, original, _problem_in, <LA_COLUMNS>)`` to the dataset's SQL columns.

    Plus ``_row``, ``_problem`` and ``_reason`` as in :func:`collectors.formats.signins.entra_signins.graph_sql`,
    and ``event.original`` when the reader does not attach it itself. The columns ``handed`` are
    the reader's to put in (:func:`handed_over`).
    """
    original = ', original AS "event.original"' if with_original else ""
    return f"""
, typed AS (
    SELECT *,
        {time_sql("TimeGenerated")} AS generated_ts,
        {time_sql("CreatedDateTime")} AS created_ts,
        {_dynamic("LocationDetails", _LOCATION)} AS loc,
        {_dynamic("Status", _STATUS)} AS st,
        {_dynamic("DeviceDetail", DEVICE_DETAIL_SHAPE)} AS dev
    FROM la
),
fields AS (
    SELECT *,
        coalesce(generated_ts, created_ts) AS ts,
        {absent_if_empty("coalesce(NULLIF(ResultType, ''), st.errorCode)")} AS result_type,
        {absent_if_empty("UserPrincipalName")} AS upn
    FROM typed
)
SELECT
    _row,
    CASE WHEN _problem_in IS NOT NULL THEN _problem_in WHEN ts IS NULL THEN 'time' END AS _problem,
    CASE
        WHEN _problem_in = 'json' THEN 'not valid JSON'
        WHEN _problem_in = 'object' THEN 'not a JSON object'
        WHEN _problem_in IS NOT NULL THEN _problem_in
        WHEN NULLIF(TimeGenerated, '') IS NULL AND NULLIF(CreatedDateTime, '') IS NULL
            THEN 'no TimeGenerated or CreatedDateTime'
        WHEN ts IS NULL THEN 'time ''' || left(coalesce(NULLIF(TimeGenerated, ''), CreatedDateTime), 64)
            || ''' is not a timestamp'
    END AS _reason,
    {_la_items(handed)}
    {original}
FROM fields
"""


_LA_STRUCT = json.dumps({name: V for name in LA_COLUMNS})

_LA_SHAPE_CHECKED = """
        CASE
            WHEN NOT json_valid(raw) THEN
                CASE WHEN trim(raw, ' ' || chr(9) || chr(10) || chr(13)) = '' THEN 'blank' ELSE 'json' END
            WHEN starts_with(raw, '{') THEN NULL
            WHEN json_type(raw) = 'OBJECT' THEN NULL
            ELSE 'object'
        END"""


def json_sql(checked: bool) -> str:
    """JSON rows, ``records(_row, raw)`` framed by :func:`collectors.reading.jsonframe.frame`.

    Unchecked, a line starting with ``{`` is trusted to be JSON (one parse instead of two); a
    line that is not fails the query and the caller runs the checked form.
    """
    shape = _LA_SHAPE_CHECKED if checked else f"CASE WHEN starts_with(raw, '{{') THEN NULL ELSE {_LA_SHAPE_CHECKED} END"
    return f"""
WITH shaped AS (
    SELECT _row, raw, {shape} AS shape
    FROM records
),
la AS (
    SELECT _row, shape AS _problem_in, j.*
    FROM (SELECT *, CASE WHEN shape IS NULL THEN json_transform(raw, '{_LA_STRUCT}') END AS j FROM shaped)
)
{la_select(with_original=False)}
"""


def json_file_sql(path_literal: str, compression: str, layout: str) -> str:
    """JSON rows read by DuckDB's own reader (the fast path; see ``Dialect``)."""
    columns = read_json_columns({name: V for name in LA_COLUMNS})
    return f"""
WITH la AS (
    SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS _problem_in, r.*
    FROM read_json({path_literal}, format = '{layout}', compression = '{compression}', columns = {columns}) r
)
{la_select(with_original=False)}
"""


LA_JSON = Dialect(SOURCE, json_sql, json_file_sql)
