"""Compliance reports: the requirement catalogues they are judged against (Cyber Essentials v3.3
today), the evidence sources and checks those catalogues may name."""

from reports.catalogue import CYBER_ESSENTIALS_V3_3, Catalogue, CatalogueError, load_catalogue
from reports.registry import CHECKS, EVIDENCE_SOURCES, Check, EvidenceSource

__all__ = [
    "CHECKS",
    "CYBER_ESSENTIALS_V3_3",
    "EVIDENCE_SOURCES",
    "Catalogue",
    "CatalogueError",
    "Check",
    "EvidenceSource",
    "load_catalogue",
]
