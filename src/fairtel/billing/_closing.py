"""When a period's bills may be issued: once the period has ended on the operator's clock.

An issued bill never changes. Issued before its period ends, it charges the whole month's plan fee for a month
not yet lived (a line closed or moved to another plan before the end still pays it) and leaves the rest of the
month's usage to rerating as late usage; issued before the period begins, it charges a fee for a month in which
nothing has happened yet. So a bill run issues a period only once its end has passed. An operator who closes
the month on its last day, before midnight, says so (``before_period_end``): the period may then be issued from
the start of its last day on the operator's clock, never earlier, and a period that has not begun never. A
preview (which writes nothing) is always allowed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fairtel.core.errors import ConflictError
from fairtel.core.time import Period, require_aware, zone


class PeriodNotEndedError(ConflictError):
    """A bill run asked to issue a period whose end (on the operator's clock) is still to come."""

    code = "period_not_ended"


def last_day_start(period: Period) -> datetime:
    """The start of the period's last day on its clock: the earliest ``before_period_end`` issues it."""
    last = date(period.end.year, period.end.month, 1) - timedelta(days=1)
    return datetime(last.year, last.month, last.day, tzinfo=zone(period.tz))


def _local(at: datetime, tz: str) -> str:
    return f"{at.astimezone(zone(tz)):%Y-%m-%d %H:%M}"


def check_issuable(period: Period, now: datetime, *, before_period_end: bool = False) -> str | None:
    """Raise ``PeriodNotEndedError`` when ``period`` may not be issued at ``now``; otherwise return None, or (issued
    before its end, on its last day, as ``before_period_end`` allows) a note saying what that means."""
    require_aware(now, "now")
    if now >= period.end:
        return None
    tz = period.tz
    details = {"period": period.key, "timezone": tz, "period_start": period.start.isoformat(),
               "period_end": period.end.isoformat(), "now": now.astimezone(zone(tz)).isoformat(),
               "before_period_end": before_period_end}
    end = f"{_local(period.end, tz)} {tz}"
    if now < period.start:
        raise PeriodNotEndedError(
            f"period {period.key} has not begun: it runs from {_local(period.start, tz)} to {end} on the operator's clock "
            f"(now {_local(now, tz)} there). Its bills can be issued once it has ended; a preview (without --issue) "
            "shows what they would be", details=details)
    last = last_day_start(period)
    if not before_period_end:
        raise PeriodNotEndedError(
            f"period {period.key} has not ended: it ends at {end} on the operator's clock (now {_local(now, tz)} there). "
            "Bills issued now would charge the whole month's plan fee and leave the rest of the month's usage off them; "
            "issue them once it has ended (a preview, without --issue, shows what they would be), or on its last day, "
            f"from {_local(last, tz)}, with --before-period-end", details=details)
    if now < last:
        raise PeriodNotEndedError(
            f"period {period.key} ends at {end} on the operator's clock (now {_local(now, tz)} there): "
            f"--before-period-end issues a period on its last day only, from {_local(last, tz)}", details=details)
    return (f"{period.key} issued before its end ({end}, --before-period-end): usage made from now until then is on no "
            f"bill; once rated, `fairtel rerate --period {period.key}` charges it")
