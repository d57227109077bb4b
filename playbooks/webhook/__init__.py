"""The SOC partner's webhook: payloads, signing, settings, the outbox hook, the deliverer and
the ``notify.soc`` action (docs/webhook.md)."""
