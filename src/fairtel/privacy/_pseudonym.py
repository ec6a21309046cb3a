from __future__ import annotations

import hashlib
import hmac

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class Pseudonymizer:
    """Stable keyed pseudonyms: HMAC-SHA256 under a secret, truncated to 100 bits, base32.

    The same number always maps to the same pseudonym under one key, so analysts can join and count;
    without the key the mapping cannot be recomputed, so the pseudonym does not reveal the number even
    though the space of mobile numbers is small enough to enumerate (which breaks plain hashes).
    Different purposes use different ``domain`` strings so pseudonyms cannot be linked across them.
    """

    def __init__(self, key: bytes | str, *, domain: str = "msisdn") -> None:
        k = key.encode() if isinstance(key, str) else key
        if len(k) < 16:
            raise ValueError("a pseudonymisation key needs at least 16 bytes")
        self._key = hmac.new(k, f"fairtel/pseudonym/{domain}".encode(), hashlib.sha256).digest()
        self._prefix = {"msisdn": "p", "customer": "c", "imei": "d", "login": "u"}.get(domain, "x")

    def __call__(self, value: str) -> str:
        n = int.from_bytes(self.digest(value)[:13], "big") >> 4  # 100 bits
        out = []
        for _ in range(20):
            out.append(_ALPHABET[n & 31])
            n >>= 5
        return self._prefix + "".join(reversed(out))

    def many(self, values: list[str]) -> list[str]:
        return [self(v) for v in values]

    def digest(self, value: str) -> bytes:
        """The keyed digest a pseudonym is cut from (its first 100 bits, in an alphabet in ASCII order): a
        list sorted by digest is sorted by pseudonym, an order that says nothing about the values."""
        return hmac.digest(self._key, value.encode(), "sha256")

    def hmac_pads(self) -> tuple[bytes, bytes]:
        """The inner and outer key blocks of HMAC-SHA256 under this key. A database with SHA-256 computes
        ``digest(v)`` as ``sha256(outer || sha256(inner || v))``, and so sorts by pseudonym where the rows are.
        They are as secret as the key itself."""
        block = self._key.ljust(64, b"\0")
        return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def mask_msisdn(msisdn: str) -> str:
    """What an agent sees before opening a case: 86138****5678."""
    if len(msisdn) <= 7:
        return "*" * len(msisdn)
    return f"{msisdn[:5]}{'*' * (len(msisdn) - 9)}{msisdn[-4:]}"
