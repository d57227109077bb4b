"""The SOC webhook's settings, checked once, and its signing secret, read from outside the config.

The secret is never written in the config itself: it comes from an environment variable
(``secret_env``) or a file (``secret_file``), so the config can be shared and reviewed. Errors
name the key and what was expected, and never echo a value that could be the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from store.state.alert_record import SEVERITIES

FORMATS = ("ecs", "ocsf")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class WebhookConfigError(ValueError):
    """A webhook setting is wrong; the message names the key."""


class Secret:
    """The signing key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes):
        if not value:
            raise WebhookConfigError("the webhook secret is empty")
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class WebhookSettings:
    """``[webhook]`` in cyberwell.toml. Times are seconds."""

    url: str
    secret_env: str | None = None
    secret_file: str | None = None
    min_severity: str = "medium"
    format: str = "ecs"
    timeout: float = 10.0
    max_attempts: int = 12
    backoff_base: float = 2.0
    backoff_max: float = 900.0
    #: The longest a receiver's ``Retry-After`` is waited; a longer one is cut to this.
    retry_after_max: float = 3600.0
    batch_size: int = 200
    #: Messages in flight at once (one per alert at a time, whatever this says).
    concurrency: int = 16
    #: How long a claimed message is held before another claim may take it (a deliverer that
    #: died mid-flight). Longer than one attempt can take.
    lease: float = 60.0
    verify_tls: bool = True

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], where: str = "[webhook]") -> WebhookSettings:
        known = {f.name: f for f in fields(cls)}
        if "secret" in table:
            raise WebhookConfigError(f"{where}.secret: never inline; use secret_env or secret_file")
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise WebhookConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(known)}")
        values = {name: _typed(where, name, value, known[name].type) for name, value in table.items()}
        if "url" not in values:
            raise WebhookConfigError(f"{where}.url: required (the SOC partner's https URL)")
        settings = cls(**values)
        settings._check(where)
        return settings

    def _check(self, where: str) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise WebhookConfigError(f"{where}.url: expected an https:// URL, got {_shown_url(self.url)!r}")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise WebhookConfigError(f"{where}.url: plain http is only allowed to this machine; use https")
        if parts.username or parts.password:
            raise WebhookConfigError(f"{where}.url: no credentials in the URL; the body is signed instead")
        if (self.secret_env is None) == (self.secret_file is None):
            raise WebhookConfigError(f"{where}: give exactly one of secret_env or secret_file")
        if self.min_severity not in SEVERITIES:
            raise WebhookConfigError(f"{where}.min_severity: expected one of {', '.join(SEVERITIES)}")
        if self.format not in FORMATS:
            raise WebhookConfigError(f"{where}.format: expected one of {', '.join(FORMATS)}, got {self.format!r}")
        for name in ("timeout", "backoff_base", "backoff_max", "retry_after_max", "lease"):
            if getattr(self, name) <= 0:
                raise WebhookConfigError(f"{where}.{name}: expected seconds above 0")
        for name in ("max_attempts", "batch_size", "concurrency"):
            if getattr(self, name) < 1:
                raise WebhookConfigError(f"{where}.{name}: expected a whole number of 1 or more")
        if self.lease <= self.timeout:
            raise WebhookConfigError(f"{where}.lease: expected more seconds than timeout ({self.timeout})")

    @property
    def target(self) -> str:
        """Host and port, for logs and the audit trail (a URL's path or query might hold a token)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    def load_secret(self, home: Path | None = None) -> Secret:
        """The secret from its variable or file (a relative file is under ``home``)."""
        if self.secret_env is not None:
            value = os.environ.get(self.secret_env)
            if not value:
                raise WebhookConfigError(f"[webhook].secret_env: the environment variable {self.secret_env} is not set")
            return Secret(value.encode("utf-8"))
        assert self.secret_file is not None  # _check: exactly one is given
        path = Path(self.secret_file)
        if home is not None and not path.is_absolute():
            path = home / path
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise WebhookConfigError(f"[webhook].secret_file: cannot read it ({error.strerror})") from None
        return Secret(text.encode("utf-8"))


def _typed(where: str, name: str, value: Any, annotation: Any) -> Any:
    expected = str(annotation)
    if "bool" in expected:
        ok = isinstance(value, bool)
    elif "float" in expected:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif "int" in expected:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str) and bool(value.strip())
    if not ok:
        shown = "a value" if name == "url" else f"{type(value).__name__} {value!r}"
        kind = expected.replace(" | None", "")
        raise WebhookConfigError(f"{where}.{name}: expected {kind}, got {shown}")
    return value


def _shown_url(url: str) -> str:
    """The URL without query or credentials, which could hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
