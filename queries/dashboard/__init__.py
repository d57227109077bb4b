"""What the dashboard (``cyberwell dashboard``) shows, read in bulk from the store and the state
database: the overview's counts (``overview``), the alert queue with its filters and search
(``alert_queue``), an alert's detail with its events and the entity's timeline (``alert_detail``).

Every function returns frozen records and bounds what a person reads (with how much was held
back); counting is done by SQLite or the event store, never one Python object per event.
"""
