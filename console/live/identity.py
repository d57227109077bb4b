"""The sign-in keys of a collector table (``microsoft.identity``), checked when the config is read.

Graph and Log Analytics collectors sign in the same way; building the credential once at
start-up means a missing secret is reported by ``collect``/``serve`` before the first run, with
the key that names it, never the secret. Where a secret comes from is not echoed either
(``microsoft.identity`` keeps such values out of its errors at the source).
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from azure.core.credentials import TokenCredential

from console.config import ConfigError
from microsoft.identity import IdentityError, IdentitySettings, credential_from

#: The keys of a table that say how to sign in.
IDENTITY_KEYS = frozenset(IdentitySettings.__dataclass_fields__)
#: What Entra ID takes as a tenant: a GUID or a domain (azure-identity's own rule).
_TENANT_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-.")


def identity_of(settings: Mapping[str, object]) -> dict[str, object]:
    """The sign-in keys among a table's settings."""
    return {key: value for key, value in settings.items() if key in IDENTITY_KEYS}


def credential(identity: Mapping[str, object], environ: Mapping[str, str], where: str) -> TokenCredential:
    """The credential the keys describe; a wrong key is a ``ConfigError`` naming it under ``where``."""
    _check_tenant(identity, where)
    try:
        return credential_from(identity, environ)
    except IdentityError as error:
        raise ConfigError(f"{where}.{error}") from None
    except ValueError as error:  # azure-identity's own checks; its messages hold no values
        raise ConfigError(f"{where}: {error}") from None


def _check_tenant(identity: Mapping[str, object], where: str) -> None:
    tenant = identity.get("tenant_id")
    if isinstance(tenant, str) and (not tenant or not set(tenant) <= _TENANT_CHARACTERS):
        raise ConfigError(
            f"{where}.tenant_id: expected the directory (tenant) id, a GUID such as "
            "00000000-0000-0000-0000-000000000000, or a domain such as council.onmicrosoft.com"
        )
