"""Compliance evidence: snapshots of what Microsoft's APIs say about the estate, for the reports.

One module per kind of job: ``graph_directory`` (users, MFA registration, Conditional Access,
directory roles, legacy-protocol sign-ins), ``intune`` (device compliance), ``defender_devices``
(machines, antivirus health, missing security updates, end-of-support software),
``azure_firewall_rules``; ``snapshot_run`` takes a snapshot of every configured source and
records what could not be read, and why. The snapshots are kept by :mod:`store.snapshots`.

Source names are the strings of the compliance catalogue's evidence registry
(``reports.registry.EvidenceSource``); the collectors cannot import it (it is two floors up),
so a test holds the two lists together.
"""
