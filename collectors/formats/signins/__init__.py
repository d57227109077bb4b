"""Entra ID sign-ins as Graph writes them (and the diagnostic settings), and as Log Analytics exports them."""
