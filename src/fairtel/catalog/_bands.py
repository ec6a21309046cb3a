"""Time bands: a partition of the week, in the catalog's time zone, into named bands (peak, off-peak...).

A window is a set of weekdays with a local start and end time; an end at or before the start runs past
midnight into the next day (``23:00``–``07:00``). Windows become intervals in seconds of the week
(Monday 00:00 = 0), which makes lookup one ``bisect`` and splitting a call at band changes a short walk.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fairtel.core.time import require_aware

DAY = 86_400
WEEK = 7 * DAY
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BandWindow:
    """Weekdays (0 = Monday) with a local ``start`` and ``end`` in seconds of the day; end ≤ start crosses midnight."""

    days: tuple[int, ...]
    start: int
    end: int

    def intervals(self) -> list[tuple[int, int]]:
        """Half-open intervals in seconds of the week; one that wraps past Sunday midnight is split in two."""
        out: list[tuple[int, int]] = []
        length = self.end - self.start if self.end > self.start else DAY - self.start + self.end
        for d in self.days:
            s = d * DAY + self.start
            e = s + length
            if e <= WEEK:
                out.append((s, e))
            else:
                out.append((s, WEEK))
                out.append((0, e - WEEK))
        return out

    def __str__(self) -> str:
        return f"{days_text(self.days)} {clock(self.start)}–{clock(self.end)}"


def clock(seconds_of_day: int) -> str:
    h, rest = divmod(seconds_of_day, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def days_text(days: Iterable[int]) -> str:
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def week_point(seconds_of_week: int) -> str:
    d, s = divmod(seconds_of_week % WEEK, DAY)
    return f"{WEEKDAYS[d]} {clock(s)}"


def second_of_week(local: datetime) -> int:
    return local.weekday() * DAY + local.hour * 3600 + local.minute * 60 + local.second


@dataclass(frozen=True, slots=True)
class WeekTable:
    """Sorted band starts over one week: ``starts[i]`` (seconds of week) begins ``band_ids[i]``.

    Adjacent intervals of the same band are merged, so every entry is a real band change, and ``starts[0]``
    is always 0. This is the table rating uses to assign bands on columns.
    """

    starts: tuple[int, ...]
    band_ids: tuple[str, ...]

    @classmethod
    def build(cls, intervals: Iterable[tuple[int, int, str]]) -> WeekTable:
        """From non-overlapping intervals covering the whole week (validation guarantees both)."""
        starts: list[int] = []
        ids: list[str] = []
        for s, _e, band in sorted(intervals):
            if ids and ids[-1] == band:
                continue
            starts.append(s)
            ids.append(band)
        return cls(tuple(starts), tuple(ids))

    def at(self, seconds_of_week: int) -> tuple[str, int]:
        """The band at a point of the week and the seconds until the next entry (or the end of the week)."""
        i = bisect_right(self.starts, seconds_of_week) - 1
        nxt = self.starts[i + 1] if i + 1 < len(self.starts) else WEEK
        return self.band_ids[i], nxt - seconds_of_week

    def segments(self, start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime, str]]:
        """Split ``[start, end)`` where the band changes; each piece keeps the time zone of ``start``.

        The walk compares instants in UTC: two datetimes of one ``ZoneInfo`` compare by wall time and ignore
        ``fold``, so in the hour the clocks repeat a later instant could look earlier. The band is read as the
        wall clock shows it (``Catalog.band_at``): where the clocks go back, the walk starts again from the wall
        time they show then, so a repeated hour is priced as its wall time says each time it comes round (a
        band changing at 01:30 is left at 02:00 summer time and entered again at 01:30 winter time).
        """
        require_aware(start, "start")
        require_aware(end, "end")
        out: list[tuple[datetime, datetime, str]] = []
        cursor, stop = start.astimezone(UTC), end.astimezone(UTC)
        while cursor < stop:
            local = cursor.astimezone(tz)
            band, left = self.at(second_of_week(local))
            # wall-clock arithmetic in the local zone, then back: the change happens at a local time
            wall = local.replace(microsecond=0, tzinfo=None) + timedelta(seconds=left)
            piece_end = min(_first_after(wall, tz, cursor), stop)
            # the wall clock runs on evenly up to a change of the zone's offset; past one it is read again (a piece
            # that keeps its band is merged below)
            moved = offset_change(tz, cursor, piece_end)
            if moved is not None:
                piece_end = moved
            if out and out[-1][2] == band:
                out[-1] = (out[-1][0], piece_end, band)
            else:
                out.append((cursor, piece_end, band))
            cursor = piece_end
        zone_of_start = start.tzinfo
        return [(s.astimezone(zone_of_start), e.astimezone(zone_of_start), b) for s, e, b in out]


def _first_after(wall: datetime, tz: ZoneInfo, after: datetime) -> datetime:
    """The first instant (in UTC) after ``after`` whose local time in ``tz`` is at or after the wall time ``wall``.

    A wall time the clocks repeat (the hour after daylight saving ends) is two instants: from inside the repeated
    hour the change is the second one, never the first, which is already past. A wall time the clocks skip changes
    the band when the clocks jump over it (``skipped_at``), which is where ``band_at`` starts giving the new band.
    """
    jump = skipped_at(wall, tz)
    if jump is not None and jump > after:
        return jump
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant > after:
            return instant
    return after + timedelta(seconds=1)  # not reached for a wall time after ``after``'s own; keeps the walk going


def skipped_at(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """For a naive wall time the clocks of ``tz`` skip (the hour lost when daylight saving begins): the instant, in
    UTC, of the jump over it, the first instant whose local wall time is at or after it. ``None`` when it exists.

    Both readings of a skipped time (with the offset before the jump and with the one after) miss the jump; it is
    the one offset change between them, found to the second, as time zone rules state their changes.
    """
    naive = wall.replace(tzinfo=None)
    with_offset_before = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if with_offset_before.astimezone(tz).replace(tzinfo=None) == naive:
        return None
    with_offset_after = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    # the earlier reading falls before the jump (its local wall time is earlier), the later one after it
    first, last = sorted((with_offset_before, with_offset_after))
    lo, hi = math.floor(first.timestamp()), math.ceil(last.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def offset_change(tz: ZoneInfo, after: datetime, before: datetime) -> datetime | None:
    """The first instant (in UTC) strictly between ``after`` and ``before`` where the UTC offset of ``tz`` changes
    (the clocks go forward or back), or ``None``.

    Offsets are sampled hourly (no zone changes its offset twice within an hour), then the change is found to the
    second, as time zone rules state their changes.
    """
    base = after.astimezone(tz).utcoffset()
    lo = after
    while lo < before:
        hi = min(lo + timedelta(hours=1), before)
        if hi.astimezone(tz).utcoffset() != base:
            at = first_offset_change(tz, math.floor(lo.timestamp()), math.ceil(hi.timestamp()))
            return datetime.fromtimestamp(at, UTC) if at < before.timestamp() else None
        lo = hi
    return None


def first_offset_change(tz: ZoneInfo, lo: int, hi: int) -> int:
    """The first second (epoch) in ``(lo, hi]`` whose UTC offset in ``tz`` differs from the offset at ``lo``;
    the offset must differ at ``hi``."""
    base = datetime.fromtimestamp(lo, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() != base:
            hi = mid
        else:
            lo = mid
    return hi


def coverage_problems(intervals: list[tuple[int, int, str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Overlaps as (path of the later window, message) and gaps as week ranges, from (s, e, band, path).

    A window that overlaps another band several times in the week is reported once, at its first overlap.
    """
    overlaps: dict[tuple[str, str], tuple[int, int, int]] = {}
    ordered = sorted(intervals)
    reach = 0
    reach_band = ""
    gaps: list[str] = []
    for s, e, band, path in ordered:
        if s < reach:
            key = (path, reach_band)
            first = overlaps.get(key)
            overlaps[key] = (first[0], first[1], first[2] + 1) if first else (s, min(e, reach), 1)
        elif s > reach:
            gaps.append(f"{week_point(reach)}–{week_point(s)}")
        if e > reach:
            reach, reach_band = e, band
    if ordered and reach < WEEK:
        gaps.append(f"{week_point(reach)}–{week_point(WEEK)}")
    messages = [
        (path, f"overlaps band {other!r} at {week_point(s)}–{week_point(e)}" + (f" and {n - 1} more times" if n > 1 else ""))
        for (path, other), (s, e, n) in overlaps.items()
    ]
    return messages, gaps
