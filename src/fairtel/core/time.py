"""Time helpers. Time zones are explicit everywhere: a naive datetime is a bug, not a default."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fairtel.core.errors import FairtelError, InvalidInputError, Problem

DEMO_TIMEZONE = "Asia/Shanghai"

# RFC 3339 time-numoffset: hours 00-23, minutes 00-59 (Python alone would read "+08:60" as +09:00).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$", re.ASCII
)


class NaiveTimeError(FairtelError):
    code = "time_naive"


class BadTimeError(FairtelError):
    code = "time_invalid"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception as exc:  # zoneinfo raises several kinds
        raise BadTimeError(f"unknown time zone {name!r}") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveTimeError(f"{what} has no time zone: {value.isoformat()}")
    return value


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; the offset is mandatory."""
    s = text.strip()
    if not _RFC3339.match(s):
        raise BadTimeError(f"not an RFC 3339 timestamp with offset: {text!r}")
    s = s.replace("z", "Z").replace("Z", "+00:00")
    if "." in s:  # Python keeps microseconds only
        head, rest = s.split(".", 1)
        frac = re.match(r"\d+", rest)
        assert frac is not None
        digits = frac.group(0)
        s = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        return datetime.fromisoformat(s)
    except ValueError as exc:
        raise BadTimeError(f"invalid timestamp {text!r}: {exc}") from exc


def format_rfc3339(value: datetime) -> str:
    """The instant as RFC 3339, read back equal by ``parse_rfc3339``: microseconds are kept when there are
    any. RFC 3339 offsets are whole minutes, so an offset with seconds (a zone's local mean time before it
    adopted standard time, e.g. +08:05:43 in Shanghai until 1901) is written as the same instant in UTC."""
    offset = require_aware(value).utcoffset()
    assert offset is not None
    if offset % timedelta(minutes=1):
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise BadTimeError(f"{value.isoformat()} has no RFC 3339 form: its UTC instant is before year 1 or after 9999") from None
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A monthly billing period in a time zone: ``2026-11`` in Asia/Shanghai is [start, end)."""

    year: int
    month: int
    tz: str = DEMO_TIMEZONE

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise BadTimeError(f"month must be 1..12, got {self.month}")
        # Its start and end must be datetimes (years 1..9999): 9999-12 would end in year 10000.
        if not (1, 1) <= (self.year, self.month) <= (9999, 11):
            message = f"{self.year:04d}-{self.month:02d} is outside 0001-01..9999-11 (a period must end by year 9999)"
            raise InvalidInputError([Problem("period", None, "year", message)], what="period")

    @classmethod
    def parse(cls, text: str, tz: str = DEMO_TIMEZONE) -> Period:
        m = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", text.strip())  # ASCII digits: \d takes full-width ones too
        if not m:
            raise BadTimeError(f"a period is written YYYY-MM, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), tz)

    @classmethod
    def containing(cls, instant: datetime, tz: str = DEMO_TIMEZONE) -> Period:
        local = require_aware(instant).astimezone(zone(tz))
        return cls(local.year, local.month, tz)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=zone(self.tz))

    @property
    def end(self) -> datetime:
        # not ``self.next().start``: the last period, 9999-11, has no next one but has an end
        year, month = self._after()
        return datetime(year, month, 1, tzinfo=zone(self.tz))

    @property
    def days(self) -> int:
        return (date(*self._after(), 1) - date(self.year, self.month, 1)).days

    def _after(self) -> tuple[int, int]:
        return self.year + self.month // 12, self.month % 12 + 1

    def next(self) -> Period:
        return Period(*self._after(), self.tz)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), 12 if self.month == 1 else self.month - 1, self.tz)

    def contains(self, instant: datetime) -> bool:
        return self.start <= require_aware(instant) < self.end

    def __str__(self) -> str:
        return self.key


def day_start(instant: datetime, tz: str) -> datetime:
    local = require_aware(instant).astimezone(zone(tz))
    return datetime(local.year, local.month, local.day, tzinfo=zone(tz))


def seconds_between(a: datetime, b: datetime) -> float:
    """Elapsed seconds from ``a`` to ``b``. Both are taken to UTC first: Python subtracts two datetimes that
    share a tzinfo by wall clock, which is off by the DST shift across a transition."""
    return (require_aware(b).astimezone(UTC) - require_aware(a).astimezone(UTC)) / timedelta(seconds=1)
