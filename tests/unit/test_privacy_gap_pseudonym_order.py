"""Sort keys of the subscriber list's keyed order (``KeyedOrder``): what a database stores and indexes so that a
list is read from an index. Keyed by the secret, but under a key of their own: the order is neither the
numbers' nor the pseudonyms', and a stored key reveals no pseudonym, so a copy of the database (numbers beside
their keys, pseudonyms in the audit) cannot pair the two. Tagged with the key, so that keys made under a secret
since replaced are found and made again."""

from __future__ import annotations

import hashlib

from fairtel.privacy import ORDER_KEY_BYTES, KeyedOrder, Pseudonymizer
from fairtel.privacy._pseudonym import _ALPHABET, _tag_range

NUMBERS = [f"86138{n:08d}" for n in range(0, 5000 * 7919, 7919)]


def cut(digest: bytes) -> str:
    """A pseudonym as ``Pseudonymizer`` cuts it from a digest: its first 100 bits in base32."""
    n = int.from_bytes(digest[:13], "big") >> 4
    return "p" + "".join(_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(20)))


def test_cut_is_how_pseudonyms_are_made() -> None:
    p = Pseudonymizer("k" * 32)
    assert all(cut(p.digest(n)) == p(n) for n in NUMBERS[:50])


def test_the_order_is_neither_the_numbers_nor_the_pseudonyms() -> None:
    p = Pseudonymizer("k" * 32)
    keyed = sorted(NUMBERS, key=p.order)
    assert keyed != NUMBERS and keyed != sorted(NUMBERS, key=p)
    assert len({p.order(n) for n in NUMBERS}) == len(NUMBERS)
    assert all(len(p.order(n)) == ORDER_KEY_BYTES and p.order.current(p.order(n)) for n in NUMBERS[:50])
    # where a line stands in one order tells nothing of where it stands in the other: no more than chance agree
    by_pseudonym = {n: i for i, n in enumerate(sorted(NUMBERS, key=p))}
    same_place = sum(by_pseudonym[n] == i for i, n in enumerate(keyed))
    assert same_place < 10


def test_no_sort_key_reveals_a_pseudonym() -> None:
    p = Pseudonymizer("k" * 32)
    keys = {n: p.order(n) for n in NUMBERS}
    digests = {n: p.digest(n) for n in NUMBERS}
    pseudonyms = {p(n) for n in NUMBERS}
    heads = {d[:8] for d in digests.values()}
    for n, key in keys.items():
        body = key[len(p.order.tag):]
        # not the digest the pseudonym is cut from, nor a prefix of it, nor a part of it
        assert not digests[n].startswith(body) and body not in digests[n] and key not in digests[n]
        # no 8 bytes of any line's digest appear in it, wherever they stand: nothing to cut any pseudonym from
        assert not any(key[i:i + 8] in heads for i in range(len(key) - 7))
        assert cut(body) not in pseudonyms and cut(key) not in pseudonyms
    # nor a plain hash of the number, which anyone could recompute
    n = NUMBERS[7]
    assert hashlib.sha256(n.encode()).digest()[:16] not in keys[n]


def test_sort_keys_are_keyed_and_tagged_with_their_key() -> None:
    p, q = Pseudonymizer("k" * 32), Pseudonymizer("x" * 32)
    n = NUMBERS[7]
    assert p.order(n) != q.order(n) and p.order.tag != q.order.tag
    assert not q.order.current(p.order(n))
    # the same order whoever makes it from the same secret (the server, ``fairtel load``)
    assert KeyedOrder(Pseudonymizer("k" * 32).digest)(n) == p.order(n)
    # each domain's pseudonymiser keys an order of its own
    assert Pseudonymizer("k" * 32, domain="customer").order(n) != p.order(n)
    # every key under a tag lies in its range, and a key under another tag outside it
    for key in (p.order(m) for m in NUMBERS[:200]):
        assert p.order.low < key and (p.order.high is None or key < p.order.high)
    other = q.order(n)
    assert other < p.order.low or (p.order.high is not None and other >= p.order.high)
    assert not p.order.current(p.order(n)[:-1]) and not p.order.current(p.digest(n))


def test_the_range_of_the_last_tag_is_open_above() -> None:
    assert _tag_range(b"\xff" * 4) == (b"\xff" * 4, None)
    assert _tag_range(b"\0\0\0\x01") == (b"\0\0\0\x01", b"\0\0\0\x02")
    assert _tag_range(b"\0\0\x01\xff") == (b"\0\0\x01\xff", b"\0\0\x02\0")
