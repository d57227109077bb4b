"""The demo council's compliance evidence: weekly snapshots of every evidence source, as the
collectors would have taken them, with the gaps a small council really has and their closing
over the weeks (docs/compliance.md, "The demo council's evidence").

``write_demo_evidence(home, seed, at)`` writes them through :class:`store.snapshots.SnapshotStore`;
the same seed and time give the same snapshots, and a second call adds nothing.
"""

from .estate.plan import EstateSize
from .story import EvidenceStory
from .tables.schemas import SCHEMAS
from .writing import EvidenceSummary, write_demo_evidence

__all__ = ["SCHEMAS", "EstateSize", "EvidenceStory", "EvidenceSummary", "write_demo_evidence"]
