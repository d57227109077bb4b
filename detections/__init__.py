"""Detections: load Sigma rules, run them over a window of a store, correlate, write alerts.

The public surface is small: ``load_rules`` (rules and the problems of those that cannot run),
``run_detections`` (one pass over a window, returning a ``DetectionReport``) and ``Alert``;
exceptions (allow-lists with an owner, a reason and an expiry) are read from the shipped
``rules/exceptions``, each rule folder's ``exceptions/`` and the home's ``exceptions/``.
Alert persistence lives in ``store.state.alerts``.
"""

from detections.alerts import Alert, AlertVolume
from detections.engine import DetectionReport, RuleResult, run_detections
from detections.exceptions import DEMO_EXCEPTIONS, EXCEPTIONS_FOLDER
from detections.loader import RuleProblem, RuleSet, load_rules

__all__ = [
    "DEMO_EXCEPTIONS",
    "EXCEPTIONS_FOLDER",
    "Alert",
    "AlertVolume",
    "DetectionReport",
    "RuleProblem",
    "RuleResult",
    "RuleSet",
    "load_rules",
    "run_detections",
]
