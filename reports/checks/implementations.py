"""Every check name of ``reports.registry.Check`` and the function that runs it.

The mapping is a dict of functions, so a renamed function is an import error, not a check that
quietly never runs. A name whose evidence is not collected answers "not evidenced" with what would
collect it (``uncollected.NEEDED``); one with neither answers "not evidenced: check not implemented", and
a source without a usable snapshot answers "not evidenced" with the manifest's reason: neither is
ever a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from reports.checks.context import CheckContext, NotEvidenced
from reports.checks.devices import devices, malware, updates
from reports.checks.identity import access, accounts, admins, directory, factors, mfa, sharing, signins
from reports.checks.network import firewall, firewall_rules
from reports.checks.result import CheckResult, not_evidenced
from reports.checks.uncollected import NEEDED
from reports.registry import Check

CheckFunction = Callable[[CheckContext], CheckResult]

IMPLEMENTED: Mapping[Check, CheckFunction] = MappingProxyType(
    {
        Check.MFA_REGISTERED: mfa.registered_all_users,
        Check.MFA_ADMINS: mfa.admins,
        Check.MFA_ENFORCED: mfa.enforced_all_users,
        Check.SIGNINS_LEGACY_AUTH: signins.legacy_authentication,
        Check.ACCOUNTS_STALE: accounts.stale,
        Check.UPDATES_WITHIN_14_DAYS: updates.high_critical_within_14_days,
        Check.SOFTWARE_END_OF_SUPPORT: updates.end_of_support,
        Check.MALWARE_COVERAGE: malware.sensor_coverage,
        Check.MALWARE_AV_ACTIVE: malware.antivirus_active,
        Check.MALWARE_AV_CURRENT: malware.antivirus_up_to_date,
        Check.FIREWALL_INBOUND_EXPOSURE: firewall.inbound_exposure,
        Check.ACCOUNTS_INVENTORY: directory.inventory,
        Check.SCOPE_EXTERNAL_ACCOUNTS: directory.external_accounts,
        Check.ACCOUNTS_CREATED: directory.created_in_period,
        Check.ADMINS_SEPARATE: admins.separate_accounts,
        Check.ADMINS_DAILY_USE: admins.daily_use,
        Check.ADMINS_STANDING: admins.standing_privilege,
        Check.MFA_FACTOR_MIX: factors.factor_mix,
        Check.SIGNINS_SINGLE_FACTOR: signins.single_factor,
        Check.ACCESS_AUTHENTICATION_REQUIRED: access.authentication_required,
        Check.FIREWALL_ADMIN_MFA: access.admin_requires_mfa,
        Check.SCOPE_DEVICE_INVENTORY: devices.device_inventory,
        Check.SCOPE_CLOUD_SERVICES: access.cloud_services,
        Check.ACCOUNTS_SHARED: sharing.shared_suspected,
        Check.FIREWALL_RULES_DOCUMENTED: firewall_rules.inbound_rules_documented,
    }
)

NOT_IMPLEMENTED = "check not implemented"


def run_check(check: Check, context: CheckContext) -> CheckResult:
    """The result of ``check`` at ``context.at``: its own, or "not evidenced" with the reason."""
    function = IMPLEMENTED.get(check)
    if function is None:
        needed = NEEDED.get(check)
        return not_evidenced(check, str(needed) if needed else NOT_IMPLEMENTED)
    try:
        return function(context)
    except NotEvidenced as missing:
        return not_evidenced(check, missing.reason, missing.evidence)
