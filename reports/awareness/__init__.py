"""Awareness campaigns: phishing-simulation and training metrics from the Attack Simulation
Training and GoPhish snapshots, counted in DuckDB, defined in ``definitions.toml``, and set out
as a report document that names no one."""

from reports.awareness.definitions import DefinitionError, Definitions, load_definitions
from reports.awareness.metrics import GroupMetrics, Ratio, RepeatOffenders, group_metrics, repeat_offenders, suppress
from reports.awareness.recipients import Recipients
from reports.awareness.report import AwarenessReport, awareness_document, build_awareness

__all__ = [
    "DefinitionError",
    "Definitions",
    "GroupMetrics",
    "Ratio",
    "Recipients",
    "RepeatOffenders",
    "AwarenessReport",
    "awareness_document",
    "build_awareness",
    "group_metrics",
    "load_definitions",
    "repeat_offenders",
    "suppress",
]
