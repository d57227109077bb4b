"""The demo week written as the files Microsoft and the firewalls export."""
