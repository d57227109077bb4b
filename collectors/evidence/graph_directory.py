"""Entra ID directory evidence through Microsoft Graph: users (enabled, type, licences, last
sign-in, so stale and disabled accounts can be found), their authentication-method registration,
Conditional Access policies, and directory roles with their members.

MFA registration comes from ``reports/authenticationMethods/userRegistrationDetails``: one call
pages through every user's registration, where asking each user's ``authentication/methods``
would be one call per user (5,000 calls for a council). It needs an Entra ID P1 or P2 licence, as
does ``signInActivity`` on users. ``directoryRoles`` lists the roles that have been activated and
their active members; eligible (PIM) assignments are not in it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from collectors.evidence.columns import TEXT_LIST, TIME, Column, col
from collectors.evidence.job import EvidenceJob, GraphListing, Records
from microsoft.graph import Access, GraphReader

USERS = "graph.users"
AUTHENTICATION_METHODS = "graph.authentication_methods"
CONDITIONAL_ACCESS = "graph.conditional_access"
DIRECTORY_ROLES = "graph.directory_roles"

P1 = "an Entra ID P1 or P2 licence"
USERS_ACCESS = Access("users with their sign-in activity", ("User.Read.All", "AuditLog.Read.All"), licence=P1)
REGISTRATION_ACCESS = Access("authentication-method registration details", ("AuditLog.Read.All",), licence=P1)
POLICIES_ACCESS = Access("Conditional Access policies", ("Policy.Read.All",))
ROLES_ACCESS = Access("directory roles and their members", ("RoleManagement.Read.Directory",))

USER_COLUMNS = (
    col("id", pa.string(), "id"),
    col("user_principal_name", pa.string(), "userPrincipalName"),
    col("display_name", pa.string(), "displayName"),
    col("account_enabled", pa.bool_(), "accountEnabled"),
    col("user_type", pa.string(), "userType"),
    col("created_at", TIME, "createdDateTime"),
    col("on_premises_sync_enabled", pa.bool_(), "onPremisesSyncEnabled"),
    col("licence_count", pa.int32(), "assignedLicenses", kind="count"),
    col("last_sign_in_at", TIME, "signInActivity.lastSignInDateTime"),
    col("last_non_interactive_sign_in_at", TIME, "signInActivity.lastNonInteractiveSignInDateTime"),
    col("last_successful_sign_in_at", TIME, "signInActivity.lastSuccessfulSignInDateTime"),
    # The awareness report counts people by department (docs/awareness.md).
    col("department", pa.string(), "department"),
    col("mail", pa.string(), "mail"),
)
USER_SELECT = [
    "id",
    "userPrincipalName",
    "displayName",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "assignedLicenses",
    "signInActivity",
    "department",
    "mail",
]

REGISTRATION_COLUMNS = (
    col("id", pa.string(), "id"),
    col("user_principal_name", pa.string(), "userPrincipalName"),
    col("user_display_name", pa.string(), "userDisplayName"),
    col("user_type", pa.string(), "userType"),
    col("is_admin", pa.bool_(), "isAdmin"),
    col("is_mfa_registered", pa.bool_(), "isMfaRegistered"),
    col("is_mfa_capable", pa.bool_(), "isMfaCapable"),
    col("is_passwordless_capable", pa.bool_(), "isPasswordlessCapable"),
    col("is_sspr_registered", pa.bool_(), "isSsprRegistered"),
    col("methods_registered", TEXT_LIST, "methodsRegistered"),
    col("preferred_secondary_method", pa.string(), "userPreferredMethodForSecondaryAuthentication"),
    col("last_updated_at", TIME, "lastUpdatedDateTime"),
)

POLICY_COLUMNS = (
    col("id", pa.string(), "id"),
    col("display_name", pa.string(), "displayName"),
    col("state", pa.string(), "state"),
    col("created_at", TIME, "createdDateTime"),
    col("modified_at", TIME, "modifiedDateTime"),
    col("include_users", TEXT_LIST, "conditions.users.includeUsers"),
    col("exclude_users", TEXT_LIST, "conditions.users.excludeUsers"),
    col("include_groups", TEXT_LIST, "conditions.users.includeGroups"),
    col("exclude_groups", TEXT_LIST, "conditions.users.excludeGroups"),
    col("include_roles", TEXT_LIST, "conditions.users.includeRoles"),
    col("exclude_roles", TEXT_LIST, "conditions.users.excludeRoles"),
    col("include_applications", TEXT_LIST, "conditions.applications.includeApplications"),
    col("exclude_applications", TEXT_LIST, "conditions.applications.excludeApplications"),
    col("client_app_types", TEXT_LIST, "conditions.clientAppTypes"),
    col("grant_operator", pa.string(), "grantControls.operator"),
    col("built_in_controls", TEXT_LIST, "grantControls.builtInControls"),
    col("authentication_strength", pa.string(), "grantControls.authenticationStrength.displayName"),
    # The whole of each part too: the checks of tomorrow may need a condition not unpacked here.
    col("conditions", pa.string(), "conditions", kind="json"),
    col("grant_controls", pa.string(), "grantControls", kind="json"),
    col("session_controls", pa.string(), "sessionControls", kind="json"),
)

ROLE_MEMBER_COLUMNS = (
    col("role_id", pa.string(), "role.id"),
    col("role_template_id", pa.string(), "role.roleTemplateId"),
    col("role_name", pa.string(), "role.displayName"),
    col("member_id", pa.string(), "member.id"),
    Column("member_type", pa.string(), ("member", "@odata.type")),  # a dotted key: not col()
    col("member_user_principal_name", pa.string(), "member.userPrincipalName"),
    col("member_display_name", pa.string(), "member.displayName"),
)


def users(reader: Callable[[], GraphReader], page_size: int = 999) -> GraphListing:
    """Every user with the fields that tell an active, stale or disabled account apart."""
    return GraphListing(
        USERS,
        USER_COLUMNS,
        lambda client: client.users,
        USERS_ACCESS,
        reader,
        {"select": USER_SELECT, "top": min(page_size, 999)},
    )


def authentication_methods(reader: Callable[[], GraphReader]) -> GraphListing:
    return GraphListing(
        AUTHENTICATION_METHODS,
        REGISTRATION_COLUMNS,
        lambda client: client.reports.authentication_methods.user_registration_details,
        REGISTRATION_ACCESS,
        reader,
    )


def conditional_access(reader: Callable[[], GraphReader]) -> GraphListing:
    return GraphListing(
        CONDITIONAL_ACCESS,
        POLICY_COLUMNS,
        lambda client: client.identity.conditional_access.policies,
        POLICIES_ACCESS,
        reader,
    )


@dataclass(frozen=True)
class DirectoryRoles:
    """One row per (activated role, member); a role without members is a row with no member,
    so an empty Global Administrator role is seen, not missed."""

    reader: Callable[[], GraphReader]
    source: str = DIRECTORY_ROLES
    columns: Sequence[Column] = ROLE_MEMBER_COLUMNS

    async def pages(self) -> AsyncGenerator[Records]:
        reader = self.reader()
        try:
            roles: list[dict[str, Any]] = []
            async for page in reader.pages(lambda client: client.directory_roles, {}, ROLES_ACCESS):
                roles.extend(page.records)  # a few dozen at most: the directory's role catalogue
            for role in roles:
                async for rows in self._members(reader, role):
                    yield rows
        finally:
            await reader.close()

    async def _members(self, reader: GraphReader, role: dict[str, Any]) -> AsyncIterator[Records]:
        role_id = str(role.get("id"))
        any_member = False
        async for page in reader.pages(
            lambda client: client.directory_roles.by_directory_role_id(role_id).members, {}, ROLES_ACCESS
        ):
            any_member = any_member or bool(page.records)
            yield [{"role": role, "member": member} for member in page.records]
        if not any_member:
            yield [{"role": role, "member": None}]


def jobs(reader: Callable[[], GraphReader], page_size: int = 999) -> list[EvidenceJob]:
    return [
        users(reader, page_size),
        authentication_methods(reader),
        conditional_access(reader),
        DirectoryRoles(reader),
    ]
