"""The demo scenario: a council's week of telemetry, with attack stories woven in, in raw formats.

``generate`` writes the sources' own exports (Graph sign-in JSON, a Log Analytics CSV, Defender
alert JSON, Azure Firewall diagnostic records, FortiGate syslog, Attack Simulation Training
JSON) so the demo goes through the real parsers. The same (size, seed, start) always gives
byte-identical files. Which alerts the stories must raise is in expected_alerts.yaml.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from .formats.writers import write_scenario
from .manifest import INGESTABLE_KINDS, ScenarioFile, ScenarioManifest, StoryFacts

EXPECTED_ALERTS = Path(__file__).with_name("expected_alerts.yaml")

#: Below this the fixed-size stories would be most of the data; they are still all written.
MIN_SIZE = 1_000


def generate(out_dir: Path, size: int = 100_000, seed: int = 7, start: datetime | None = None) -> ScenarioManifest:
    """Write a scenario of about ``size`` events into ``out_dir`` and describe what was written.

    ``start`` is the first day of the seven-day window (its date is used; naive means UTC);
    by default a fixed Monday, so the output never depends on the clock.
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} events (got {size})")
    return write_scenario(Path(out_dir), size=size, seed=seed, start=start)


__all__ = ["EXPECTED_ALERTS", "INGESTABLE_KINDS", "ScenarioFile", "ScenarioManifest", "StoryFacts", "generate"]
