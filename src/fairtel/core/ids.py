"""Identifiers: random ones for new things, stable ones derived from content for idempotent work."""

from __future__ import annotations

import hashlib
import hmac
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """A time-ordered random id (48-bit milliseconds + 80 random bits), e.g. ``fnd_01jd...``."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    rnd = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_b32(ms, 10)}{_b32(rnd, 16)}"


def stable_id(prefix: str, *parts: object, key: bytes | None = None) -> str:
    """The same parts always give the same id: reruns after a crash produce the same rows, never new ones.
    ``key`` (see ``purpose_key``): an id of a subscriber's number that only the key's holder can recompute, so
    that whoever sees the id cannot find the number by hashing every number of a range."""
    h = hashlib.blake2b(digest_size=16, key=key or b"")
    for p in parts:
        b = str(p).encode()
        h.update(len(b).to_bytes(4, "big"))
        h.update(b)
    return f"{prefix}_{_b32(int.from_bytes(h.digest(), 'big'), 26)}"


def purpose_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one use of the operator's secret (ids of one kind), independent of its other uses."""
    return hmac.new(secret.encode(), f"fairtel/{purpose}".encode(), hashlib.sha256).digest()
