"""Live collectors: Microsoft Graph, Log Analytics and the syslog receiver, each with a checkpoint."""
