"""The device inventories reconciled (``scope.device_inventory``): Defender's machines, Intune's
managed devices and the devices the sign-in log names, matched by Entra device id.

A gap is a device one inventory has and another should: a Windows or macOS device Intune manages
that Defender has not onboarded, a client Defender sees that Intune does not manage, or a device
Entra knows (joined or registered) that signs in yet is in neither, typically a personal device.
Servers are Defender's alone and mobiles Intune's alone, so neither is a gap. Sign-ins from
devices Entra does not know at all carry no id: they are counted, not listed, and the devices
behind them are for attestation.
"""

from __future__ import annotations

from reports.checks.context import CheckContext
from reports.checks.result import CheckResult, Measure, Status
from reports.registry import Check, EvidenceSource

DEFENDER = """
    SELECT lower(aad_device_id) AS key, computer_dns_name AS device, os_platform AS os
    FROM machines WHERE lower(onboarding_status) = 'onboarded'
"""
INTUNE = (
    "SELECT lower(azure_ad_device_id) AS key, device_name AS device, operating_system AS os, owner_type FROM intune"
)

GAPS = f"""
    SELECT device, key AS device_id, os AS operating_system, 'Intune' AS seen_in, 'Defender' AS missing_from
    FROM ({INTUNE}) WHERE os IN ('Windows', 'macOS') AND key NOT IN (SELECT key FROM ({DEFENDER}) WHERE key IS NOT NULL)
    UNION ALL
    SELECT device, key, os, 'Defender', 'Intune'
    FROM ({DEFENDER}) WHERE os NOT ILIKE 'WindowsServer%'
      AND coalesce(key, '') NOT IN (SELECT key FROM ({INTUNE}) WHERE key IS NOT NULL)
"""
SIGNED_IN = """
    SELECT lower(device_id) AS key, any_value(device_name) AS device, any_value(device_operating_system) AS os
    FROM signins WHERE error_code = 0 AND created_at <= $at AND coalesce(device_id, '') <> ''
    GROUP BY lower(device_id)
"""
UNMANAGED = f"""
    SELECT device, key AS device_id, os AS operating_system, 'sign-ins' AS seen_in, 'Intune and Defender' AS missing_from
    FROM ({SIGNED_IN})
    WHERE key NOT IN (SELECT key FROM ({DEFENDER}) WHERE key IS NOT NULL)
      AND key NOT IN (SELECT key FROM ({INTUNE}) WHERE key IS NOT NULL)
"""


def device_inventory(context: CheckContext) -> CheckResult:
    check = Check.SCOPE_DEVICE_INVENTORY
    with context.views(machines=EvidenceSource.DEFENDER_MACHINES, intune=EvidenceSource.INTUNE_COMPLIANCE) as v:
        has_devices = context.optional(v, "signins", EvidenceSource.GRAPH_SIGNINS) and "device_id" in {
            row[0] for row in v.con.execute("DESCRIBE signins").fetchall()
        }
        gaps = f"{GAPS} UNION ALL {UNMANAGED}" if has_devices else GAPS
        defender, intune, personal = v.one(
            f"SELECT (SELECT count(*) FROM ({DEFENDER})), (SELECT count(*) FROM ({INTUNE})), "
            f"(SELECT count(*) FROM ({INTUNE}) WHERE lower(owner_type) = 'personal')"
        )
        measures = [
            Measure("devices onboarded to Defender", defender),
            Measure("devices managed by Intune", intune),
            Measure("personal devices enrolled in Intune", personal),
        ]
        if has_devices:
            signed, unknown = v.one(
                f"SELECT (SELECT count(*) FROM ({SIGNED_IN})), (SELECT count(*) FROM signins WHERE error_code = 0 "
                "AND created_at <= $at AND coalesce(device_id, '') = '')"
            )
            measures += [
                Measure("devices Entra knows that signed in", signed),
                Measure("successful sign-ins from devices Entra does not know", unknown),
            ]
        found = v.items("devices missing from an inventory", gaps, "missing_from, seen_in, device")
        where = "" if has_devices else " (no sign-in snapshot with devices: Intune and Defender only)"
        if found.total:
            are = "device is" if found.total == 1 else "devices are"
            summary = f"{found.total:,} {are} in one inventory and missing from another{where}"
            return CheckResult(check, Status.PARTIAL, summary, tuple(measures), found, v.entries)
        summary = f"Defender's {defender:,} and Intune's {intune:,} devices reconcile{where}"
        return CheckResult(check, Status.PASS, summary, tuple(measures), None, v.entries)
