"""BER framing (X.690): find where each tag-length-value element starts and ends without decoding it, so
that a file of concatenated records can be cut into records, each decoded on its own, and a damaged record
costs only itself. Also the small decoders of the octet-string types 3GPP and TAP records use."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
MAX_DEPTH = 64


Buffer: TypeAlias = bytes | mmap.mmap  # a whole file in memory, or mapped


class TlvError(ValueError):
    """Framing that cannot be followed; ``reason`` is a reject code (truncated or undecodable)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class IndefiniteLength(TlvError):
    """Valid BER the lean decoders do not follow; a complete decoder can."""

    def __init__(self, at: int) -> None:
        super().__init__("undecodable", f"indefinite length at byte {at}")


@dataclass(frozen=True, slots=True)
class Tlv:
    cls: int
    constructed: bool
    tag: int
    start: int  # first byte of the tag
    body: int  # first byte of the value
    end: int  # one past the last byte (after the end-of-contents octets of an indefinite length)
    definite: bool = True

    @property
    def body_end(self) -> int:
        return self.end if self.definite else self.end - 2


@dataclass(frozen=True, slots=True)
class Head:
    cls: int
    constructed: bool
    tag: int
    body: int  # first byte of the value
    length: int | None  # None: indefinite


def read_head(buf: Buffer, at: int, limit: int) -> Head:
    """The tag and length of the element at ``at``; the value may run past ``limit``."""
    if at >= limit:
        raise TlvError("truncated", f"element expected at byte {at}")
    first = buf[at]
    cls, constructed, tag = first >> 6, bool(first & 0x20), first & 0x1F
    i = at + 1
    if tag == 0x1F:  # high tag number: base-128 digits
        tag = 0
        for _ in range(5):
            if i >= limit:
                raise TlvError("truncated", f"tag cut short at byte {i}")
            b = buf[i]
            i += 1
            tag = (tag << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        else:
            raise TlvError("undecodable", f"tag too long at byte {at}")
    if i >= limit:
        raise TlvError("truncated", f"length cut short at byte {i}")
    n = buf[i]
    i += 1
    if n < 0x80:
        return Head(cls, constructed, tag, i, n)
    if n == 0x80:
        if not constructed:
            raise TlvError("undecodable", f"indefinite length on a primitive element at byte {at}")
        return Head(cls, constructed, tag, i, None)
    count = n & 0x7F
    if count > 8:
        raise TlvError("undecodable", f"length of {count} octets at byte {at}")
    if i + count > limit:
        raise TlvError("truncated", f"length cut short at byte {i}")
    length = 0
    for k in range(count):
        length = (length << 8) | buf[i + k]
    return Head(cls, constructed, tag, i + count, length)


def read_tlv(buf: Buffer, at: int, limit: int, depth: int = 0) -> Tlv:
    """The element starting at ``at`` and ending no later than ``limit``."""
    if depth > MAX_DEPTH:
        raise TlvError("undecodable", "elements nested too deep")
    head = read_head(buf, at, limit)
    if head.length is None:
        j = head.body
        while True:
            if j + 1 < limit and buf[j] == 0 and buf[j + 1] == 0:
                return Tlv(head.cls, head.constructed, head.tag, at, head.body, j + 2, definite=False)
            j = read_tlv(buf, j, limit, depth + 1).end
    end = head.body + head.length
    if end > limit:
        raise TlvError("truncated", f"element at byte {at} needs {end - at} bytes, {limit - at} left")
    return Tlv(head.cls, head.constructed, head.tag, at, head.body, end)


def lenient(buf: Buffer, at: int, limit: int) -> tuple[Tlv, bool]:
    """The element at ``at``, cut at ``limit`` when its length runs past it (a truncated file): the element
    and whether it was cut. Its complete children can still be read."""
    try:
        return read_tlv(buf, at, limit), False
    except TlvError as exc:
        if exc.reason != "truncated":
            raise
    head = read_head(buf, at, limit)
    return Tlv(head.cls, head.constructed, head.tag, at, head.body, limit), True


def children(buf: Buffer, parent: Tlv) -> Iterator[Tlv]:
    at, limit = parent.body, parent.body_end
    while at < limit:
        child = read_tlv(buf, at, limit)
        yield child
        at = child.end


def ber_int(data: bytes) -> int:
    """A BER INTEGER body (two's complement, big-endian)."""
    return int.from_bytes(data, "big", signed=True) if data else 0


_TBCD_DIGITS = "0123456789*#abcf"
_TBCD_PAIRS = [_TBCD_DIGITS[b & 0x0F] + _TBCD_DIGITS[b >> 4] for b in range(256)]


def tbcd(data: bytes) -> str:
    """3GPP TS 29.002 TBCD-STRING: two digits per octet, low nibble first, 0xF fills the last."""
    text = "".join(map(_TBCD_PAIRS.__getitem__, data))
    cut = text.find("f")
    return text if cut < 0 else text[:cut]


def bcd(data: bytes) -> str:
    """TAP BCDString: two digits per octet, high nibble first, trailing 0xF fill. Some encoders write
    TBCD (the 3GPP order) instead; a filler in a high nibble gives them away and they are read as TBCD."""
    digits = data.hex().upper()
    trimmed = digits.rstrip("F")
    if "F" in trimmed or not trimmed.isdigit():
        return tbcd(data)
    return trimmed


def isdn_address(data: bytes) -> str:
    """MAP ISDN-AddressString: one octet of nature of address / numbering plan, then TBCD digits."""
    if not data:
        return ""
    return tbcd(data[1:]) if data[0] & 0x80 else tbcd(data)


def bcd_timestamp(data: bytes) -> str:
    """3GPP TS 32.298 TimeStamp (9 octets BCD ``YYMMDDhhmmss`` + ASCII sign + BCD ``hhmm``) -> RFC 3339.
    A value that does not decode comes back as ``invalid:<hex>`` for validation to reject."""
    text = data.hex()
    if len(data) != 9 or not text[:12].isdigit() or chr(data[6]) not in "+-" or not text[14:].isdigit():
        return f"invalid:{text}"
    return (f"20{text[0:2]}-{text[2:4]}-{text[4:6]}T{text[6:8]}:{text[8:10]}:{text[10:12]}"
            f"{chr(data[6])}{text[14:16]}:{text[16:18]}")


def fields(data: bytes, at: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The elements in ``data[at:end]`` as (first tag octet, tag number, body start, body end): the hot loop
    of the lean decoders, so no objects per element. Definite lengths only: an indefinite length raises
    TlvError (the caller falls back to a complete decoder); a header cut short raises IndexError."""
    while at < end:
        first = data[at]
        at += 1
        tag = first & 0x1F
        if tag == 0x1F:
            tag = 0
            while True:
                b = data[at]
                at += 1
                tag = (tag << 7) | (b & 0x7F)
                if not b & 0x80:
                    break
        n = data[at]
        at += 1
        if n & 0x80:
            count = n & 0x7F
            if count == 0:
                raise IndefiniteLength(at - 1)
            if count > 8:
                raise TlvError("undecodable", f"length form 0x{n:02x} at byte {at - 1}")
            n = int.from_bytes(data[at:at + count], "big")
            at += count
        stop = at + n
        if stop > end:
            raise TlvError("truncated", f"element at byte {at} runs past its container")
        yield first, tag, at, stop
        at = stop
