"""The home directory and its ``cyberwell.toml``.

The home holds the data (events, state) and the config. It comes from ``--home``, else the
``CYBERWELL_HOME`` environment variable, else ``~/.cyberwell``. Rooms never read config
themselves: the console reads it once and passes plain values in.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_RULES = Path(__file__).resolve().parents[1] / "rules"
DEFAULT_RULE_DIRS = (REPO_RULES / "sigmahq", REPO_RULES / "cyberwell")


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and what was expected."""


@dataclass(frozen=True)
class Config:
    home: Path
    store_backend: str = "embedded"
    rule_dirs: tuple[Path, ...] = DEFAULT_RULE_DIRS


def resolve_home(option: Path | None) -> Path:
    if option is not None:
        return Path(option).expanduser()
    if os.environ.get("CYBERWELL_HOME"):
        return Path(os.environ["CYBERWELL_HOME"]).expanduser()
    return Path.home() / ".cyberwell"


def _expect(table: dict, key: str, kind: type, path: str):
    value = table.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{path}.{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


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
    store = _expect(data, "store", dict, "config") or {}
    backend = _expect(store, "backend", str, "store") or "embedded"
    if backend not in ("embedded", "elasticsearch"):
        raise ConfigError(f"store.backend: expected 'embedded' or 'elasticsearch', got {backend!r}")
    detections = _expect(data, "detections", dict, "config") or {}
    dirs = _expect(detections, "rule_dirs", list, "detections")
    rule_dirs = DEFAULT_RULE_DIRS
    if dirs is not None:
        if not all(isinstance(item, str) for item in dirs):
            raise ConfigError("detections.rule_dirs: expected a list of folder paths (strings)")
        rule_dirs = tuple((home / item) if not Path(item).is_absolute() else Path(item) for item in dirs)
    return Config(home=home, store_backend=backend, rule_dirs=rule_dirs)
