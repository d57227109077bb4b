"""azure.block_ip (an Azure Firewall IP group through Resource Manager) and
graph.block_ip_named_location (a Conditional Access IP named location through msgraph-sdk)
against the stand-in on 127.0.0.1, plus the address argument's canonical form."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from microsoft.azure_resources import SCOPE as ARM_SCOPE
from playbooks.actions.argument_types import network
from playbooks.actions.block_ip import FirewallArguments, NamedLocationArguments, _covered
from playbooks.actions.registry import build_actions
from playbooks.actions.settings import ActionSettings
from tests.support.action_standin import ActionStandIn, Answer

GROUP = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-network"
    "/providers/Microsoft.Network/ipGroups/blocked-sources"
)
LOCATION = "0854951d-5fc0-4eb1-b392-9b2c9d7949c2"
LOCATION_PATH = f"/v1.0/identity/conditionalAccess/namedLocations/{LOCATION}"


@pytest.fixture
def standin():
    running = ActionStandIn().start()
    yield running
    running.stop()


def firewall(standin: ActionStandIn):
    table = {"ip_group": GROUP, "base_url": standin.url, "retry_delay": 0.05, "poll_timeout": 5}
    return build_actions(ActionSettings.from_dict({"azure_firewall": table}), standin.credential)["azure.block_ip"]


def named_location(standin: ActionStandIn):
    tables = {"named_location": {"id": LOCATION}, "graph": {"base_url": standin.url}}
    return build_actions(ActionSettings.from_dict(tables), standin.credential)["graph.block_ip_named_location"]


def run(action, address: str):
    return asyncio.run(action.run(action.arguments(address=address), "run-9-step-1"))


def ip_group(addresses: list[str], etag: str = 'W/"etag-1"') -> dict:
    return {
        "id": GROUP,
        "name": "blocked-sources",
        "type": "Microsoft.Network/IpGroups",
        "location": "uksouth",
        "etag": etag,
        "tags": {"owner": "security"},
        "properties": {"provisioningState": "Succeeded", "ipAddresses": addresses, "firewalls": []},
    }


def test_block_ip_reads_the_group_then_puts_it_with_the_address_and_if_match(standin):
    poll = "/subscriptions/00000000-1111-2222-3333-444444444444/providers/Microsoft.Network/locations/uksouth/operations/op1"
    standin.on("GET", GROUP, Answer(200, ip_group(["198.51.100.0/24"]), {"ETag": 'W/"etag-1"'}))
    standin.on(
        "PUT",
        GROUP,
        Answer(200, ip_group(["198.51.100.0/24", "203.0.113.7"]), {"Azure-AsyncOperation": standin.url + poll}),
    )
    standin.on(
        "GET", poll, Answer(200, {"status": "InProgress"}, {"Retry-After": "0"}), Answer(200, {"status": "Succeeded"})
    )
    result = run(firewall(standin), "203.0.113.7/32")

    assert result.outcome == "succeeded", result.summary
    assert result.summary == "added 203.0.113.7 to the IP group blocked-sources"
    read, put, *polls = standin.requests()
    assert (read.method, read.path, read.query) == ("GET", GROUP, {"api-version": ["2024-05-01"]})
    assert (put.method, put.path, put.query) == ("PUT", GROUP, {"api-version": ["2024-05-01"]})
    assert put.headers["if-match"] == 'W/"etag-1"'
    assert put.headers["content-type"] == "application/json"
    assert put.body == {
        "location": "uksouth",
        "tags": {"owner": "security"},
        "properties": {"ipAddresses": ["198.51.100.0/24", "203.0.113.7"]},
    }
    assert [p.path for p in polls] == [poll, poll]
    assert {r.bearer for r in standin.requests()} == {standin.tokens[-1]}
    assert standin.scopes == [ARM_SCOPE]


@pytest.mark.parametrize("listed", [["203.0.113.7"], ["203.0.113.0/24"], ["203.0.113.1-203.0.113.20"]])
def test_an_address_the_group_already_covers_is_a_success_without_a_write(standin, listed):
    standin.on("GET", GROUP, Answer(200, ip_group(listed)))
    result = run(firewall(standin), "203.0.113.7")

    assert result.outcome == "succeeded" and result.detail["changed"] is False
    assert [r.method for r in standin.requests()] == ["GET"]


def test_a_412_reads_again_and_puts_with_the_new_etag_keeping_the_other_writers_address(standin):
    standin.on(
        "GET",
        GROUP,
        Answer(200, ip_group(["198.51.100.1"], 'W/"one"')),
        Answer(200, ip_group(["198.51.100.1", "192.0.2.9"], 'W/"two"')),
    )
    standin.on(
        "PUT",
        GROUP,
        Answer(412, {"error": {"code": "PreconditionFailed", "message": "etag"}}),
        Answer(200, ip_group([])),
    )
    result = run(firewall(standin), "203.0.113.7")

    assert result.outcome == "succeeded", result.summary
    puts = standin.requests("PUT")
    assert [p.headers["if-match"] for p in puts] == ['W/"one"', 'W/"two"']
    assert puts[-1].body["properties"]["ipAddresses"] == ["198.51.100.1", "192.0.2.9", "203.0.113.7"]


def test_a_403_names_the_azure_role(standin):
    standin.on("GET", GROUP, Answer(200, ip_group([])))
    standin.on(
        "PUT",
        GROUP,
        Answer(
            403, {"error": {"code": "AuthorizationFailed", "message": "does not have authorization to perform action"}}
        ),
    )
    result = run(firewall(standin), "203.0.113.7")
    assert result.outcome == "failed" and result.retryable is False
    assert "Network Contributor" in result.summary and "AuthorizationFailed" in result.summary


def test_an_update_that_ends_failed_is_a_retryable_failure(standin):
    poll = "/operations/op2"
    standin.on("GET", GROUP, Answer(200, ip_group([])))
    standin.on("PUT", GROUP, Answer(201, ip_group([]), {"Azure-AsyncOperation": standin.url + poll}))
    standin.on("GET", poll, Answer(200, {"status": "Failed", "error": {"code": "x"}}))
    result = run(firewall(standin), "203.0.113.7")
    assert result.outcome == "failed" and result.retryable is True and "ended Failed" in result.summary


def test_ipv6_is_refused_for_an_ip_group():
    with pytest.raises(ValidationError, match="IPv4"):
        FirewallArguments(address="2001:db8::1")


def test_named_location_patches_ip_ranges_with_the_new_cidr_and_reads_it_back(standin):
    existing = [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/24"}]
    location = {
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "id": LOCATION,
        "displayName": "Blocked sources",
        "isTrusted": False,
        "ipRanges": existing,
    }
    added = [*existing, {"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8:abcd::/48"}]
    standin.on("GET", LOCATION_PATH, Answer(200, location), Answer(200, {**location, "ipRanges": added}))
    standin.on("PATCH", LOCATION_PATH, Answer(204))
    result = run(named_location(standin), "2001:db8:abcd::/48")

    assert result.outcome == "succeeded", result.summary
    assert result.summary == "added 2001:db8:abcd::/48 to the named location Blocked sources"
    read, patch, again = standin.requests()
    assert [read.method, patch.method, again.method] == ["GET", "PATCH", "GET"]
    assert patch.body == {"@odata.type": "#microsoft.graph.ipNamedLocation", "ipRanges": added}
    assert patch.headers["content-type"] == "application/json"
    assert patch.bearer == standin.tokens[-1]


def test_a_single_address_goes_in_as_a_32(standin):
    location = {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": LOCATION, "displayName": "B", "ipRanges": []}
    mine = [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.7/32"}]
    standin.on("GET", LOCATION_PATH, Answer(200, location), Answer(200, {**location, "ipRanges": mine}))
    standin.on("PATCH", LOCATION_PATH, Answer(204))
    assert run(named_location(standin), "203.0.113.7").outcome == "succeeded"
    assert standin.requests("PATCH")[0].body["ipRanges"] == mine


def test_named_location_already_covering_the_address_is_not_written(standin):
    location = {
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "id": LOCATION,
        "displayName": "B",
        "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}],
    }
    standin.on("GET", LOCATION_PATH, Answer(200, location))
    result = run(named_location(standin), "203.0.113.7")
    assert result.outcome == "succeeded" and result.detail["changed"] is False
    assert [r.method for r in standin.requests()] == ["GET"]


def test_a_concurrent_write_that_drops_the_address_is_a_retryable_failure(standin):
    location = {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": LOCATION, "displayName": "B", "ipRanges": []}
    standin.on("GET", LOCATION_PATH, Answer(200, location))  # read back without our address
    standin.on("PATCH", LOCATION_PATH, Answer(204))
    result = run(named_location(standin), "203.0.113.7")
    assert result.outcome == "failed" and result.retryable is True
    assert "another change replaced the list" in result.summary


def test_a_country_named_location_is_refused_naming_the_setting(standin):
    country = {"@odata.type": "#microsoft.graph.countryNamedLocation", "id": LOCATION, "displayName": "Nowhere"}
    standin.on("GET", LOCATION_PATH, Answer(200, country))
    result = run(named_location(standin), "203.0.113.7")
    assert result.outcome == "failed" and "not an IP named location" in result.summary
    assert "actions.named_location.id" in result.summary
    assert standin.requests("PATCH") == []


def test_a_403_names_the_conditional_access_permissions(standin):
    standin.on("GET", LOCATION_PATH, Answer(403, {"error": {"code": "AccessDenied", "message": "no"}}))
    result = run(named_location(standin), "203.0.113.7")
    assert result.outcome == "failed"
    assert "Policy.ReadWrite.ConditionalAccess" in result.summary and "Policy.Read.All" in result.summary


def test_describe_sends_nothing(standin):
    action = named_location(standin)
    assert action.describe(action.arguments(address="203.0.113.7")) == (
        f"add 203.0.113.7/32 to the Conditional Access named location {LOCATION} "
        f"(Graph PATCH /identity/conditionalAccess/namedLocations/{LOCATION})"
    )
    fw = firewall(standin)
    assert "blocked-sources" in fw.describe(fw.arguments(address="203.0.113.7"))
    assert standin.requests() == [] and standin.tokens == []


@pytest.mark.parametrize(
    ("given_", "canonical"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7/32 ", "203.0.113.7"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:db8:abcd::/48", "2001:db8:abcd::/48"),
    ],
)
def test_addresses_take_one_canonical_form(given_, canonical):
    assert NamedLocationArguments(address=given_).address == canonical


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("203.0.113.7/24", "host bits set"),
        ("0.0.0.0/0", "wider than the /16"),
        ("10.0.0.0/8", "wider than the /16"),
        ("127.0.0.1", "not an address anyone blocks"),
        ("169.254.1.1", "not an address anyone blocks"),
        ("example.com", "expected an IP address or CIDR network"),
        ("203.0.113.7; rm -rf", "expected an IP address or CIDR network"),
    ],
)
def test_bad_addresses_are_refused_saying_why(bad, said):
    with pytest.raises(ValidationError, match=said):
        NamedLocationArguments(address=bad)


public_v4 = st.ip_addresses(v=4).filter(
    lambda a: not (a.is_loopback or a.is_link_local or a.is_multicast or a.is_unspecified)
)


@given(public_v4, st.integers(min_value=16, max_value=32))
def test_canonical_form_is_stable_and_the_network_covers_its_own_addresses(address, prefix):
    net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if net.network_address.is_loopback or net.network_address.is_link_local or net.network_address.is_multicast:
        return
    if net.network_address.is_unspecified:
        return
    canonical = network(str(net))
    assert network(canonical) == canonical
    assert ipaddress.ip_network(canonical) == net
    assert _covered(str(address), [canonical])
    assert _covered(canonical, [canonical])
    outside = net.broadcast_address + 1 if int(net.broadcast_address) < 2**32 - 1 else None
    if outside is not None:
        assert not _covered(str(outside), [canonical])
