"""Checks of accounts and how they sign in: the directory, administrators, MFA, sign-ins, access policies."""
