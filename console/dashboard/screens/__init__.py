"""The dashboard's screens: each reads through ``queries`` in a worker (``loading``) and shows
what it read; the dialogs ask the questions triage and approvals need."""
