"""Who Cyberwell is to Microsoft: an azure-identity credential built from a collector's settings.

Three ways to sign in, as an app registration or an Azure resource would:

* ``auth = "client_secret"``: ``tenant_id``, ``client_id`` and the secret from an environment
  variable (``client_secret_env``) or a file (``client_secret_file``, e.g. a systemd credential);
* ``auth = "certificate"``: ``certificate_path`` (PEM or PKCS#12) and, when it is encrypted, a
  password from ``certificate_password_env`` or ``certificate_password_file``;
* ``auth = "managed_identity"``: the VM's or App Service's identity (``client_id`` picks a
  user-assigned one).

The config never holds a secret, only where to find it, so the settings can be printed, logged
and shown in errors. The secret is read only here, handed to azure-identity, and never appears
in a message: errors name the config key that is wrong and what was expected. Nor do they show
where a secret is kept: a person may have pasted the secret itself into ``client_secret_env`` or
``client_secret_file``, and an error printed and logged would publish it. An environment
variable's name is shown only when it plainly is one (``variable_name``); file paths never are.
``authority_host`` points sign-in at a sovereign cloud (or a test stand-in); ``ca_bundle``
trusts a private certificate authority.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential

AUTH_METHODS = ("client_secret", "certificate", "managed_identity")
PUBLIC_CLOUD = "https://login.microsoftonline.com"
#: An environment variable's name as people write them (``CW_GRAPH_SECRET``); a generated secret
#: mixes cases or symbols, so a value of this shape is safe to show.
_VARIABLE_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def variable_name(value: str) -> str | None:
    """``value`` when it looks like an environment variable's name, else None (do not show it)."""
    return value if _VARIABLE_NAME.fullmatch(value) else None


class IdentityError(ValueError):
    """A sign-in setting is wrong; ``key`` names the setting, the message never holds a secret."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class IdentitySettings:
    """Where the credential comes from: names and paths only, so safe to print."""

    auth: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    certificate_path: str | None = None
    certificate_password_env: str | None = None
    certificate_password_file: str | None = None
    authority_host: str = PUBLIC_CLOUD
    ca_bundle: str | None = None

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> IdentitySettings:
        auth = settings.get("auth", "client_secret")
        if auth not in AUTH_METHODS:
            raise IdentityError("auth", f"expected one of {', '.join(AUTH_METHODS)}, got {auth!r}")
        values: dict[str, str] = {}
        for key in cls.__dataclass_fields__:
            if key == "auth" or key not in settings:
                continue
            value = settings[key]
            if not isinstance(value, str) or not value:
                raise IdentityError(key, f"expected a non-empty string, got {type(value).__name__}")
            values[key] = value
        found = cls(auth=auth, **values)
        found._check()
        return found

    def _check(self) -> None:
        if self.auth != "managed_identity":
            _required("tenant_id", self.tenant_id, self.auth)
            _required("client_id", self.client_id, self.auth)
        if self.auth == "client_secret" and not (self.client_secret_env or self.client_secret_file):
            raise IdentityError(
                "client_secret_env",
                "name the environment variable holding the secret (or set client_secret_file to a file holding it)",
            )
        if self.auth == "certificate":
            _required("certificate_path", self.certificate_path, self.auth)
        if not self.authority_host.startswith("https://"):
            # Not echoed: a URL can carry a user and password (http://user:pass@host).
            scheme = self.authority_host.partition("://")[0] if "://" in self.authority_host else ""
            got = f"an {scheme} URL" if scheme.isalnum() and len(scheme) < 10 else "something else"
            raise IdentityError(
                "authority_host", f"must be an https URL (https://login.microsoftonline.com), got {got}"
            )


def credential_from(
    settings: IdentitySettings | Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> TokenCredential:
    """The azure-identity credential the settings describe (read the secret now, keep it only there)."""
    from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

    found = settings if isinstance(settings, IdentitySettings) else IdentitySettings.from_dict(settings)
    # Keyword arguments azure-core's transport takes (untyped there): left out, its defaults hold.
    transport: dict[str, Any] = {"connection_verify": found.ca_bundle} if found.ca_bundle else {}
    if found.auth == "managed_identity":
        return ManagedIdentityCredential(client_id=found.client_id, **transport)
    # Settings made directly, not by from_dict, have not been checked: say what is missing.
    tenant_id = _required("tenant_id", found.tenant_id, found.auth)
    client_id = _required("client_id", found.client_id, found.auth)
    common: dict[str, Any] = dict(authority=found.authority_host, **transport)
    if found.authority_host != PUBLIC_CLOUD:
        # Instance discovery asks the public cloud about the host: a sovereign cloud or a
        # stand-in answers for itself.
        common["disable_instance_discovery"] = True
    if found.auth == "client_secret":
        secret = _secret(
            "client_secret_env", found.client_secret_env, "client_secret_file", found.client_secret_file, environ
        )
        if secret is None:
            raise IdentityError("client_secret_env", "no source for the secret")
        return ClientSecretCredential(tenant_id, client_id, secret, **common)
    path = Path(_required("certificate_path", found.certificate_path, found.auth)).expanduser()
    try:
        certificate = path.read_bytes()
    except OSError as exc:
        raise IdentityError("certificate_path", f"cannot read the file it names: {exc.strerror}") from None
    password = _secret(
        "certificate_password_env",
        found.certificate_password_env,
        "certificate_password_file",
        found.certificate_password_file,
        environ,
    )
    try:
        return CertificateCredential(
            tenant_id,
            client_id,
            certificate_data=certificate,
            password=password.encode() if password else None,
            **common,
        )
    except (ValueError, TypeError) as exc:
        # The message of a wrong password or a damaged file is about the file, never its bytes.
        raise IdentityError(
            "certificate_path",
            "the file it names is not a usable certificate (PEM or PKCS#12) with its "
            f"private key ({type(exc).__name__}); check certificate_password_*",
        ) from None


def _required(key: str, value: str | None, auth: str) -> str:
    """A setting that ``auth`` cannot do without."""
    if value is None:
        raise IdentityError(key, f"required for auth = {auth!r}")
    return value


def _secret(
    env_key: str, variable: str | None, file_key: str, file: str | None, environ: Mapping[str, str]
) -> str | None:
    """A secret from the environment variable or file the settings name (``env_key`` and
    ``file_key`` are their setting names, for errors); None when they name neither."""
    if variable is not None:
        value = environ.get(variable, "")
        if value.strip():
            return value.strip()
        if file is None:
            name = variable_name(variable)
            which = f"environment variable {name}" if name else "the environment variable it names"
            raise IdentityError(env_key, f"{which} is not set or empty (expected the secret in it)")
    if file is not None:
        path = Path(file).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise IdentityError(file_key, f"cannot read the file it names: {why}") from None
        if not value:
            raise IdentityError(file_key, "the file it names is empty (expected the secret in it)")
        return value
    return None
