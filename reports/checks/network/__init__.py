"""Checks of the firewall rules: what is open from the internet, and whether each rule is documented."""
