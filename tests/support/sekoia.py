"""SEKOIA-IO/intake-formats test cases as an oracle: their ``expected`` parse, flattened."""

from __future__ import annotations


def flat(tree: dict, prefix: str = "") -> dict:
    """``{"source": {"ip": x}}`` -> ``{"source.ip": x}``, to compare with our dotted columns."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out
