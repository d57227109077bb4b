"""The sign-in keys of a collector table (``microsoft.identity``), checked when the config is read.

Graph and Log Analytics collectors sign in the same way; building the credential once at
start-up means a missing secret is reported by ``collect``/``serve`` before the first run, with
the key that names it, never the secret.

Where a secret is expected to come from is not echoed either, unless it plainly is a name: a
person who pasted the secret itself there would see it printed and logged back. A ``*_env``
value is shown when it looks like an environment variable's name (``CW_GRAPH_SECRET``: capitals,
digits and ``_``, which no generated secret is); ``*_file`` and ``certificate_path`` values are
never shown. The error names the key instead.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path

from azure.core.credentials import TokenCredential

from console.config import ConfigError
from microsoft.identity import IdentityError, IdentitySettings, credential_from

#: The keys of a table that say how to sign in.
IDENTITY_KEYS = frozenset(IdentitySettings.__dataclass_fields__)
#: Keys that say where a secret is: their values are replaced by the key in error messages.
_WHERE_SECRETS_ARE = (
    "client_secret_env",
    "client_secret_file",
    "certificate_path",
    "certificate_password_env",
    "certificate_password_file",
)
#: An environment variable's name as people write them; a generated secret mixes cases or symbols.
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
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
        raise ConfigError(f"{where}.{_redacted(str(error), identity)}") from None
    except ValueError as error:  # azure-identity's own checks; its messages hold no values
        raise ConfigError(f"{where}: {error}") from None


def _check_tenant(identity: Mapping[str, object], where: str) -> None:
    tenant = identity.get("tenant_id")
    if isinstance(tenant, str) and (not tenant or not set(tenant) <= _TENANT_CHARACTERS):
        raise ConfigError(
            f"{where}.tenant_id: expected the directory (tenant) id, a GUID such as "
            "00000000-0000-0000-0000-000000000000, or a domain such as council.onmicrosoft.com"
        )


def _redacted(message: str, identity: Mapping[str, object]) -> str:
    """``message`` with the value of every key of ``_WHERE_SECRETS_ARE`` (as written, and as the
    path it expands to) replaced by ``<key>``, wherever it stands as a whole word; a variable's
    name is kept."""
    for key in _WHERE_SECRETS_ARE:
        value = identity.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key.endswith("_env") and _VARIABLE_NAME.fullmatch(value):
            continue
        for form in sorted({value, str(Path(value).expanduser())}, key=len, reverse=True):
            message = re.sub(rf"(?<!\S){re.escape(form)}(?=[:\s]|$)", f"<{key}>", message)
    return message
