"""How a webhook delivery proves it came from Cyberwell and was not replayed later.

The signature is HMAC-SHA256, keyed with the shared secret, over ``"<timestamp>.<body>"``: the
timestamp is inside what is signed, so a receiver that refuses old timestamps refuses a captured
request sent again, and the body cannot change without the signature changing. The ``v1=``
prefix leaves room for another scheme later without breaking receivers. docs/webhook.md has the
receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE = "X-Cyberwell-Signature"
TIMESTAMP = "X-Cyberwell-Timestamp"
IDEMPOTENCY_KEY = "Idempotency-Key"
EVENT = "X-Cyberwell-Event"
SCHEME = "v1"
#: How far a receiver should accept a timestamp from its own clock, in seconds.
TOLERANCE = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signed_headers(secret: bytes, body: bytes, idempotency_key: str, event: str, now: float | None = None) -> dict:
    """The headers of one attempt: signed at the time it is sent, so a retry an hour later is
    not refused as stale; the body and the idempotency key are the same on every attempt."""
    timestamp = int(now if now is not None else time.time())
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
        IDEMPOTENCY_KEY: idempotency_key,
        EVENT: event,
    }


def verify(
    secret: bytes, timestamp: str, body: bytes, header: str, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    """The receiver's check, as docs/webhook.md shows it: a fresh timestamp and a matching
    signature, compared in constant time."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, sent, body), header)
