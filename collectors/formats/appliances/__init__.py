"""The bodies appliances write in syslog: CEF, FortiGate key=value and PAN-OS CSV."""
