"""The state database beside either event store: alerts and their history, rule runs, correlation
windows, collector checkpoints and runs, the segment catalogue and the quarantine (SQLite, WAL)."""
