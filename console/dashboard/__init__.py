"""``cyberwell dashboard``: the security manager's terminal dashboard (Textual).

Screens read through ``queries.dashboard`` and the other query modules, in Textual thread
workers so the interface never waits on the store; every change (triage, approvals) goes through
the store interface and its books, which keep the history and the audit trail. docs/dashboard.md
is the user's page. ``app.DashboardApp`` is the application; ``command.dashboard_command`` the
typer command the CLI registers.
"""
