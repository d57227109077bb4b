"""SQL text the embedded store builds: quoted names and literals, macros, the alert-group query."""
