"""Containing a compromised account through Microsoft Graph: disable it, revoke its sign-in
sessions, confirm it compromised to Entra ID Protection.

Each reads or changes one user through msgraph-sdk (:class:`microsoft.graph_writes.GraphWriter`).
Disabling reads the account first: an account already disabled is a success with no write, so a
retried or resumed step changes nothing twice. Revoking sessions and confirming compromise are
idempotent in Graph itself (the sessions' valid-from time moves to now; the risk stays high).
"""

from __future__ import annotations

from typing import ClassVar

from msgraph import GraphServiceClient
from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (
    ConfirmCompromisedPostRequestBody,
)
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from pydantic import BaseModel, ConfigDict

from microsoft.graph_writes import GraphRefusal, GraphWriter
from microsoft.rest_writer import Unreachable
from playbooks.actions.argument_types import UserReference
from playbooks.actions.base import ActionResult
from playbooks.actions.results import refused, unreachable

_SELECT = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters


class UserArguments(BaseModel):
    """One user: ``user`` is a user principal name or an object id."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    user: UserReference


async def _read_user(graph: GraphWriter, user: str) -> User | None:
    """The user's id, name and whether the account is enabled."""

    async def get(client: GraphServiceClient, configuration) -> User | None:
        return await client.users.by_user_id(user).get(configuration)

    return await graph.call(get, _SELECT(select=["id", "userPrincipalName", "accountEnabled"]))


class DisableUser:
    """graph.disable_user: ``PATCH /users/{id}`` with ``accountEnabled: false``."""

    name: ClassVar[str] = "graph.disable_user"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = (
        "the Graph application permissions User.EnableDisableAccount.All and User.Read.All "
        "(or User.ReadWrite.All); a privileged administrator's account also needs the app to hold "
        "a role allowed to disable it"
    )
    arguments: ClassVar[type[BaseModel]] = UserArguments

    def __init__(self, graph: GraphWriter):
        self.graph = graph

    def describe(self, arguments: BaseModel) -> str:
        user = _user(arguments)
        return f"disable the account of {user} (Graph PATCH /users/{user} accountEnabled=false)"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        user = _user(arguments)
        doing = f"disabling the account of {user}"
        try:
            found = await _read_user(self.graph, user)
            if found is not None and found.account_enabled is False:
                return ActionResult(
                    "succeeded", f"the account of {user} was already disabled", {"user": user, "changed": False}
                )
            target = (found.id if found is not None else None) or user

            async def patch(client: GraphServiceClient, configuration) -> None:
                await client.users.by_user_id(target).patch(User(account_enabled=False), configuration)

            await self.graph.call(patch)
        except GraphRefusal as refusal:
            return refused(doing, refusal.status, refusal.code, refusal.said, self.permission, detail={"user": user})
        except Unreachable as why:
            return unreachable(doing, str(why))
        return ActionResult("succeeded", f"disabled the account of {user}", {"user": user, "changed": True})


class RevokeSessions:
    """graph.revoke_sessions: ``POST /users/{id}/revokeSignInSessions``. Not destructive: the
    person signs in again (with MFA), while refresh tokens an attacker holds stop working."""

    name: ClassVar[str] = "graph.revoke_sessions"
    destructive: ClassVar[bool] = False
    permission: ClassVar[str] = "the Graph application permission User.RevokeSessions.All"
    arguments: ClassVar[type[BaseModel]] = UserArguments

    def __init__(self, graph: GraphWriter):
        self.graph = graph

    def describe(self, arguments: BaseModel) -> str:
        user = _user(arguments)
        return f"revoke every sign-in session of {user} (Graph POST /users/{user}/revokeSignInSessions)"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        user = _user(arguments)
        doing = f"revoking the sign-in sessions of {user}"

        async def post(client: GraphServiceClient, configuration) -> None:
            await client.users.by_user_id(user).revoke_sign_in_sessions.post(configuration)

        try:
            await self.graph.call(post)
        except GraphRefusal as refusal:
            return refused(doing, refusal.status, refusal.code, refusal.said, self.permission, detail={"user": user})
        except Unreachable as why:
            return unreachable(doing, str(why))
        return ActionResult(
            "succeeded",
            f"revoked the sign-in sessions of {user} (Graph may take a few minutes to enforce it)",
            {"user": user},
        )


class ConfirmCompromised:
    """graph.confirm_compromised: ``POST /identityProtection/riskyUsers/confirmCompromised`` with
    the user's object id (a user principal name is looked up first: the API takes ids only).
    Destructive: the user's risk becomes high, and risk-based Conditional Access may block them."""

    name: ClassVar[str] = "graph.confirm_compromised"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = (
        "the Graph application permission IdentityRiskyUser.ReadWrite.All (and User.Read.All to look up "
        "a user principal name), in a tenant with Entra ID P2"
    )
    arguments: ClassVar[type[BaseModel]] = UserArguments

    def __init__(self, graph: GraphWriter):
        self.graph = graph

    def describe(self, arguments: BaseModel) -> str:
        user = _user(arguments)
        return (
            f"confirm {user} compromised in Entra ID Protection, setting their risk to high "
            "(Graph POST /identityProtection/riskyUsers/confirmCompromised)"
        )

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        user = _user(arguments)
        doing = f"confirming {user} compromised"
        try:
            object_id = user if "@" not in user else await self._object_id(user)
            body = ConfirmCompromisedPostRequestBody(user_ids=[object_id])

            async def post(client: GraphServiceClient, configuration) -> None:
                await client.identity_protection.risky_users.confirm_compromised.post(body, configuration)

            await self.graph.call(post)
        except GraphRefusal as refusal:
            return refused(doing, refusal.status, refusal.code, refusal.said, self.permission, detail={"user": user})
        except Unreachable as why:
            return unreachable(doing, str(why))
        return ActionResult(
            "succeeded",
            f"confirmed {user} compromised; their user risk is now high",
            {"user": user, "object_id": object_id},
        )

    async def _object_id(self, upn: str) -> str:
        found = await _read_user(self.graph, upn)
        if found is None or not found.id:
            raise GraphRefusal(404, "Request_ResourceNotFound", f"Graph returned no id for {upn}")
        return found.id


def _user(arguments: BaseModel) -> str:
    assert isinstance(arguments, UserArguments), f"expected UserArguments, got {type(arguments).__name__}"
    return arguments.user
