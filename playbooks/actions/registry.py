"""Which actions exist, and which of them this installation can run.

:data:`ACTION_TYPES` lists every action Cyberwell has, configured or not, so a playbook naming one
can be checked against its arguments model when it is loaded and ``docs/actions.md`` can be held
to it. :func:`build_actions` builds those the settings turn on, each with its client; an action
whose table is missing is simply absent, and :func:`missing_actions` says why, for ``cyberwell
playbook list``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from azure.core.credentials import TokenCredential
from pydantic import BaseModel

from microsoft.azure_resources import SCOPE as ARM_SCOPE
from microsoft.defender_endpoint import SCOPE as DEFENDER_SCOPE
from microsoft.graph import GraphEndpoint
from microsoft.graph_writes import GraphWriter
from microsoft.rest_writer import Patience, RestWriter, TokenSource
from playbooks.actions.base import Action, ActionResult
from playbooks.actions.block_ip import BlockIpInFirewall, BlockIpInNamedLocation
from playbooks.actions.defender_devices import IsolateDevice, ReleaseDevice
from playbooks.actions.graph_users import ConfirmCompromised, DisableUser, RevokeSessions
from playbooks.actions.notify import NotifyEmail, NotifyTeams
from playbooks.actions.settings import ActionSettings, GraphSettings, Reach

CredentialFactory = Callable[[], TokenCredential]


@dataclass(frozen=True)
class _Parts:
    """What builders share: the settings, the sign-in, and where secrets are read from."""

    settings: ActionSettings
    credential_factory: CredentialFactory
    environ: Mapping[str, str]

    def graph(self, settings: GraphSettings) -> GraphWriter:
        reach = settings.reach
        endpoint = GraphEndpoint(
            base_url=reach.base_url,
            api_version=settings.api_version,
            max_retries=reach.max_retries,
            retry_delay=reach.retry_delay,
        )
        return GraphWriter(endpoint, self.credential_factory, verify=reach.verify)

    def rest(self, where: str, reach: Reach, scope: str) -> RestWriter:
        patience = Patience(max_retries=reach.max_retries, retry_delay=reach.retry_delay)
        tokens = TokenSource(self.credential_factory, scope, where)
        return RestWriter(where, reach.base_url, tokens, patience, verify=reach.verify)


@dataclass(frozen=True)
class _Kind:
    #: Why the action cannot be built from these settings, or None when it can.
    missing: Callable[[ActionSettings], str | None]
    build: Callable[[_Parts], Action]
    signs_in: bool = True  # needs an Entra ID credential


def _needs(table: str, key: str | None = None) -> Callable[[ActionSettings], str | None]:
    def missing(settings: ActionSettings) -> str | None:
        if getattr(settings, table) is not None:
            return None
        return f"add an [actions.{table}] table" + (f" with {key}" if key else "") + " to the config"

    return missing


def _graph_users(parts: _Parts) -> GraphWriter:
    assert parts.settings.graph is not None
    return parts.graph(parts.settings.graph)


def _defender(parts: _Parts) -> RestWriter:
    assert parts.settings.defender is not None
    return parts.rest("Defender for Endpoint", parts.settings.defender.reach, DEFENDER_SCOPE)


def _firewall(parts: _Parts) -> Action:
    found = parts.settings.azure_firewall
    assert found is not None
    arm = parts.rest("Azure Resource Manager", found.reach, ARM_SCOPE)
    return BlockIpInFirewall(arm, found.ip_group, found.api_version, found.poll_timeout)


def _named_location(parts: _Parts) -> Action:
    found = parts.settings.named_location
    assert found is not None
    return BlockIpInNamedLocation(parts.graph(parts.settings.graph_or_default), found.id)


def _teams(parts: _Parts) -> Action:
    found = parts.settings.teams
    assert found is not None
    return NotifyTeams(found.webhook_url(parts.environ), verify=found.ca_bundle or True)


def _email(parts: _Parts) -> Action:
    found = parts.settings.email
    assert found is not None
    return NotifyEmail(parts.graph(parts.settings.graph_or_default), found.sender, found.recipients)


#: Every action, by the name playbooks use.
ACTION_TYPES: dict[str, type[Action]] = {
    kind.name: kind
    for kind in (
        DisableUser,
        RevokeSessions,
        ConfirmCompromised,
        IsolateDevice,
        ReleaseDevice,
        BlockIpInFirewall,
        BlockIpInNamedLocation,
        NotifyTeams,
        NotifyEmail,
    )
}

_KINDS: dict[str, _Kind] = {
    DisableUser.name: _Kind(_needs("graph"), lambda parts: DisableUser(_graph_users(parts))),
    RevokeSessions.name: _Kind(_needs("graph"), lambda parts: RevokeSessions(_graph_users(parts))),
    ConfirmCompromised.name: _Kind(_needs("graph"), lambda parts: ConfirmCompromised(_graph_users(parts))),
    IsolateDevice.name: _Kind(_needs("defender"), lambda parts: IsolateDevice(_defender(parts))),
    ReleaseDevice.name: _Kind(_needs("defender"), lambda parts: ReleaseDevice(_defender(parts))),
    BlockIpInFirewall.name: _Kind(_needs("azure_firewall", "ip_group"), _firewall),
    BlockIpInNamedLocation.name: _Kind(_needs("named_location", "id"), _named_location),
    NotifyTeams.name: _Kind(_needs("teams", "webhook_url_env or webhook_url_file"), _teams, signs_in=False),
    NotifyEmail.name: _Kind(_needs("email", "sender"), _email),
}


def missing_actions(settings: ActionSettings, signs_in: bool = True) -> dict[str, str]:
    """Each action that will not be built, with what would turn it on. ``signs_in`` is whether
    the config says how to sign in to Entra ID (the Microsoft actions need it)."""
    missing: dict[str, str] = {}
    for name, kind in _KINDS.items():
        why = kind.missing(settings)
        if why is None and kind.signs_in and not signs_in:
            why = "set the sign-in keys (tenant_id, client_id, client_secret_env...) under [actions]"
        if why is not None:
            missing[name] = why
    return missing


def build_actions(
    settings: ActionSettings,
    credential_factory: CredentialFactory | None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Action]:
    """The actions the settings turn on, each with its client. Raises
    :class:`~playbooks.actions.settings.ActionSettingsError` when a secret a table names cannot
    be read (the Teams webhook URL), naming the key."""

    def no_credential() -> TokenCredential:
        raise AssertionError("an action that signs in was built without a credential")

    parts = _Parts(settings, credential_factory or no_credential, environ)
    skipped = missing_actions(settings, signs_in=credential_factory is not None)
    return {name: kind.build(parts) for name, kind in _KINDS.items() if name not in skipped}


def not_configured(kind: type[Action], why: str) -> Action:
    """An action this installation has not turned on: it loads and dry-runs like the real one
    (same name, danger and arguments) and fails, saying what would turn it on, if called."""

    class NotConfigured:
        name: ClassVar[str] = kind.name
        destructive: ClassVar[bool] = kind.destructive
        permission: ClassVar[str] = kind.permission
        arguments: ClassVar[type[BaseModel]] = kind.arguments

        def describe(self, arguments: BaseModel) -> str:
            given = ", ".join(f"{key}={value!r}" for key, value in arguments.model_dump(exclude_none=True).items())
            return f"call {kind.name} ({given}), which is not configured here: {why}"

        async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
            return ActionResult("failed", f"{kind.name} is not configured: {why}")

    return NotConfigured()


def all_actions(
    settings: ActionSettings,
    credential_factory: CredentialFactory | None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[dict[str, Action], dict[str, str]]:
    """Every action by name — built where the settings turn it on, :func:`not_configured`
    elsewhere — and, for those not configured, what would turn each on."""
    built = build_actions(settings, credential_factory, environ)
    missing = missing_actions(settings, signs_in=credential_factory is not None)
    actions = {name: built.get(name) or not_configured(ACTION_TYPES[name], missing[name]) for name in ACTION_TYPES}
    return actions, missing
