"""Column types shared by every table: aware UTC timestamps, money as integer minor units, currency codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CHAR, BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from fairtel.core.money import UnknownCurrencyError
from fairtel.core.time import require_aware

_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive values, stores UTC and always reads back aware UTC.

    PostgreSQL keeps ``timestamptz`` natively; SQLite has no time zone type, so the UTC wall clock is stored
    and the zone is put back on read. Either way a value written in Asia/Shanghai reads back as the same
    instant in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = require_aware(value, "timestamp").astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a textual query
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CurrencyCode(TypeDecorator[str]):
    """``CHAR(3)`` holding an ISO 4217 code: three capital letters, refused otherwise when written.

    PostgreSQL pads a shorter value with spaces (``"EU"`` reads back ``"EU "``) where SQLite keeps it as
    written, so the two databases would disagree on what was stored; a code of any other shape is a bug
    upstream (every amount is a ``Money``, whose currency is a known code), not something to keep.
    Trailing spaces are dropped on read, for a row written before this check.
    """

    impl = CHAR(3)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
            raise UnknownCurrencyError(f"a currency is an ISO 4217 code of three capital letters, got {value!r}")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value).rstrip(" ")


# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
