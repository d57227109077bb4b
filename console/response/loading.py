"""What the response commands share: the actions this installation can call, the playbooks loaded
against them, and what a detection run does as it stores alerts (queue the SOC webhook's messages
and the playbook runs the alerts trigger, in the same transaction).

Every action is known, configured or not, so every playbook loads and dry-runs; an action that
is not configured fails saying what would turn it on. A playbook that calls one is not *armed*:
it is not started automatically (unless it only dry-runs), because half a containment (sessions
revoked, nobody told) is worse than a clear "needs [actions.teams]" in ``playbook list``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from azure.core.credentials import TokenCredential

from console.config import Config, ConfigError
from playbooks import Playbook, PlaybookProblem, load_playbooks
from playbooks.actions.base import Action
from playbooks.actions.registry import CredentialFactory, all_actions, not_configured
from playbooks.actions.settings import ActionSettings, ActionSettingsError
from playbooks.queueing import queue_hook
from playbooks.webhook.hook import outbox_hook
from playbooks.webhook.notify_action import NotifySoc
from store.protocol import OnSavedAlerts
from store.state.alert_record import Alert
from store.state.database import StateDB

NO_WEBHOOK = "add a [webhook] table to the config (docs/webhook.md)"


@dataclass(frozen=True)
class Response:
    """The loaded playbooks and the actions they may call."""

    playbooks: dict[str, Playbook]
    problems: list[PlaybookProblem]
    actions: dict[str, Action]
    #: Actions not configured here, with what would turn each on.
    missing: dict[str, str]

    def unmet(self, playbook: Playbook) -> dict[str, str]:
        """The actions the playbook calls that are not configured, with what each needs."""
        return {step.action: self.missing[step.action] for step in playbook.steps if step.action in self.missing}

    def armed(self, playbook: Playbook) -> bool:
        """Started automatically: enabled, and able to act (or only describing, in dry run)."""
        return playbook.enabled and (playbook.dry_run or not self.unmet(playbook))

    @property
    def automatic(self) -> dict[str, Playbook]:
        return {key: playbook for key, playbook in self.playbooks.items() if self.armed(playbook)}


def load_response(
    cfg: Config,
    state: StateDB,
    rule_ids: Mapping[str, str] | None = None,
    *,
    sign_in: bool = True,
    environ: Mapping[str, str] = os.environ,
    settings: ActionSettings | None = None,
) -> Response:
    """The config's actions and playbooks. ``sign_in``: build the Entra ID credential now, so a
    missing secret stops the command before anything runs (False for commands that only list).
    ``settings``: other action settings than the config's (the demo's tenant), which never sign in."""
    response = cfg.response
    if settings is None:
        factory = _credential_factory(response.actions_identity, environ, sign_in)
    else:
        factory = _never
    try:
        actions, missing = all_actions(settings or response.actions or ActionSettings(), factory, environ)
    except ActionSettingsError as error:
        raise ConfigError(str(error)) from None
    if response.webhook is not None or settings is not None:
        actions[NotifySoc.name] = NotifySoc(state)
    else:
        actions[NotifySoc.name] = not_configured(NotifySoc, NO_WEBHOOK)
        missing[NotifySoc.name] = NO_WEBHOOK
    playbooks, problems = load_playbooks(cfg.playbook_dirs, actions, rule_ids)
    return Response(playbooks, problems, actions, missing)


def _credential_factory(
    identity: Mapping[str, object], environ: Mapping[str, str], sign_in: bool
) -> CredentialFactory | None:
    """None when ``[actions]`` has no sign-in keys (the Microsoft actions are then not configured)."""
    if not identity:
        return None
    if not sign_in:
        return _never
    from console.live.identity import credential

    built = credential(identity, environ, "actions")
    return lambda: built


def _never() -> TokenCredential:
    raise ConfigError("actions: this command does not sign in to Entra ID")


def on_saved(
    cfg: Config, response: Response | None, dry_run: bool | None = None, actor: str = "cyberwell serve"
) -> OnSavedAlerts | None:
    """What a detection run calls in the transaction storing its alerts: the SOC webhook's messages
    (with a ``[webhook]`` table) and the runs of the armed playbooks the alerts trigger (``dry_run``
    True: every run a dry run, as in the demo)."""
    hooks: list[OnSavedAlerts] = []
    if cfg.response.webhook is not None:
        hooks.append(outbox_hook(cfg.response.webhook))
    if response is not None:
        # Dry runs only describe: every enabled playbook may; real runs only the armed ones.
        playbooks = response.playbooks if dry_run else response.automatic
        if playbooks:
            hooks.append(queue_hook(playbooks, dry_run, actor))
    if not hooks:
        return None

    def both(con: sqlite3.Connection, new: list[Alert], updated: list[Alert]) -> None:
        for hook in hooks:
            hook(con, new, updated)

    return both
