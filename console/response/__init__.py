"""The response doors: the playbooks and actions the config turns on (``loading``), and the
``playbook``, ``webhook`` and ``audit`` commands."""
