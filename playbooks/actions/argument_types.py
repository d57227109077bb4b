"""The values action arguments are made of, checked when a playbook's arguments are rendered.

A templated argument comes from an alert, and an alert's fields come from logs an attacker can
write to: a "user" that is really ``../../groups``, an "address" of ``0.0.0.0/0``, a recipient
with a newline in it. Each type here accepts only its own shape and hands back one canonical
form, so the same address is never added twice in two spellings and the request an action
builds holds nothing but what the type allows.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

#: What Entra ID allows in a user principal name's local part (letters, digits, ' . - _ ! # ^ ~),
#: then a domain of dot-separated labels.
_UPN = re.compile(r"[A-Za-z0-9'._!#^~-]{1,113}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
_MACHINE_ID = re.compile(r"[0-9a-fA-F]{40}")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")
#: The widest network a playbook may block at once: wider is far more likely a mistake (or a
#: templated value an attacker shaped) than a containment.
_WIDEST = {4: 16, 6: 32}


def user_reference(value: str) -> str:
    """A user's object id (a GUID, lower-cased) or user principal name (as written)."""
    text = value.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if _UPN.fullmatch(text):
        return text
    raise ValueError(f"expected a user principal name (a.user@council.gov.uk) or an object id (a GUID), got {text!r}")


def machine_id(value: str) -> str:
    """A Defender for Endpoint machine id: 40 hexadecimal digits, lower-cased."""
    text = value.strip()
    if not _MACHINE_ID.fullmatch(text):
        raise ValueError(f"expected a Defender for Endpoint machine id (40 hexadecimal digits), got {text!r}")
    return text.lower()


def network(value: str) -> str:
    """An IP address or CIDR network in canonical form: ``203.0.113.7`` (a /32 or /128 is
    written as the address), ``203.0.113.0/24``, ``2001:db8::/48``. A network with host bits
    set, one wider than /16 (IPv4) or /32 (IPv6), and addresses no one blocks (unspecified,
    loopback, link-local, multicast) are refused."""
    text = value.strip()
    try:
        found = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"expected an IP address or CIDR network such as 203.0.113.7 or 203.0.113.0/24, got {text!r} ({exc})"
        ) from None
    if found.prefixlen < _WIDEST[found.version]:
        raise ValueError(
            f"{found} is wider than the /{_WIDEST[found.version]} a playbook may block at once; block it by hand"
        )
    first = found.network_address
    if first.is_unspecified or first.is_loopback or first.is_link_local or first.is_multicast:
        raise ValueError(f"{found} is not an address anyone blocks (unspecified, loopback, link-local or multicast)")
    if found.num_addresses == 1:
        return str(first)
    return found.with_prefixlen


def ipv4_network(value: str) -> str:
    """:func:`network`, IPv4 only (an Azure Firewall IP group holds IPv4 addresses)."""
    found = network(value)
    if ipaddress.ip_network(found).version != 4:
        raise ValueError(f"expected an IPv4 address or network (an IP group holds IPv4 only), got {found!r}")
    return found


def email_address(value: str) -> str:
    """One mailbox address, as written (no display name, no spaces, no line breaks)."""
    text = value.strip()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise ValueError(f"expected an email address such as soc@council.gov.uk, got {text!r}")
    return text


UserReference = Annotated[str, AfterValidator(user_reference)]
MachineId = Annotated[str, AfterValidator(machine_id)]
Network = Annotated[str, AfterValidator(network)]
Ipv4Network = Annotated[str, AfterValidator(ipv4_network)]
EmailAddress = Annotated[str, AfterValidator(email_address)]
#: One line of text for a person (a comment, a subject, a title): no control characters.
Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]*$")
]
