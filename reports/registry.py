"""The closed vocabularies a compliance catalogue may use: where evidence comes from, and the
checks a requirement is judged by.

They are closed because a catalogue that names a source nobody collects, or a check nobody
implements, would read as covered while proving nothing. Each name carries a one-line description
here, as data, so the catalogue's documentation and its error messages say what a name means. The
check implementations (to come) will be looked up by these enum members, never by a module path
written in a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class EvidenceSource(StrEnum):
    """Where a piece of evidence comes from: a Microsoft API, or a person's attestation."""

    GRAPH_USERS = "graph.users"
    GRAPH_AUTHENTICATION_METHODS = "graph.authentication_methods"
    GRAPH_CONDITIONAL_ACCESS = "graph.conditional_access"
    GRAPH_SECURITY_DEFAULTS = "graph.security_defaults"
    GRAPH_DIRECTORY_ROLES = "graph.directory_roles"
    GRAPH_DIRECTORY_AUDITS = "graph.directory_audits"
    GRAPH_SIGNINS = "graph.signins"
    GRAPH_PASSWORD_POLICY = "graph.password_policy"
    DEFENDER_MACHINES = "defender.machines"
    DEFENDER_ANTIVIRUS_HEALTH = "defender.antivirus_health"
    DEFENDER_MISSING_UPDATES = "defender.missing_updates"
    DEFENDER_SOFTWARE_EOL = "defender.software_eol"
    DEFENDER_SOFTWARE_INVENTORY = "defender.software_inventory"
    DEFENDER_SECURE_CONFIGURATION = "defender.secure_configuration"
    DEFENDER_DEVICE_LOGONS = "defender.device_logons"
    INTUNE_COMPLIANCE = "intune.compliance"
    INTUNE_UPDATE_RINGS = "intune.update_rings"
    AZURE_FIREWALL_RULES = "azure_firewall.rules"
    AZURE_FIREWALL_LOGS = "azure_firewall.logs"
    ATTESTATION = "attestation"


EVIDENCE_SOURCES: Mapping[EvidenceSource, str] = MappingProxyType(
    {
        EvidenceSource.GRAPH_USERS: "Entra users: enabled state, type (member or guest), licences, last successful sign-in.",
        EvidenceSource.GRAPH_AUTHENTICATION_METHODS: "Entra authentication-method registration per user (MFA capable, registered methods, admin flag).",
        EvidenceSource.GRAPH_CONDITIONAL_ACCESS: "Entra Conditional Access policies: state, users and apps covered, grant controls.",
        EvidenceSource.GRAPH_SECURITY_DEFAULTS: "Whether Entra security defaults are switched on for the tenant.",
        EvidenceSource.GRAPH_DIRECTORY_ROLES: "Entra directory role assignments (active and eligible) and their members.",
        EvidenceSource.GRAPH_DIRECTORY_AUDITS: "Entra directory audit log: who created, changed or disabled an account, and when.",
        EvidenceSource.GRAPH_SIGNINS: "Entra sign-in log: client app (legacy protocols), factors used, Conditional Access result.",
        EvidenceSource.GRAPH_PASSWORD_POLICY: "Entra password settings: smart-lockout threshold, banned-password list, password expiry.",
        EvidenceSource.DEFENDER_MACHINES: "Defender for Endpoint machines: onboarding, sensor health, OS and build, tags, last seen.",
        EvidenceSource.DEFENDER_ANTIVIRUS_HEALTH: "Defender antivirus health per device: mode, signature, engine and platform currency.",
        EvidenceSource.DEFENDER_MISSING_UPDATES: "Defender vulnerability management: open vulnerabilities per device, severity, CVSS, fix and its age.",
        EvidenceSource.DEFENDER_SOFTWARE_EOL: "Defender software inventory end-of-support status and dates per device.",
        EvidenceSource.DEFENDER_SOFTWARE_INVENTORY: "Defender software inventory: vendor, product and version installed per device.",
        EvidenceSource.DEFENDER_SECURE_CONFIGURATION: "Defender secure-configuration assessment per device (host firewall, AutoRun, SmartScreen, protection settings).",
        EvidenceSource.DEFENDER_DEVICE_LOGONS: "Defender device logon events, including whether the account was a local administrator.",
        EvidenceSource.INTUNE_COMPLIANCE: "Intune compliance policies and each managed device's compliance state and ownership.",
        EvidenceSource.INTUNE_UPDATE_RINGS: "Intune Windows update rings: assignment, automatic-install mode, deferral and deadline.",
        EvidenceSource.AZURE_FIREWALL_RULES: "Azure Firewall policy rule collections: NAT, network and application rules with descriptions.",
        EvidenceSource.AZURE_FIREWALL_LOGS: "Azure Firewall rule logs in the store: which rule matched each flow, for hit counts.",
        EvidenceSource.ATTESTATION: "A named person's dated statement with an evidence file, for what telemetry cannot show.",
    }
)


class Check(StrEnum):
    """A named test a requirement is judged by. Only names for now; implementations come later."""

    SCOPE_DEVICE_INVENTORY = "scope.device_inventory"
    SCOPE_CLOUD_SERVICES = "scope.cloud_services"
    SCOPE_EXTERNAL_ACCOUNTS = "scope.external_accounts"
    FIREWALL_HOST_ENABLED = "firewall.host_firewall_enabled"
    FIREWALL_ADMIN_MFA = "firewall.admin_requires_mfa"
    FIREWALL_INBOUND_EXPOSURE = "firewall.inbound_exposure"
    FIREWALL_RULES_DOCUMENTED = "firewall.inbound_rules_documented"
    FIREWALL_RULES_UNUSED = "firewall.unused_rules"
    ACCOUNTS_STALE = "accounts.stale"
    ACCOUNTS_INVENTORY = "accounts.inventory"
    ACCOUNTS_CREATED = "accounts.created_in_period"
    ACCOUNTS_SHARED = "accounts.shared_suspected"
    SOFTWARE_UNAPPROVED = "software.unapproved"
    SOFTWARE_END_OF_SUPPORT = "software.end_of_support"
    DEVICE_AUTORUN_DISABLED = "device.autorun_disabled"
    DEVICE_LOCK_REQUIRED = "device.lock_required"
    DEVICE_UNLOCK_THROTTLED = "device.unlock_throttled"
    DEVICE_PIN_LENGTH = "device.pin_length"
    DEVICE_LOCAL_ADMIN = "device.local_admin_users"
    ACCESS_AUTHENTICATION_REQUIRED = "access.authentication_required"
    UPDATES_AUTOMATIC = "updates.automatic"
    UPDATES_WITHIN_14_DAYS = "updates.high_critical_within_14_days"
    MFA_REGISTERED = "mfa.registered_all_users"
    MFA_ENFORCED = "mfa.enforced_all_users"
    MFA_ADMINS = "mfa.admins"
    MFA_FACTOR_MIX = "mfa.factor_mix"
    SIGNINS_SINGLE_FACTOR = "signins.single_factor"
    SIGNINS_LEGACY_AUTH = "signins.legacy_authentication"
    ADMINS_SEPARATE = "admins.separate_accounts"
    ADMINS_DAILY_USE = "admins.daily_use"
    ADMINS_STANDING = "admins.standing_privilege"
    PASSWORDS_LOCKOUT = "passwords.lockout_threshold"
    PASSWORDS_QUALITY = "passwords.quality"
    PASSWORDS_NO_EXPIRY = "passwords.no_expiry"
    MALWARE_COVERAGE = "malware.sensor_coverage"
    MALWARE_AV_ACTIVE = "malware.antivirus_active"
    MALWARE_AV_CURRENT = "malware.antivirus_up_to_date"
    MALWARE_WEB_PROTECTION = "malware.web_protection"


CHECKS: Mapping[Check, str] = MappingProxyType(
    {
        Check.SCOPE_DEVICE_INVENTORY: "Entra, Intune and Defender device lists reconciled; devices seen in sign-ins but managed by none are listed.",
        Check.SCOPE_CLOUD_SERVICES: "Applications signed in to during the period, listed as candidate in-scope cloud services with their MFA coverage.",
        Check.SCOPE_EXTERNAL_ACCOUNTS: "Guest and external accounts listed for the third-party account review.",
        Check.FIREWALL_HOST_ENABLED: "Host firewall on in every profile, public included, on every managed device.",
        Check.FIREWALL_ADMIN_MFA: "Sign-in to Azure management, where Azure Firewall is administered, requires MFA.",
        Check.FIREWALL_INBOUND_EXPOSURE: "Azure Firewall inbound (NAT) and network rules that admit internet sources, management ports first.",
        Check.FIREWALL_RULES_DOCUMENTED: "Every inbound Azure Firewall rule's description names its business need and approver.",
        Check.FIREWALL_RULES_UNUSED: "Azure Firewall rules with no hits in the review period, listed for removal.",
        Check.ACCOUNTS_STALE: "Enabled accounts with no successful sign-in within the inactivity threshold (90 days unless set).",
        Check.ACCOUNTS_INVENTORY: "Every account with its type, where its password lives and the methods it signs in with.",
        Check.ACCOUNTS_CREATED: "Accounts created in the period with who created them, to reconcile against approvals.",
        Check.ACCOUNTS_SHARED: "Accounts with generic names or sign-ins from many devices at once, listed as possibly shared.",
        Check.SOFTWARE_UNAPPROVED: "Installed software not on the approved-software register.",
        Check.SOFTWARE_END_OF_SUPPORT: "Operating systems and software past end of support on in-scope devices; support ending within 90 days flagged.",
        Check.DEVICE_AUTORUN_DISABLED: "AutoPlay and AutoRun disabled on every applicable Windows device.",
        Check.DEVICE_LOCK_REQUIRED: "A compliance policy requiring a password, PIN or biometric and an idle lock covers every managed device.",
        Check.DEVICE_UNLOCK_THROTTLED: "Device unlock locks or wipes after at most 10 failed attempts where it can be configured.",
        Check.DEVICE_PIN_LENGTH: "Device unlock PIN or password is at least 6 characters.",
        Check.DEVICE_LOCAL_ADMIN: "Standard users who sign in to devices as local administrators.",
        Check.ACCESS_AUTHENTICATION_REQUIRED: "Conditional Access covers all users and all cloud apps, so no service is reached without signing in.",
        Check.UPDATES_AUTOMATIC: "Every managed device is in an update ring that installs automatically.",
        Check.UPDATES_WITHIN_14_DAYS: "No high, critical, CVSS 7+ or unrated vulnerability whose fix is older than 14 days on an in-scope device.",
        Check.MFA_REGISTERED: "Every enabled member account is registered for MFA.",
        Check.MFA_ENFORCED: "An enabled policy (Conditional Access or security defaults) requires MFA for all users and all cloud apps.",
        Check.MFA_ADMINS: "Every directory-role holder is registered for MFA and covered by a policy requiring it.",
        Check.MFA_FACTOR_MIX: "Which kinds of second factor users have registered (informational).",
        Check.SIGNINS_SINGLE_FACTOR: "Successful interactive sign-ins that were satisfied by one factor.",
        Check.SIGNINS_LEGACY_AUTH: "Successful sign-ins over legacy protocols, and whether a policy blocks them.",
        Check.ADMINS_SEPARATE: "Directory-role holders whose account is also a licensed everyday account.",
        Check.ADMINS_DAILY_USE: "Administrator accounts signing in to email, web or office apps.",
        Check.ADMINS_STANDING: "Permanent active administrator assignments beyond break-glass accounts, and stale privileged accounts.",
        Check.PASSWORDS_LOCKOUT: "Smart-lockout threshold at most 10, or MFA enforced for everyone.",
        Check.PASSWORDS_QUALITY: "MFA enforced for everyone, or cloud passwords of 8+ characters with a banned-password list.",
        Check.PASSWORDS_NO_EXPIRY: "Passwords are not set to expire on a schedule.",
        Check.MALWARE_COVERAGE: "Every in-scope managed device is onboarded to Defender and its sensor is reporting.",
        Check.MALWARE_AV_ACTIVE: "Antivirus in active mode with real-time protection on every onboarded device.",
        Check.MALWARE_AV_CURRENT: "Antivirus signatures, engine and platform up to date on every active device.",
        Check.MALWARE_WEB_PROTECTION: "Network protection and SmartScreen block malicious websites on every onboarded device.",
    }
)


class AwarenessSource(StrEnum):
    """Where awareness-campaign evidence comes from. Kept apart from :class:`EvidenceSource`:
    Cyber Essentials has no awareness control, so no catalogue requirement may be judged by these,
    and the awareness report is their only reader."""

    ATTACK_SIMULATION = "attack_simulation.results"
    GOPHISH = "gophish.results"


AWARENESS_SOURCES: Mapping[AwarenessSource, str] = MappingProxyType(
    {
        AwarenessSource.ATTACK_SIMULATION: "Microsoft Defender Attack Simulation Training: each launched simulation's users, with delivery, click, compromise, report and training.",
        AwarenessSource.GOPHISH: "GoPhish campaigns (API or exported files): each recipient's furthest step, whether they reported, and the timeline's times.",
    }
)
