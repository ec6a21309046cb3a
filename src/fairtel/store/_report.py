"""What an import did with each line of a file: accepted, duplicate or rejected (with every problem)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from fairtel.core.errors import FairtelError, NotAvailableError, Problem
from fairtel.core.time import parse_rfc3339

MSISDN_RE = re.compile(r"[1-9][0-9]{6,14}")  # E.164 digits without "+"


class ImportStatus(StrEnum):
    OK = "ok"  # every line accepted (or a duplicate of what is already stored)
    PARTIAL = "partial"  # some lines rejected
    FAILED = "failed"  # nothing usable: no line accepted and at least one problem


@dataclass(slots=True)
class ImportReport:
    """Counts per file. Always ``read == accepted + duplicate + rejected``; of the accepted lines,
    ``inserted`` were new and ``updated`` changed a stored row (the rest were already stored as they are).
    ``problems`` may hold several entries for one rejected line: every problem is reported."""

    file: str
    kind: str
    read: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def status(self) -> ImportStatus:
        if self.rejected == 0 and not self.problems:
            return ImportStatus.OK
        if self.accepted + self.duplicate > 0:
            return ImportStatus.PARTIAL
        return ImportStatus.FAILED

    def to_dict(self, *, max_problems: int | None = None) -> dict[str, Any]:
        shown = self.problems if max_problems is None else self.problems[:max_problems]
        return {
            "file": self.file,
            "kind": self.kind,
            "status": self.status.value,
            "read": self.read,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "inserted": self.inserted,
            "updated": self.updated,
            "problems": [
                {"file": p.file, "line": p.line, "field": p.field, "code": p.code, "message": p.message} for p in shown
            ],
            "problems_total": len(self.problems),
        }


def dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotAvailableError(f"database dialect {conn.dialect.name!r} is not supported: use SQLite or PostgreSQL")


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def has_undecodable(text: str) -> bool:
    """True when the text held bytes that are not UTF-8 (decoded with ``surrogateescape``)."""
    # ASCII text holds no surrogate: one C-level check instead of a Python step per character (a register of a
    # million lines is some forty million characters)
    return not text.isascii() and any("\udc80" <= ch <= "\udcff" for ch in text)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text alike on SQLite and PostgreSQL, or None. PostgreSQL refuses a
    NUL where SQLite keeps it, and neither driver can encode a lone surrogate (from an ``\\ud800`` escape in
    JSON): left in, either fails the whole file at insert time instead of rejecting its line."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii() and any("\ud800" <= ch <= "\udfff" for ch in text):
        return "not valid Unicode text (a lone surrogate)"
    return None


def parse_instant(text: str) -> tuple[datetime | None, str | None]:
    """An RFC 3339 timestamp as an aware UTC instant, or the reason it is not one. An instant whose UTC
    form falls outside Python's years 1-9999 (year 1 east of UTC, 9999 west of it) is refused here rather
    than overflowing when stored."""
    try:
        return parse_rfc3339(text).astimezone(UTC), None
    except FairtelError as exc:
        return None, exc.message
    except OverflowError:
        return None, f"outside the range of storable instants (UTC years 1-9999): {text!r}"
