"""The actions playbook steps call: Graph, Defender for Endpoint, Azure, webhooks and mail."""
