from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cached_property

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ORDER_TAG_BYTES = 4
ORDER_KEY_BYTES = ORDER_TAG_BYTES + 16
# Labels no value is (not a number, nor anything pseudonymised): the order's own key is the pseudonymiser's digest
# of the first, and its tag the order key's digest of the second.
_ORDER_KEY_OF = "#list-order/key"
_ORDER_TAG_OF = "#list-order/tag"


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

    @cached_property
    def order(self) -> KeyedOrder:
        """Sort keys of values in a keyed order of their own (not the pseudonyms'), for a database to keep and index."""
        return KeyedOrder(self.digest)


class KeyedOrder:
    """Where a value stands in a keyed order that is neither the values' nor their pseudonyms', as bytes a database
    can store and index: a tag naming the key (4 bytes), then the first 16 bytes of the value's HMAC-SHA256
    under the order's own key. That key is the pseudonymiser's digest of a label no value is: derived from the
    secret, apart from the key the pseudonyms are cut from. So a stored sort key cannot be recomputed from a
    number without the secret, and it says nothing of the value's pseudonym: a copy of a database holding the
    numbers beside their sort keys cannot tell which pseudonym (in the audit, in an analyst's export) is whose.

    Keys made under another secret carry another tag: they fall outside ``low``..``high``, the range of the
    current key's, so a store sorting by them sees which to make again when the secret is replaced."""

    def __init__(self, digest: Callable[[str], bytes]) -> None:
        self._key = digest(_ORDER_KEY_OF)
        self.tag = self._digest(_ORDER_TAG_OF)[:ORDER_TAG_BYTES]
        self.low, self.high = _tag_range(self.tag)

    def _digest(self, value: str) -> bytes:
        return hmac.digest(self._key, value.encode(), "sha256")

    def __call__(self, value: str) -> bytes:
        return self.tag + self._digest(value)[: ORDER_KEY_BYTES - ORDER_TAG_BYTES]

    def current(self, key: bytes) -> bool:
        """Whether ``key`` is a sort key made under this key (not under one since replaced)."""
        return len(key) == ORDER_KEY_BYTES and key[:ORDER_TAG_BYTES] == self.tag


def _tag_range(tag: bytes) -> tuple[bytes, bytes | None]:
    """The range every sort key under ``tag`` lies in: from the tag itself (a prefix sorts first) to the tag after
    it, excluded; open above (None) for the last tag, which nothing follows."""
    after = int.from_bytes(tag, "big") + 1
    return tag, after.to_bytes(len(tag), "big") if after < 1 << (8 * len(tag)) else None


MASK_HIDDEN = 4  # characters a masked number hides at the least, in its middle
MASK_WHOLE = 7  # a number this short or shorter is hidden whole


def mask_msisdn(msisdn: str) -> str:
    """A number partly hidden: what an agent sees before opening a case, and a statement shows of the other
    party (对方号码已部分隐藏). The middle is hidden, at least 4 characters of it (all but the first 5 and the
    last 4 of a longer number), and every character shown is shown once, where it stands: ``86138****5678``
    (13), ``138****8000`` (11), ``13****5678`` (10), ``4****3456`` (9), ``****2345`` (8).

    A number of 7 characters or fewer (a short code such as 10086, a PBX extension) is hidden whole: with 4
    hidden, what would be left to show is a digit or three, which helps no reader and leaves a short number
    easier to guess."""
    n = len(msisdn)
    if n <= MASK_WHOLE:
        return "*" * n
    tail = 4
    head = min(5, n - tail - MASK_HIDDEN)
    return f"{msisdn[:head]}{'*' * (n - head - tail)}{msisdn[n - tail:]}"
