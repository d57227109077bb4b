"""The query layer: what a person sees, as typed records, for the CLI, the dashboard and the reports.

Each function takes a store (``store.protocol.Store``) or plain values and returns frozen records
with ``to_dict()``; nothing here prints, styles or reads config. One module per subject:

* ``queries.alerts``: ``list_alerts`` (filters, a limit, and how many it held back),
  ``alerts_first_seen_between`` (what detecting a window raised);
* ``queries.alert_summary``: ``summarise_alerts`` (counts by severity and rule, the serious ones);
* ``queries.rules``: ``list_rules`` (the rules that run, and those that cannot, with why);
* ``queries.quarantine``: ``list_quarantine`` (the newest records and the total);
* ``queries.collector_status``: ``collector_status`` (per live source, from its run records, with
  the syslog receiver's counters from ``queries.receiver_status``).

Nothing is re-exported here: importing this package would then load pySigma for ``list_rules``
and the syslog receiver for ``collector_status``, and every command would pay for both.
"""
