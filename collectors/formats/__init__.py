"""Source formats: each parser turns one kind of export or message into normalised events.

Which parser reads which source kind, and how replay drives it, is ``collectors.formats.registry``.
"""
