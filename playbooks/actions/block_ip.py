"""Blocking an address: in an Azure Firewall IP group (which the firewall's deny rules name), or
in a Conditional Access IP named location (which a block policy names).

Both read the list first, and an address the list already covers (itself, or a network that
holds it) is a success with no write. Both write the whole list back, so both guard against a
second writer:

* Resource Manager gives the IP group an ETag; the PUT carries it in ``If-Match``, and a 412
  (someone changed the group since the read) reads again and retries, up to three times. The
  PUT is a long-running operation: its ``Azure-AsyncOperation`` is followed until it settles or
  ``poll_timeout`` passes.
* Graph has no ETag for named locations, so after the PATCH the location is read again; if the
  address is not there, another writer replaced the list in between, and the step fails as
  retryable (the retry reads, adds and checks again).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from msgraph import GraphServiceClient
from msgraph.generated.models.i_pv4_cidr_range import IPv4CidrRange
from msgraph.generated.models.i_pv6_cidr_range import IPv6CidrRange
from msgraph.generated.models.ip_named_location import IpNamedLocation
from msgraph.generated.models.ip_range import IpRange
from msgraph.generated.models.named_location import NamedLocation
from pydantic import BaseModel, ConfigDict

from microsoft.graph_writes import GraphRefusal, GraphWriter
from microsoft.rest_writer import Reply, RestWriter, Unreachable
from playbooks.actions.argument_types import Ipv4Network, Network
from playbooks.actions.base import ActionResult
from playbooks.actions.results import refused, unreachable

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CONFLICT_RETRIES = 3


class FirewallArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    address: Ipv4Network


class NamedLocationArguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    address: Network


class BlockIpInFirewall:
    """azure.block_ip: add the address to the configured Azure Firewall IP group."""

    name: ClassVar[str] = "azure.block_ip"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = (
        "the Azure role Network Contributor on the IP group (or a custom role with "
        "Microsoft.Network/ipGroups/read and Microsoft.Network/ipGroups/write)"
    )
    arguments: ClassVar[type[BaseModel]] = FirewallArguments

    def __init__(self, arm: RestWriter, ip_group: str, api_version: str, poll_timeout: float = 300.0):
        self.arm, self.ip_group, self.api_version, self.poll_timeout = arm, ip_group, api_version, poll_timeout

    @property
    def group_name(self) -> str:
        return self.ip_group.rsplit("/", 1)[-1]

    def describe(self, arguments: BaseModel) -> str:
        address = _address(arguments, FirewallArguments)
        return f"add {address} to the Azure Firewall IP group {self.group_name} (Resource Manager PUT with If-Match)"

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        address = _address(arguments, FirewallArguments)
        doing = f"adding {address} to the IP group {self.group_name}"
        facts = {"address": address, "ip_group": self.ip_group}
        params = {"api-version": self.api_version}
        try:
            for _ in range(CONFLICT_RETRIES):
                read = await self.arm.send("GET", self.ip_group, params=params)
                if not read.ok:
                    return refused(doing, read.status, read.code, read.said, self.permission, read.retry_after, facts)
                group = read.document if isinstance(read.document, dict) else {}
                properties = group.get("properties") or {}
                listed = [str(entry) for entry in properties.get("ipAddresses") or []]
                if _covered(address, listed):
                    return ActionResult(
                        "succeeded",
                        f"{address} is already in the IP group {self.group_name}",
                        {**facts, "changed": False},
                    )
                etag = read.headers.get("etag") or group.get("etag")
                body = {
                    "location": group.get("location"),
                    "tags": group.get("tags") or {},
                    "properties": {"ipAddresses": [*listed, address]},
                }
                headers = {"If-Match": str(etag)} if etag else {}
                wrote = await self.arm.send("PUT", self.ip_group, params=params, body=body, headers=headers)
                if wrote.status == 412:
                    continue  # changed since the read: read again
                if not wrote.ok:
                    return refused(
                        doing, wrote.status, wrote.code, wrote.said, self.permission, wrote.retry_after, facts
                    )
                return await self._settled(wrote, doing, address, facts)
        except Unreachable as why:
            return unreachable(doing, str(why))
        return refused(
            doing, 412, "PreconditionFailed", "the IP group kept changing under us", self.permission, None, facts
        )

    async def _settled(self, wrote: Reply, doing: str, address: str, facts: dict[str, Any]) -> ActionResult:
        """Follow the update's Azure-AsyncOperation (when there is one) until it settles."""
        link = wrote.headers.get("azure-asyncoperation")
        state = "Succeeded" if link is None else "InProgress"
        deadline = time.monotonic() + self.poll_timeout
        while link is not None and time.monotonic() < deadline:
            poll = await self.arm.send("GET", link)
            document = poll.document if isinstance(poll.document, dict) else {}
            state = str(document.get("status") or "InProgress") if poll.ok else "InProgress"
            if state in ("Succeeded", "Failed", "Canceled"):
                break
            wait = poll.retry_after if poll.retry_after is not None else 5.0
            await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        if state in ("Failed", "Canceled"):
            return ActionResult(
                "failed",
                f"{doing}: Azure accepted the change but the update ended {state}",
                {**facts, "state": state},
                retryable=True,
            )
        if state != "Succeeded":
            return ActionResult(
                "succeeded",
                f"added {address} to the IP group {self.group_name}; Azure was still applying it after "
                f"{self.poll_timeout:.0f} s",
                {**facts, "changed": True, "state": state},
            )
        return ActionResult(
            "succeeded",
            f"added {address} to the IP group {self.group_name}",
            {**facts, "changed": True, "state": state},
        )


class BlockIpInNamedLocation:
    """graph.block_ip_named_location: add the address to the configured IP named location, which
    a Conditional Access policy blocks. Entra ID sees only public addresses, so this blocks
    sign-ins from the address, not traffic."""

    name: ClassVar[str] = "graph.block_ip_named_location"
    destructive: ClassVar[bool] = True
    permission: ClassVar[str] = (
        "the Graph application permissions Policy.Read.All and Policy.ReadWrite.ConditionalAccess"
    )
    arguments: ClassVar[type[BaseModel]] = NamedLocationArguments

    def __init__(self, graph: GraphWriter, location_id: str):
        self.graph, self.location_id = graph, location_id

    def describe(self, arguments: BaseModel) -> str:
        address = _address(arguments, NamedLocationArguments)
        return (
            f"add {_cidr(address)} to the Conditional Access named location {self.location_id} "
            f"(Graph PATCH /identity/conditionalAccess/namedLocations/{self.location_id})"
        )

    async def run(self, arguments: BaseModel, idempotency_key: str) -> ActionResult:
        address = _address(arguments, NamedLocationArguments)
        doing = f"adding {address} to the named location {self.location_id}"
        facts = {"address": address, "named_location": self.location_id}
        try:
            location = await self._read()
            if not isinstance(location, IpNamedLocation):
                return ActionResult(
                    "failed",
                    f"{doing} failed: {self.location_id} is not an IP named location "
                    f"({type(location).__name__ if location is not None else 'nothing'}); check actions.named_location.id",
                    facts,
                )
            ranges = list(location.ip_ranges or [])
            if _covered(address, _cidrs(ranges)):
                return ActionResult(
                    "succeeded",
                    f"{address} is already in the named location {location.display_name or self.location_id}",
                    {**facts, "changed": False},
                )
            patch = IpNamedLocation(ip_ranges=[*ranges, _range(address)])

            async def send(client: GraphServiceClient, configuration) -> None:
                await client.identity.conditional_access.named_locations.by_named_location_id(self.location_id).patch(
                    patch, configuration
                )

            await self.graph.call(send)
            again = await self._read()
        except GraphRefusal as refusal:
            return refused(doing, refusal.status, refusal.code, refusal.said, self.permission, detail=facts)
        except Unreachable as why:
            return unreachable(doing, str(why))
        if not isinstance(again, IpNamedLocation) or not _covered(address, _cidrs(again.ip_ranges or [])):
            return ActionResult(
                "failed",
                f"{doing}: the address was not there when read back; another change replaced the list",
                facts,
                retryable=True,
            )
        return ActionResult(
            "succeeded",
            f"added {address} to the named location {location.display_name or self.location_id}",
            {**facts, "changed": True},
        )

    async def _read(self) -> NamedLocation | None:
        async def get(client: GraphServiceClient, configuration) -> NamedLocation | None:
            return await client.identity.conditional_access.named_locations.by_named_location_id(self.location_id).get(
                configuration
            )

        return await self.graph.call(get)


def _covered(address: str, listed: Iterable[str]) -> bool:
    """Whether an entry of the list (an address, a CIDR network, or a ``first-last`` range)
    already holds all of ``address``; entries that are none of these are skipped."""
    wanted = ipaddress.ip_network(address)
    for entry in listed:
        for network in _networks(entry.strip()):
            if network.version == wanted.version and wanted.subnet_of(network):  # type: ignore[arg-type]
                return True
    return False


def _networks(entry: str) -> list[IpNetwork]:
    try:
        if "-" in entry:
            first, last = (ipaddress.ip_address(part.strip()) for part in entry.split("-", 1))
            return list(ipaddress.summarize_address_range(first, last))
        return [ipaddress.ip_network(entry, strict=False)]
    except (ValueError, TypeError):
        return []


def _cidr(address: str) -> str:
    """The address as a CIDR network (``cidrAddress`` wants a prefix even for one address)."""
    return ipaddress.ip_network(address).with_prefixlen


def _range(address: str) -> IpRange:
    network = ipaddress.ip_network(address)
    if network.version == 4:
        return IPv4CidrRange(cidr_address=network.with_prefixlen)
    return IPv6CidrRange(cidr_address=network.with_prefixlen)


def _cidrs(ranges: Iterable[IpRange]) -> list[str]:
    return [
        item.cidr_address for item in ranges if isinstance(item, IPv4CidrRange | IPv6CidrRange) and item.cidr_address
    ]


def _address(arguments: BaseModel, kind: type[FirewallArguments] | type[NamedLocationArguments]) -> str:
    assert isinstance(arguments, kind), f"expected {kind.__name__}, got {type(arguments).__name__}"
    return arguments.address
