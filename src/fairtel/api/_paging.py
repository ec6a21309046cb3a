"""Pagination (``limit`` and an opaque ``cursor``) and the shapes shared by every listing."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.engine import Connection

from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import Money

T = TypeVar("T")
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page.")
    available: bool = Field(True, description="False when the stage that produces these rows has not run yet.")
    note: str | None = None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


_OFFSET_CURSOR = re.compile(r"o:(0|[1-9][0-9]{0,17})", re.ASCII)
"""What ``encode_cursor`` writes: an offset in plain digits, below 10^18 (a database's 64-bit integer holds it, and
the offset of the next page too); a larger one, or one written otherwise (``o:+5``, ``o:1_000``), is no cursor of ours."""


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError([Problem("query", None, "cursor", "not a cursor this API gave out")], what="request") from exc
    found = _OFFSET_CURSOR.fullmatch(text)
    if found is None:
        raise InvalidInputError([Problem("query", None, "cursor", "not a cursor this API gave out")], what="request")
    return int(found.group(1))


def encode_after(key: bytes) -> str:
    """A cursor naming the sort key of the last row shown: the next page starts after it wherever rows were
    added or removed meanwhile (an offset would skip or repeat rows that moved past it)."""
    return base64.urlsafe_b64encode(b"k:" + key.hex().encode()).decode().rstrip("=")


def decode_after(cursor: str | None) -> bytes | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "k":
            raise ValueError(cursor)
        return bytes.fromhex(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError([Problem("query", None, "cursor", "not a cursor this API gave out")], what="request") from exc


def fetch_page(conn: Connection, query: Select[Any], *, limit: int, cursor: str | None) -> tuple[Sequence[Any], str | None]:
    """Rows of one page of ``query`` (which must be ordered) and the cursor of the next page."""
    offset = decode_cursor(cursor)
    rows = conn.execute(query.limit(limit + 1).offset(offset)).all()
    more = len(rows) > limit
    return rows[:limit], encode_cursor(offset + limit) if more else None


def slice_page(items: Sequence[T], *, limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    offset = decode_cursor(cursor)
    part = list(items[offset : offset + limit])
    return part, encode_cursor(offset + limit) if offset + limit < len(items) else None


def money_text(minor: int | None, currency: str | None) -> str | None:
    """Integer minor units at rest → a decimal string on the wire (never a float)."""
    if minor is None or currency is None:
        return None
    return str(Money.from_minor(int(minor), currency).amount)
