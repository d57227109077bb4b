"""The home directory and its ``cyberwell.toml``.

The home holds the data (events, state) and the config. It comes from ``--home``, else the
``CYBERWELL_HOME`` environment variable, else ``~/.cyberwell``. Rooms never read config
themselves: the console reads it once and passes plain values in.

The Elasticsearch store is configured in ``[store.elasticsearch]``::

    [store]
    backend = "elasticsearch"

    [store.elasticsearch]
    hosts = ["https://es.council.example:9200"]   # or cloud_id = "name:base64..."
    api_key_file = "secrets/es-api-key"            # or api_key; or CYBERWELL_ES_API_KEY
    # username = "cyberwell"; password_file = ...  # or password; or CYBERWELL_ES_PASSWORD
    ca_certs = "/etc/ssl/council-ca.pem"
    verify_certs = true                            # the default; false only on purpose
    index_prefix = "cyberwell-"

Secrets are best given by file or environment, so the config file can be shared; relative file
paths are under the home.

``[detections]`` says which rules run and how (docs/scheduling.md)::

    [detections]
    rule_dirs = ["rules/sigmahq", "my-rules"]    # relative to the home; default: the shipped rules
    exception_dirs = ["allow-lists"]             # beyond the shipped ones and the home's exceptions/
    suppress = "1h"          # a rule's repeats for one entity within this span are one alert
    max_alerts = 100         # new alerts per rule per run; the rest are counted as held back
    interval = "5m"          # how often `serve` runs a rule
    lookback = "1m"          # how far before its watermark a run searches again (late events)
    delay = "1m"             # how late sources deliver: a run reaches up to now - delay
    max_catchup = "1d"       # missed time older than this is recorded as a gap, for --backfill
    backfill_max_window = "6h"   # the longest window of one run (catch-up and backfill)
    start = "2026-11-16T00:00:00Z"   # where `serve` starts a rule that never ran [default: one interval ago]

A rule's own ``cyberwell:`` settings (``suppress``, ``max-alerts``, ``interval``, ``lookback``,
``delay``) win over these.

``[collectors.<name>]`` tables (docs/collectors.md) are read here too, into :class:`CollectorTable`
records; console/live/settings.py makes collectors of them. This module is the only reader
of the file: every command gets the same :class:`Config` from ``ctx.obj``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from store.elastic.client import ElasticSettings

if TYPE_CHECKING:  # the response rooms reach the Microsoft SDKs: read only when the file has their tables
    from playbooks.actions.settings import ActionSettings
    from playbooks.webhook.settings import WebhookSettings

REPO_RULES = Path(__file__).resolve().parents[1] / "rules"
DEFAULT_RULE_DIRS = (REPO_RULES / "sigmahq", REPO_RULES / "cyberwell")
SHIPPED_PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks" / "library"
#: The home's own playbooks, read after the shipped ones unless ``[playbooks] dirs`` says otherwise.
HOME_PLAYBOOKS = "playbooks"


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and what was expected."""


@dataclass(frozen=True)
class CollectorTable:
    """One ``[collectors.<name>]`` table: the source's name, its kind and its settings."""

    name: str  # the source's name in ``status`` and in run records
    kind: str  # the table's ``type``, else its name
    enabled: bool
    #: The table's other keys, checked by the kind's builder (console/live/settings.py).
    settings: Mapping[str, object]

    @property
    def where(self) -> str:
        """The table's path in the config, for error messages."""
        return f"collectors.{self.name}"


@dataclass(frozen=True)
class CollectorsSection:
    """The ``[collectors.*]`` tables, or why they cannot be read.

    A broken section is kept, not raised, when the file is loaded: ``collect`` and ``serve``
    stop on it (:meth:`checked`), but ``status`` must still show the run records, and commands
    that collect nothing must not fail over it.
    """

    tables: tuple[CollectorTable, ...] = ()
    problem: str | None = None  # a ConfigError's message, naming the key

    def checked(self) -> tuple[CollectorTable, ...]:
        """The tables; ``ConfigError`` when the section is broken."""
        if self.problem is not None:
            raise ConfigError(self.problem)
        return self.tables


@dataclass(frozen=True)
class DetectionSettings:
    """The ``[detections]`` keys beyond ``rule_dirs`` as plain values; None leaves the rooms'
    own default (console/session.py hands them to the detections room)."""

    suppress: timedelta | None = None
    max_alerts: int | None = None
    exception_dirs: tuple[Path, ...] = ()  # beyond the shipped ones and the home's exceptions/
    interval: timedelta | None = None
    lookback: timedelta | None = None
    delay: timedelta | None = None
    max_catchup: timedelta | None = None
    backfill_max_window: timedelta | None = None
    start: datetime | None = None


@dataclass(frozen=True)
class Config:
    home: Path
    store_backend: str = "embedded"
    rule_dirs: tuple[Path, ...] = DEFAULT_RULE_DIRS
    #: ``[store.elasticsearch]``, None when the file has no such table.
    elasticsearch: ElasticSettings | None = None
    collectors: CollectorsSection = field(default_factory=CollectorsSection)
    detections: DetectionSettings = field(default_factory=DetectionSettings)
    response: ResponseSettings = field(default_factory=lambda: ResponseSettings())
    #: ``[evidence]`` as written (docs/reports.md); ``evidence collect`` checks its keys.
    evidence: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def playbook_dirs(self) -> tuple[Path, ...]:
        """The configured folders; by default the shipped ones and the home's, if it has one."""
        if self.response.playbook_dirs is not None:
            return self.response.playbook_dirs
        home = self.home / HOME_PLAYBOOKS
        return (SHIPPED_PLAYBOOKS, home) if home.is_dir() else (SHIPPED_PLAYBOOKS,)

    @property
    def may_respond(self) -> bool:
        """Whether a detection run could queue anything: a ``[webhook]``, an ``[actions]`` table,
        or playbooks beyond the shipped ones (a dry-run playbook needs no action configured).
        Without any, ``detect`` skips loading the response rooms and the Microsoft SDKs they
        reach: every shipped playbook calls an action that needs a table, so none could start."""
        response = self.response
        return (
            response.webhook is not None or response.actions is not None or self.playbook_dirs != (SHIPPED_PLAYBOOKS,)
        )


@dataclass(frozen=True)
class ResponseSettings:
    """``[webhook]``, ``[actions]`` and ``[playbooks]`` (docs/webhook.md, docs/actions.md,
    docs/playbooks.md): checked when the file is read, secrets still where they are."""

    #: None when the config has no ``[webhook]`` table: nothing is sent to the SOC partner.
    webhook: WebhookSettings | None = None
    #: None when the config has no ``[actions]`` table: no action is configured.
    actions: ActionSettings | None = None
    #: The ``[actions]`` sign-in keys (``tenant_id``, ``client_id``, ``client_secret_env``...).
    actions_identity: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    #: None: the shipped playbooks and the home's ``playbooks/``.
    playbook_dirs: tuple[Path, ...] | None = None


def resolve_home(option: Path | None) -> Path:
    if option is not None:
        return Path(option).expanduser()
    if os.environ.get("CYBERWELL_HOME"):
        return Path(os.environ["CYBERWELL_HOME"]).expanduser()
    return Path.home() / ".cyberwell"


def _expect(table: dict, key: str, kind: type | tuple, path: str):
    value = table.get(key)
    # bool is an int to Python, never a number to a person writing a config file.
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        shown = "a value" if key in _SECRET_KEYS else f"{type(value).__name__} {value!r}"
        raise ConfigError(f"{path}.{key}: expected {names}, got {shown}")
    return value


#: Keys whose value is never echoed in an error: a secret, or where a secret may be pasted by mistake.
_SECRET_KEYS = {"api_key", "password", "api_key_file", "password_file"}
_ELASTIC_KEYS = {
    "hosts",
    "cloud_id",
    "api_key",
    "api_key_file",
    "username",
    "password",
    "password_file",
    "ca_certs",
    "verify_certs",
    "index_prefix",
    "request_timeout",
    "retry_deadline",
}


def _secret(table: dict, key: str, home: Path, env: str) -> str | None:
    """A secret from the table, else from the file the table names, else from the environment.

    The value of ``{key}_file`` is never echoed in an error: a person who pasted the secret
    there instead of a path would see it printed (and logged) back.
    """
    path = "store.elasticsearch"
    inline = _expect(table, key, str, path)
    file_name = _expect(table, f"{key}_file", str, path)
    if inline is not None and file_name is not None:
        raise ConfigError(f"{path}: give {key} or {key}_file, not both")
    if file_name is not None:
        return _secret_file(_under_home(home, file_name), f"{path}.{key}_file", home)
    return inline if inline is not None else (os.environ.get(env) or None)


def _secret_file(file_path: Path, where: str, home: Path) -> str:
    """The text of a secret's file; an error names the key, not the path (see ``_secret``)."""
    try:
        value = file_path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(
            f"{where}: cannot read the file it names ({error.strerror}; a relative path is under the home, {home})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: the file it names is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"{where}: the file it names is empty")
    return value


def _under_home(home: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else home / path


def elastic_settings(table: dict, home: Path) -> ElasticSettings:
    """``[store.elasticsearch]`` as plain settings; a bad value names the key and what was expected."""
    from store.elastic.client import ElasticSettingsError, check

    path = "store.elasticsearch"
    unknown = sorted(set(table) - _ELASTIC_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; expected one of: {', '.join(sorted(_ELASTIC_KEYS))}")
    hosts = _expect(table, "hosts", list, path) or []
    if not all(isinstance(host, str) for host in hosts):
        raise ConfigError(f"{path}.hosts: expected a list of URLs (strings)")
    username = _expect(table, "username", str, path)
    api_key = _secret(table, "api_key", home, "CYBERWELL_ES_API_KEY")
    password = _secret(table, "password", home, "CYBERWELL_ES_PASSWORD")
    if username is None:
        password = None if "password" not in table and "password_file" not in table else password
    elif "api_key" not in table and "api_key_file" not in table:
        api_key = None  # a user and password configured: the environment's API key is not for us
    ca_certs = _expect(table, "ca_certs", str, path)
    verify = _expect(table, "verify_certs", bool, path)
    settings = ElasticSettings(
        hosts=tuple(hosts),
        cloud_id=_expect(table, "cloud_id", str, path),
        api_key=api_key,
        username=username,
        password=password,
        ca_certs=_under_home(home, ca_certs) if ca_certs else None,
        verify_certs=True if verify is None else verify,
        index_prefix=_expect(table, "index_prefix", str, path) or "cyberwell-",
        request_timeout=float(_expect(table, "request_timeout", (int, float), path) or 60.0),
        retry_deadline=float(_expect(table, "retry_deadline", (int, float), path) or 300.0),
    )
    try:
        check(settings)
    except ElasticSettingsError as error:
        raise ConfigError(str(error)) from error
    return settings


def collector_tables(value: object) -> tuple[CollectorTable, ...]:
    """``[collectors.*]`` as records: each a table, ``enabled`` true or false, ``type`` a name.

    Whether the kind exists and its settings are right is the builder's to say (only ``collect``
    and ``serve`` build collectors).
    """
    if not isinstance(value, dict) or not all(isinstance(table, dict) for table in value.values()):
        raise ConfigError("collectors: expected tables [collectors.<name>]")
    found = []
    for name, table in value.items():
        where = f"collectors.{name}"
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}.enabled: expected true or false, got {enabled!r}")
        kind = table.get("type", name)
        if not isinstance(kind, str):
            raise ConfigError(f"{where}.type: expected the name of a collector kind, got {kind!r}")
        settings = {key: item for key, item in table.items() if key not in ("type", "enabled")}
        found.append(CollectorTable(name, kind, enabled, MappingProxyType(settings)))
    return tuple(found)


def _collectors_section(data: dict) -> CollectorsSection:
    try:
        return CollectorsSection(collector_tables(data.get("collectors", {})))
    except ConfigError as error:
        return CollectorsSection(problem=str(error))


def load(home: Path, config_file: Path | None = None) -> Config:
    """Read ``cyberwell.toml`` from the home (or the given file); absent means defaults."""
    path = config_file or home / "cyberwell.toml"
    if not path.is_file():
        if config_file is not None:
            raise ConfigError(f"config file not found: {path}")
        return Config(home=home)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text, which TOML must be") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from None
    store = _expect(data, "store", dict, "config") or {}
    backend = _expect(store, "backend", str, "store") or "embedded"
    if backend not in ("embedded", "elasticsearch"):
        raise ConfigError(f"store.backend: expected 'embedded' or 'elasticsearch', got {backend!r}")
    elastic_table = _expect(store, "elasticsearch", dict, "store")
    elastic = elastic_settings(elastic_table, home) if elastic_table is not None else None
    detections = _expect(data, "detections", dict, "config") or {}
    unknown = sorted(set(detections) - _DETECTION_KEYS)
    if unknown:
        raise ConfigError(
            f"detections: unknown key {unknown[0]!r}; expected one of: {', '.join(sorted(_DETECTION_KEYS))}"
        )
    dirs = _folders(detections, "rule_dirs", home)
    return Config(
        home=home,
        store_backend=backend,
        rule_dirs=dirs if dirs is not None else DEFAULT_RULE_DIRS,
        elasticsearch=elastic,
        collectors=_collectors_section(data),
        detections=detection_settings(detections, home),
        response=response_settings(data, home),
        evidence=MappingProxyType(_expect(data, "evidence", dict, "config") or {}),
    )


def response_settings(data: dict, home: Path) -> ResponseSettings:
    """``[webhook]``, ``[actions]`` and ``[playbooks]``; a bad value names the key."""
    webhook_table = _expect(data, "webhook", dict, "config")
    actions_table = _expect(data, "actions", dict, "config")
    playbooks_table = _expect(data, "playbooks", dict, "config") or {}
    unknown = sorted(set(playbooks_table) - {"dirs"})
    if unknown:
        raise ConfigError(f"playbooks: unknown key {unknown[0]!r}; expected dirs")
    dirs = _folders(playbooks_table, "dirs", home, "playbooks")
    if webhook_table is None and actions_table is None:
        return ResponseSettings(playbook_dirs=dirs)
    from microsoft.identity import IdentitySettings
    from playbooks.actions.settings import ActionSettings, ActionSettingsError
    from playbooks.webhook.settings import WebhookConfigError, WebhookSettings

    webhook_table = _files_under_home(webhook_table, home)
    actions_table = _files_under_home(actions_table, home)
    try:
        webhook = WebhookSettings.from_dict(webhook_table, "webhook") if webhook_table is not None else None
        actions = ActionSettings.from_dict(actions_table) if actions_table is not None else None
    except (WebhookConfigError, ActionSettingsError) as error:
        raise ConfigError(str(error)) from None
    fields = IdentitySettings.__dataclass_fields__
    identity = {key: value for key, value in (actions_table or {}).items() if key in fields}
    return ResponseSettings(webhook, actions, MappingProxyType(identity), dirs)


#: Keys of [webhook] and [actions] (and its tables) that name a file: like every path in the
#: config, a relative one is under the home, not wherever ``serve`` happened to be started.
_FILE_KEYS = frozenset(
    {
        "secret_file",
        "webhook_url_file",
        "client_secret_file",
        "certificate_path",
        "certificate_password_file",
        "ca_bundle",
    }
)


def _files_under_home(table: dict | None, home: Path) -> dict | None:
    """A copy of ``table`` (and its tables) with relative file paths made absolute under the home."""
    if table is None:
        return None
    resolved: dict = {}
    for key, value in table.items():
        if isinstance(value, dict):
            resolved[key] = _files_under_home(value, home)
        elif key in _FILE_KEYS and isinstance(value, str) and value:
            resolved[key] = str(_under_home(home, value))
        else:
            resolved[key] = value
    return resolved


_DURATION_KEYS = ("suppress", "interval", "lookback", "delay", "max_catchup", "backfill_max_window")
#: Durations that may be zero: no look-back, no delay. The others must be a second at least.
_ZERO_ALLOWED = ("lookback", "delay")
_DETECTION_KEYS = {"rule_dirs", "exception_dirs", "max_alerts", "start", *_DURATION_KEYS}


def detection_settings(table: dict, home: Path) -> DetectionSettings:
    """``[detections]`` beyond ``rule_dirs``; a bad value names the key and what was expected."""
    durations = {key: _duration(table, key) for key in _DURATION_KEYS}
    max_alerts = _expect(table, "max_alerts", int, "detections")
    if max_alerts is not None and max_alerts < 1:
        raise ConfigError(f"detections.max_alerts: expected a whole number of 1 or more, got {max_alerts!r}")
    return DetectionSettings(
        max_alerts=max_alerts,
        exception_dirs=_folders(table, "exception_dirs", home) or (),
        start=_moment(table, "start"),
        **durations,
    )


def _folders(table: dict, key: str, home: Path, section: str = "detections") -> tuple[Path, ...] | None:
    """A list of folder paths, relative ones under the home."""
    dirs = _expect(table, key, list, section)
    if dirs is None:
        return None
    if not all(isinstance(item, str) for item in dirs):
        raise ConfigError(f"{section}.{key}: expected a list of folder paths (strings)")
    return tuple(_under_home(home, item) for item in dirs)


def _duration(table: dict, key: str) -> timedelta | None:
    """A duration such as ``"30m"``, ``"1h"`` or ``"7d"`` (or a whole number of seconds), read
    as a rule's own durations are (the detections room is imported only when one is given)."""
    value = table.get(key)
    if value is None:
        return None
    expected = "0 or more" if key in _ZERO_ALLOWED else "at least 1s"
    if not isinstance(value, bool) and isinstance(value, str | int):
        from detections.scheduling.schedule import parse_span

        try:
            return parse_span(value, f"detections.{key}", zero=key in _ZERO_ALLOWED)
        except ValueError:
            pass
    raise ConfigError(f'detections.{key}: expected a duration such as "30m", "1h" or "7d" ({expected}), got {value!r}')


def _moment(table: dict, key: str) -> datetime | None:
    """An ISO 8601 time (TOML's own date-time, or text); without a zone it is UTC."""
    value = table.get(key)
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        raise ConfigError(f"detections.{key}: expected an ISO 8601 time such as 2026-11-16T00:00:00Z, got {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
