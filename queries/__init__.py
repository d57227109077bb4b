"""The query layer: what a person sees, as typed records, for the CLI, the dashboard and the reports."""
