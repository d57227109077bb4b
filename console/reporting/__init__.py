"""The ``report`` and ``evidence`` commands: compliance reports written to files, the evidence
pack verified, evidence snapshots taken (docs/reports.md)."""
