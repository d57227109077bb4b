"""Checks of devices: inventory across Defender, Intune and sign-ins; anti-malware; updates."""
