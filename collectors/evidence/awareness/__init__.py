"""Awareness-campaign evidence: Attack Simulation Training results (Graph), GoPhish's API and its
exported files, with their snapshot columns in ``columns``."""
