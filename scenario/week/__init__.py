"""The demo week: ordinary sign-ins, network flows and Defender alerts, and the attack stories in them."""
