"""Security update checks: high-risk and critical fixes older than 14 days (the v3.3 automatic
fail), and software past or near its end of support.

A vulnerability qualifies when a security update exists for it and Defender rates it High or
Critical, or its CVSS score is 7 or more, or it has no rating at all (v3.3 treats an unrated fix
like a critical one). Its age is measured from Defender's ``firstSeenTimestamp`` on that device:
the fix's own release date is not in the export, and the exposure cannot be older on the device
than the fix is overdue, so the clock errs towards the organisation's favour by at most the time
between release and first detection; reports say so. A qualifying row with no first-seen time
cannot be shown to be within 14 days: it makes the result partial, never a pass.
"""

from __future__ import annotations

from reports.checks.context import CheckContext, Views
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

QUALIFYING = """
    SELECT *, CASE severity WHEN 'Critical' THEN 4 WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 1
                  ELSE 5 END AS rank
    FROM vulnerabilities
    WHERE security_update_available
      AND (severity IN ('High', 'Critical') OR cvss_score >= 7 OR coalesce(severity, '') = '')
"""

PER_DEVICE = """
    SELECT device_name AS device, count(*) AS fixes,
           arg_max(coalesce(nullif(severity, ''), 'unrated'), rank) AS worst_severity,
           min(first_seen) AS oldest_first_seen,
           array_to_string(list_slice(list(DISTINCT cve_id ORDER BY cve_id), 1, 5), ', ') AS cves
    FROM ({rows}) GROUP BY device_name
"""


def high_critical_within_14_days(context: CheckContext) -> CheckResult:
    check = Check.UPDATES_WITHIN_14_DAYS
    days = context.thresholds.fix_within_days
    with context.views(vulnerabilities=EvidenceSource.DEFENDER_MISSING_UPDATES) as v:
        age = {"days": days}
        overdue = f"SELECT * FROM ({QUALIFYING}) WHERE first_seen < $at - to_days(CAST($days AS INTEGER))"
        undated = f"SELECT * FROM ({QUALIFYING}) WHERE first_seen IS NULL"
        devices_overdue, fixes_overdue, fixes_undated = v.one(
            f"SELECT (SELECT count(DISTINCT device_id) FROM ({overdue})), (SELECT count(*) FROM ({overdue})), "
            f"(SELECT count(*) FROM ({undated}))",
            age,
        )
        whole = _devices(context, v)
        measures = (
            Measure(f"devices with a high or critical fix older than {days} days", devices_overdue, whole),
            Measure(f"open high or critical fixes older than {days} days", fixes_overdue),
            Measure("open high or critical fixes with no first-seen time", fixes_undated),
        )
        if devices_overdue:
            found = v.items(
                f"devices with a high or critical fix older than {days} days",
                PER_DEVICE.format(rows=overdue),
                "oldest_first_seen, device",
                age,
            )
            summary = f"{devices_overdue:,} devices with a high or critical fix older than {days} days ({fixes_overdue:,} fixes)"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        if fixes_undated:
            found = v.items(
                "devices with a high or critical fix of unknown age", PER_DEVICE.format(rows=undated), "device"
            )
            summary = f"no fix shown to be older than {days} days, but {fixes_undated:,} have no first-seen time"
            return CheckResult(check, Status.PARTIAL, summary, measures, found, v.entries)
        return CheckResult(
            check, Status.PASS, f"no high or critical fix older than {days} days", measures, None, v.entries
        )


def _devices(context: CheckContext, v: Views) -> int | None:
    """How many onboarded devices the count is out of, when the machines snapshot is there."""
    if not context.optional(v, "machines", EvidenceSource.DEFENDER_MACHINES):
        return None
    return v.one("SELECT count(*) FROM machines WHERE lower(onboarding_status) = 'onboarded'")[0]


#: Support already ended: the date has passed, or (undated) Defender says so.
ENDED = """
    (end_of_support_date <= $at OR (end_of_support_date IS NULL AND end_of_support_status IN ('EOS Version', 'EOS Software')))
"""
ENDING = """
    (end_of_support_date > $at AND end_of_support_date <= $at + to_days(CAST($days AS INTEGER)))
"""
PER_SOFTWARE = """
    SELECT concat_ws(' ', software_vendor, software_name, software_version) AS software,
           any_value(end_of_support_status) AS status, min(end_of_support_date) AS end_of_support,
           count(DISTINCT device_id) AS devices,
           array_to_string(list_slice(list(DISTINCT device_name ORDER BY device_name), 1, 5), ', ') AS device_names
    FROM software WHERE {condition}
    GROUP BY software_vendor, software_name, software_version
"""


def end_of_support(context: CheckContext) -> CheckResult:
    check = Check.SOFTWARE_END_OF_SUPPORT
    days = context.thresholds.support_ending_days
    with context.views(software=EvidenceSource.DEFENDER_SOFTWARE_EOL) as v:
        window = {"days": days}
        ended_devices, ending_devices = v.one(
            f"SELECT count(DISTINCT device_id) FILTER ({ENDED}), count(DISTINCT device_id) FILTER ({ENDING}) FROM software",
            window,
        )
        measures = (
            Measure("devices with software past its end of support", ended_devices),
            Measure(f"devices with software whose support ends within {days} days", ending_devices),
        )
        if ended_devices:
            found = v.items(
                "products past end of support", PER_SOFTWARE.format(condition=ENDED), "devices DESC, software"
            )
            summary = f"{found.total:,} products past end of support on {ended_devices:,} devices"
            return CheckResult(check, Status.FAIL, summary, measures, found, v.entries)
        flagged = v.items(
            f"products whose support ends within {days} days",
            PER_SOFTWARE.format(condition=ENDING),
            "end_of_support, software",
            window,
        )
        summary = f"no software past end of support; {flagged.total:,} products' support ends within {days} days"
        return CheckResult(check, Status.PASS, summary, measures, flagged if flagged.total else None, v.entries)
