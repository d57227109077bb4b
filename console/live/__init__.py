"""Live collection from the console: ``collect``, ``serve`` and ``status``, and the collectors'
config tables made into collectors."""
