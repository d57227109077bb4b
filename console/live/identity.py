"""The sign-in keys of a collector table (``microsoft.identity``), checked when the config is read.

Graph and Log Analytics collectors sign in the same way; building the credential once at
start-up means a missing secret is reported by ``collect``/``serve`` before the first run, with
the key that names it, never the secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from azure.core.credentials import TokenCredential

from console.config import ConfigError
from microsoft.identity import IdentityError, IdentitySettings, credential_from

#: The keys of a table that say how to sign in.
IDENTITY_KEYS = frozenset(IdentitySettings.__dataclass_fields__)


def identity_of(settings: Mapping[str, object]) -> dict[str, object]:
    """The sign-in keys among a table's settings."""
    return {key: value for key, value in settings.items() if key in IDENTITY_KEYS}


def credential(identity: Mapping[str, object], environ: Mapping[str, str], where: str) -> TokenCredential:
    """The credential the keys describe; a wrong key is a ``ConfigError`` naming it under ``where``."""
    try:
        return credential_from(identity, environ)
    except IdentityError as error:
        raise ConfigError(f"{where}.{error}") from None
