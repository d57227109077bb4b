"""What a generated scenario is: its files, its window, and the facts of the stories in it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

#: Source kinds the collectors replay: ``collectors.formats.registry.SOURCE_KINDS``, which scenario (a floor
#: below collectors) cannot import; tests/collectors/test_replay_registry.py holds the two equal.
INGESTABLE_KINDS = ("entra-signins", "entra-signins-la", "defender-alerts", "azure-firewall", "syslog")


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    kind: str  # a source kind, e.g. "entra-signins"; "attack-simulation" for the awareness campaign
    records: int  # records in the file (lines, rows or objects)


@dataclass(frozen=True)
class StoryFacts:
    """The attack stories' particulars, as the alerts they raise will name them."""

    spray_ip: str
    spray_country: str
    spray_users: tuple[str, ...]
    spray_at: datetime
    fatigue_user: str
    fatigue_ip: str
    fatigue_denials: int
    fatigue_at: datetime
    compromised_user: str
    compromised_ip: str
    compromised_countries: tuple[str, ...]
    compromised_at: datetime
    legacy_user: str
    legacy_clients: tuple[str, ...]
    legacy_at: datetime
    infected_device: str  # as Defender names it (deviceDnsName)
    infected_device_ip: str
    infected_user: str
    malware_alert_id: str
    malware_at: datetime
    scanning_host: str
    scan_target: str
    scan_ports: int
    scan_at: datetime
    bad_ip: str
    bad_ip_at: datetime
    phishing_simulation_id: str


@dataclass(frozen=True)
class ScenarioManifest:
    files: tuple[ScenarioFile, ...]  # the sources' exports, for the collectors to replay
    awareness_files: tuple[ScenarioFile, ...]  # Attack Simulation Training exports (no collector yet)
    start: datetime
    end: datetime
    size: int
    seed: int
    domain: str
    tenant_id: str
    users: int
    stories: StoryFacts
    counts: dict[str, int] = field(default_factory=dict)  # events per source kind (the LA copy excluded)

    def files_of(self, kind: str) -> list[Path]:
        return [f.path for f in (*self.files, *self.awareness_files) if f.kind == kind]

    def to_dict(self) -> dict:
        """A JSON-ready form (paths and times as text), e.g. for the CLI to print."""

        def plain(value):
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, datetime):
                return value.isoformat().replace("+00:00", "Z")
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))
