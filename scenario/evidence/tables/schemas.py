"""The columns of every evidence snapshot the demo writes, in one place.

They are the collectors' columns (``collectors/evidence/``: ``graph_directory``, ``legacy_signins``,
``intune``, ``defender_devices``, ``azure_firewall_rules``, ``awareness.columns``), which scenario cannot import (it is a
floor below collectors); ``tests/reports/test_demo_evidence.py`` holds the two lists together, so a
column renamed there fails the suite here rather than leaving the demo's snapshots unreadable to
the checks. ``EXTRA`` names the columns the demo writes that the collectors do not read yet
(none today). The awareness sources' columns are ``collectors/evidence/awareness/columns.py``'s.
"""

from __future__ import annotations

from types import MappingProxyType

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")
TEXT = pa.string()
FLAG = pa.bool_()
TEXTS = pa.list_(pa.string())

USERS = "graph.users"
REGISTRATION = "graph.authentication_methods"
POLICIES = "graph.conditional_access"
ROLES = "graph.directory_roles"
SIGNINS = "graph.signins"
INTUNE = "intune.compliance"
MACHINES = "defender.machines"
ANTIVIRUS = "defender.antivirus_health"
VULNERABILITIES = "defender.missing_updates"
SOFTWARE_EOL = "defender.software_eol"
FIREWALL_RULES = "azure_firewall.rules"
ATTACK_SIMULATION = "attack_simulation.results"
GOPHISH = "gophish.results"


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


_SCHEMAS = {
    USERS: _schema(
        ("id", TEXT),
        ("user_principal_name", TEXT),
        ("display_name", TEXT),
        ("account_enabled", FLAG),
        ("user_type", TEXT),
        ("created_at", TIME),
        ("on_premises_sync_enabled", FLAG),
        ("licence_count", pa.int32()),
        ("last_sign_in_at", TIME),
        ("last_non_interactive_sign_in_at", TIME),
        ("last_successful_sign_in_at", TIME),
        ("department", TEXT),
        ("mail", TEXT),
    ),
    REGISTRATION: _schema(
        ("id", TEXT),
        ("user_principal_name", TEXT),
        ("user_display_name", TEXT),
        ("user_type", TEXT),
        ("is_admin", FLAG),
        ("is_mfa_registered", FLAG),
        ("is_mfa_capable", FLAG),
        ("is_passwordless_capable", FLAG),
        ("is_sspr_registered", FLAG),
        ("methods_registered", TEXTS),
        ("preferred_secondary_method", TEXT),
        ("last_updated_at", TIME),
    ),
    POLICIES: _schema(
        ("id", TEXT),
        ("display_name", TEXT),
        ("state", TEXT),
        ("created_at", TIME),
        ("modified_at", TIME),
        ("include_users", TEXTS),
        ("exclude_users", TEXTS),
        ("include_groups", TEXTS),
        ("exclude_groups", TEXTS),
        ("include_roles", TEXTS),
        ("exclude_roles", TEXTS),
        ("include_applications", TEXTS),
        ("exclude_applications", TEXTS),
        ("client_app_types", TEXTS),
        ("grant_operator", TEXT),
        ("built_in_controls", TEXTS),
        ("authentication_strength", TEXT),
        ("conditions", TEXT),
        ("grant_controls", TEXT),
        ("session_controls", TEXT),
    ),
    ROLES: _schema(
        ("role_id", TEXT),
        ("role_template_id", TEXT),
        ("role_name", TEXT),
        ("member_id", TEXT),
        ("member_type", TEXT),
        ("member_user_principal_name", TEXT),
        ("member_display_name", TEXT),
    ),
    SIGNINS: _schema(
        ("id", TEXT),
        ("created_at", TIME),
        ("user_id", TEXT),
        ("user_principal_name", TEXT),
        ("app_display_name", TEXT),
        ("client_app_used", TEXT),
        ("is_interactive", FLAG),
        ("error_code", pa.int64()),
        ("conditional_access_status", TEXT),
        ("ip_address", TEXT),
        ("authentication_requirement", TEXT),
        ("device_id", TEXT),
        ("device_name", TEXT),
        ("device_operating_system", TEXT),
    ),
    INTUNE: _schema(
        ("id", TEXT),
        ("device_name", TEXT),
        ("user_principal_name", TEXT),
        ("azure_ad_device_id", TEXT),
        ("operating_system", TEXT),
        ("os_version", TEXT),
        ("compliance_state", TEXT),
        ("owner_type", TEXT),
        ("management_agent", TEXT),
        ("is_encrypted", FLAG),
        ("jail_broken", TEXT),
        ("enrolled_at", TIME),
        ("last_sync_at", TIME),
        ("grace_period_expires_at", TIME),
    ),
    MACHINES: _schema(
        ("id", TEXT),
        ("computer_dns_name", TEXT),
        ("aad_device_id", TEXT),
        ("first_seen", TIME),
        ("last_seen", TIME),
        ("os_platform", TEXT),
        ("os_version", TEXT),
        ("os_build", pa.int64()),
        ("health_status", TEXT),
        ("onboarding_status", TEXT),
        ("defender_av_status", TEXT),
        ("risk_score", TEXT),
        ("exposure_level", TEXT),
        ("device_value", TEXT),
        ("rbac_group_name", TEXT),
        ("machine_tags", TEXTS),
        ("is_aad_joined", FLAG),
    ),
    ANTIVIRUS: _schema(
        ("machine_id", TEXT),
        ("computer_dns_name", TEXT),
        ("os_platform", TEXT),
        ("av_mode", TEXT),
        ("signature_version", TEXT),
        ("engine_version", TEXT),
        ("platform_version", TEXT),
        ("signature_up_to_date", FLAG),
        ("engine_up_to_date", FLAG),
        ("platform_up_to_date", FLAG),
        ("signature_published_at", TIME),
        ("signature_updated_at", TIME),
        ("quick_scan_result", TEXT),
        ("quick_scan_at", TIME),
        ("full_scan_result", TEXT),
        ("last_seen", TIME),
        ("data_refreshed_at", TIME),
    ),
    VULNERABILITIES: _schema(
        ("id", TEXT),
        ("device_id", TEXT),
        ("device_name", TEXT),
        ("os_platform", TEXT),
        ("software_vendor", TEXT),
        ("software_name", TEXT),
        ("software_version", TEXT),
        ("cve_id", TEXT),
        ("severity", TEXT),
        ("cvss_score", pa.float64()),
        ("exploitability_level", TEXT),
        ("security_update_available", FLAG),
        ("recommended_security_update", TEXT),
        ("recommended_security_update_id", TEXT),
        ("first_seen", TIME),
        ("last_seen", TIME),
    ),
    SOFTWARE_EOL: _schema(
        ("device_id", TEXT),
        ("device_name", TEXT),
        ("os_platform", TEXT),
        ("software_vendor", TEXT),
        ("software_name", TEXT),
        ("software_version", TEXT),
        ("end_of_support_status", TEXT),
        ("end_of_support_date", TIME),
        ("number_of_weaknesses", pa.int64()),
        ("first_seen", TIME),
    ),
    FIREWALL_RULES: _schema(
        ("policy_id", TEXT),
        ("group_name", TEXT),
        ("group_priority", pa.int64()),
        ("collection_name", TEXT),
        ("collection_type", TEXT),
        ("collection_priority", pa.int64()),
        ("action", TEXT),
        ("rule_name", TEXT),
        ("rule_type", TEXT),
        ("description", TEXT),
        ("source_addresses", TEXTS),
        ("source_ip_groups", TEXTS),
        ("destination_addresses", TEXTS),
        ("destination_fqdns", TEXTS),
        ("destination_ports", TEXTS),
        ("ip_protocols", TEXTS),
        ("target_fqdns", TEXTS),
        ("translated_address", TEXT),
        ("translated_port", TEXT),
        ("application_protocols", TEXT),
    ),
    # Attack Simulation Training: one row per targeted user of a simulation (userSimulationDetails).
    ATTACK_SIMULATION: _schema(
        ("simulation_id", TEXT),
        ("simulation_name", TEXT),
        ("attack_technique", TEXT),
        ("attack_type", TEXT),
        ("simulation_status", TEXT),
        ("delivery_platform", TEXT),
        ("launched_at", TIME),
        ("completed_at", TIME),
        ("user_id", TEXT),
        ("email", TEXT),
        ("is_compromised", FLAG),
        ("compromised_at", TIME),
        ("reported_at", TIME),
        ("delivered_at", TIME),
        ("delivery_failed_at", TIME),
        ("clicked_at", TIME),
        ("credentials_at", TIME),
        ("assigned_trainings", pa.int32()),
        ("completed_trainings", pa.int32()),
        ("in_progress_trainings", pa.int32()),
        ("training_statuses", TEXTS),
        ("events", TEXT),
    ),
    # GoPhish: one row per recipient of a campaign, with the first time of each timeline event.
    GOPHISH: _schema(
        ("campaign_id", TEXT),
        ("campaign_name", TEXT),
        ("campaign_status", TEXT),
        ("launched_at", TIME),
        ("completed_at", TIME),
        ("result_id", TEXT),
        ("email", TEXT),
        ("position", TEXT),
        ("status", TEXT),
        ("reported", FLAG),
        ("sent_at", TIME),
        ("opened_at", TIME),
        ("clicked_at", TIME),
        ("submitted_at", TIME),
        ("reported_at", TIME),
        ("origin", TEXT),
    ),
}

SCHEMAS = MappingProxyType(_SCHEMAS)

#: Columns the demo writes beyond the collectors' (source -> names); see the module's docstring.
EXTRA: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({})
