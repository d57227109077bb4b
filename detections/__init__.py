"""Detections: load Sigma rules, run them over a window of a store, correlate, write alerts.

The public surface is small: ``load_rules`` (rules and the problems of those that cannot run),
``run_detections`` (one pass over a window, returning a ``DetectionReport``) and ``Alert``.
Alert persistence lives in ``store.state.alerts``.
"""

from detections.alerts import Alert
from detections.engine import DetectionReport, RuleResult, run_detections
from detections.loader import RuleProblem, RuleSet, load_rules

__all__ = [
    "Alert",
    "DetectionReport",
    "RuleProblem",
    "RuleResult",
    "RuleSet",
    "load_rules",
    "run_detections",
]
