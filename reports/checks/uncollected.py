"""Checks whose evidence Cyberwell does not collect yet, and what would collect it.

A check here is not a placeholder: it answers "not evidenced", naming the evidence source, the
Microsoft API that provides it and the permission the app registration needs, so the report
tells the council what to turn on. Nothing is guessed from a neighbouring source: a device
being "compliant" in Intune says nothing about which settings the policy holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reports.registry import Check, EvidenceSource


@dataclass(frozen=True)
class Needed:
    """What a check needs: the source, the call that reads it and the permission for the call."""

    source: EvidenceSource
    api: str
    permission: str
    reads: str

    def __str__(self) -> str:
        return f"needs {self.source.value}, not collected: {self.reads} from {self.api} ({self.permission})"


_PASSWORD_SETTINGS = "GET /beta/settings, the 'Password Rule Settings' template"
_COMPLIANCE_POLICIES = "Graph GET /deviceManagement/deviceCompliancePolicies"
_CONFIGURATIONS = "Graph GET /deviceManagement/deviceConfigurations"
_INTUNE_CONFIG = "DeviceManagementConfiguration.Read.All"
_SECURE_CONFIG = "Defender GET /api/machines/SecureConfigurationsAssessmentByMachine"
_DEFENDER_VULN = "Defender Vulnerability.Read.All"

NEEDED: Mapping[Check, Needed] = MappingProxyType(
    {
        Check.PASSWORDS_LOCKOUT: Needed(
            EvidenceSource.GRAPH_PASSWORD_POLICY, _PASSWORD_SETTINGS, "Graph Directory.Read.All", "LockoutThreshold"
        ),
        Check.PASSWORDS_QUALITY: Needed(
            EvidenceSource.GRAPH_PASSWORD_POLICY,
            _PASSWORD_SETTINGS,
            "Graph Directory.Read.All",
            "EnableBannedPasswordCheck and BannedPasswordList",
        ),
        Check.PASSWORDS_NO_EXPIRY: Needed(
            EvidenceSource.GRAPH_PASSWORD_POLICY,
            "Graph GET /domains and the users' passwordPolicies",
            "Graph Domain.Read.All and User.Read.All",
            "passwordValidityPeriodInDays and DisablePasswordExpiration",
        ),
        Check.DEVICE_LOCK_REQUIRED: Needed(
            EvidenceSource.INTUNE_COMPLIANCE,
            _COMPLIANCE_POLICIES,
            f"Graph {_INTUNE_CONFIG}",
            "the compliance policies' passwordRequired and passwordMinutesOfInactivityBeforeLock "
            "(only the managed devices' states are collected)",
        ),
        Check.DEVICE_PIN_LENGTH: Needed(
            EvidenceSource.INTUNE_COMPLIANCE,
            _COMPLIANCE_POLICIES,
            f"Graph {_INTUNE_CONFIG}",
            "the compliance policies' passwordMinimumLength (only the managed devices' states are collected)",
        ),
        Check.DEVICE_UNLOCK_THROTTLED: Needed(
            EvidenceSource.INTUNE_COMPLIANCE,
            _CONFIGURATIONS,
            f"Graph {_INTUNE_CONFIG}",
            "the device restriction profiles' failed sign-in count before wipe or lock",
        ),
        Check.UPDATES_AUTOMATIC: Needed(
            EvidenceSource.INTUNE_UPDATE_RINGS,
            f"{_CONFIGURATIONS} (windowsUpdateForBusinessConfiguration) and their assignments",
            f"Graph {_INTUNE_CONFIG}",
            "each update ring's automaticUpdateMode, deferral and deadline",
        ),
        Check.DEVICE_AUTORUN_DISABLED: Needed(
            EvidenceSource.DEFENDER_SECURE_CONFIGURATION,
            _SECURE_CONFIG,
            _DEFENDER_VULN,
            "the AutoPlay and AutoRun configuration items per device (isApplicable, isCompliant)",
        ),
        Check.FIREWALL_HOST_ENABLED: Needed(
            EvidenceSource.DEFENDER_SECURE_CONFIGURATION,
            _SECURE_CONFIG,
            _DEFENDER_VULN,
            "the Defender Firewall items per device and profile (scid-2070 to scid-2073)",
        ),
        Check.MALWARE_WEB_PROTECTION: Needed(
            EvidenceSource.DEFENDER_SECURE_CONFIGURATION,
            _SECURE_CONFIG,
            _DEFENDER_VULN,
            "the SmartScreen and network protection items per device (scid-2060, scid-2061)",
        ),
        Check.SOFTWARE_UNAPPROVED: Needed(
            EvidenceSource.DEFENDER_SOFTWARE_INVENTORY,
            "Defender GET /api/machines/SoftwareInventoryByMachine (every row; only end-of-support rows are kept today)",
            "Defender Software.Read.All",
            "every product installed per device, to compare with an approved-software register",
        ),
        Check.DEVICE_LOCAL_ADMIN: Needed(
            EvidenceSource.DEFENDER_DEVICE_LOGONS,
            "Defender POST /api/advancedqueries/run over DeviceLogonEvents",
            "Defender AdvancedQuery.Read.All",
            "logons with IsLocalAdmin by accounts that hold no administrator role",
        ),
        Check.FIREWALL_RULES_UNUSED: Needed(
            EvidenceSource.AZURE_FIREWALL_LOGS,
            "the event store's Azure Firewall rule logs (AZFWNetworkRule, AZFWNatRule, AZFWApplicationRule "
            "through Log Analytics, the azure-firewall collector), counted per rule",
            "Log Analytics Reader on the workspace",
            "hit counts per rule over the review period (the report reads snapshots only today)",
        ),
    }
)
