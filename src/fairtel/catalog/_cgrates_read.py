"""Reading the CSV files of a CGRateS tariff plan into plain records, every problem with file and line.

Only the rating part is read: Destinations, Rates, DestinationRates, Timings (optional), RatingPlans and
RatingProfiles. Lines starting with ``#`` are comments (the header is one). Durations are Go durations
(``60s``, ``1m30s``, ``100ms``) or plain integers, which CGRateS reads as nanoseconds (and, for SMS and data, as
units); they are kept here in nanoseconds and converted once the usage kind is known.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from fairtel.core.errors import Problem

ANY = "*any"
NS = 1_000_000_000
DAY = 86_400

_GO_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")


@dataclass(frozen=True, slots=True)
class RateSlot:
    """One Rates.csv line: from ``start_ns`` on, ``rate`` per ``unit_ns`` in blocks of ``increment_ns``."""

    tag: str
    connect_fee: Decimal
    rate: Decimal
    unit_ns: int
    increment_ns: int
    start_ns: int
    timed: bool  # written with a time unit (``60s``) rather than a bare count
    line: int


@dataclass(frozen=True, slots=True)
class DestinationRate:
    """One DestinationRates.csv line: the rates of one destination, with rounding and max cost."""

    id: str
    destination: str
    rates: str
    rounding: str
    decimals: int
    max_cost: Decimal
    strategy: str
    line: int


@dataclass(frozen=True, slots=True)
class Timing:
    """A Timings.csv line reduced to what rating uses: week days (0 = Sunday, as Go) and a time-of-day span."""

    id: str
    weekdays: frozenset[int] | None  # None: every day
    start_s: int
    end_s: int | None  # None: to the end of the day
    calendar: bool  # Years, Months or MonthDays restrict it (not representable as week bands)
    line: int


@dataclass(frozen=True, slots=True)
class Binding:
    """A RatingPlans.csv line: a rating plan applies a DestinationRates id at a timing with a weight."""

    plan: str
    destination_rates: str
    timing: str
    weight: Decimal
    line: int


@dataclass(frozen=True, slots=True)
class Profile:
    """A RatingProfiles.csv line: from ``activation`` on, ``subject`` in ``category`` is rated by ``plan``."""

    tenant: str
    category: str
    subject: str
    activation: datetime
    plan: str
    fallback_subjects: tuple[str, ...]
    line: int
    direction: str = "*out"  # older plans' first column; CGRateS only ever rated *out (the account charged)


@dataclass
class TariffPlan:
    """The rating files of one CGRateS tariff plan directory, read."""

    directory: Path
    destinations: dict[str, list[str]] = field(default_factory=dict)
    destination_lines: dict[str, int] = field(default_factory=dict)
    rates: dict[str, list[RateSlot]] = field(default_factory=dict)
    destination_rates: dict[str, list[DestinationRate]] = field(default_factory=dict)
    timings: dict[str, Timing] = field(default_factory=dict)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    has_timings_file: bool = False
    refused_timings: set[str] = field(default_factory=set)  # ids of Timings.csv lines with a problem reported

    def file(self, name: str) -> str:
        return str(self.directory / name)


def parse_duration_ns(text: str) -> int:
    """A CGRateS duration in nanoseconds: a Go duration (``1m30s``) or a plain integer (nanoseconds)."""
    t = text.strip()
    if t.isdigit():
        return int(t)
    if not _GO_DURATION.match(t):
        raise ValueError(f"{text!r} is not a duration (e.g. '60s', '1m', '0s') or a count")
    total = sum((Decimal(n) * _GO_UNITS[u] for n, u in _GO_PART.findall(t)), Decimal(0))
    if total != total.to_integral_value():
        raise ValueError(f"{text!r} is finer than a nanosecond")
    return int(total)


class _Rows:
    """CSV rows of one file with their line numbers; problems are collected, never raised."""

    def __init__(self, tp: TariffPlan, problems: list[Problem]) -> None:
        self.tp = tp
        self.problems = problems

    def add(self, name: str, line: int | None, fieldname: str | None, message: str, code: str) -> None:
        self.problems.append(Problem(self.tp.file(name), line, fieldname, message, code))

    def read(self, name: str, columns: tuple[str, ...], *, minimum: int | None = None, maximum: int | None = None,
             required: bool = True) -> list[tuple[int, list[str]]]:
        """The rows of ``name`` with ``minimum`` (default: all) to ``maximum`` (default: all) of ``columns``, padded
        with empty cells; a row with fewer or more is a problem, as CGRateS's loader refuses it (a trailing comma
        is one column more)."""
        path = self.tp.directory / name
        if not path.is_file():
            if required:
                self.add(name, None, None, f"missing {name} (a CGRateS tariff plan needs it)", "file_not_found")
            return []
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(name, None, None, f"cannot read: {exc}", "file_unreadable")
            return []
        out: list[tuple[int, list[str]]] = []
        for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if len(cells) < (minimum or len(columns)):
                self.add(name, lineno, None, f"expected {len(columns)} columns ({','.join(columns)}), got "
                         f"{len(cells)}", "wrong_type")
                continue
            most = maximum or len(columns)
            if len(cells) > most:
                extra = cells[most:]
                self.add(name, lineno, f"column {most + 1}", f"expected {len(columns)} columns ({','.join(columns)}), "
                         f"got {len(cells)}" + (" (a trailing comma?)" if not any(extra) else
                                                f": {', '.join(repr(c) for c in extra if c)} after the last"),
                         "wrong_type")
                continue
            out.append((lineno, cells + [""] * (len(columns) - len(cells))))
        return out

    def decimal(self, name: str, line: int, fieldname: str, text: str, *, default: Decimal | None = None) -> Decimal | None:
        if not text and default is not None:
            return default
        try:
            d = Decimal(text)
        except InvalidOperation:
            self.add(name, line, fieldname, f"{text!r} is not a number", "wrong_type")
            return None
        if not d.is_finite() or d < 0:
            self.add(name, line, fieldname, f"{text!r} must be a number ≥ 0", "invalid_value")
            return None
        return d

    def duration(self, name: str, line: int, fieldname: str, text: str) -> int | None:
        try:
            return parse_duration_ns(text or "0")
        except ValueError as exc:
            self.add(name, line, fieldname, str(exc), "bad_quantity")
            return None


def read_tariff_plan(directory: Path) -> tuple[TariffPlan, list[Problem]]:
    """The rating files of ``directory``, and every problem that stops them from being imported."""
    tp = TariffPlan(directory)
    problems: list[Problem] = []
    r = _Rows(tp, problems)
    if not directory.is_dir():
        r.add("", None, None, f"{directory} is not a directory", "file_not_found")
        return tp, problems
    for line, (ident, prefix) in r.read("Destinations.csv", ("Id", "Prefix")):
        tp.destinations.setdefault(ident, [])
        tp.destination_lines.setdefault(ident, line)
        if prefix and prefix not in tp.destinations[ident]:
            tp.destinations[ident].append(prefix)
    _read_rates(r, tp)
    _read_destination_rates(r, tp)
    _read_timings(r, tp)
    for line, (plan, dr, timing, weight) in r.read("RatingPlans.csv", ("Id", "DestinationRatesId", "TimingTag",
                                                                        "Weight")):
        w = r.decimal("RatingPlans.csv", line, "Weight", weight, default=Decimal(0))
        if dr not in tp.destination_rates:
            r.add("RatingPlans.csv", line, "DestinationRatesId", f"unknown DestinationRates id {dr!r}",
                  "unknown_reference")
        elif timing in tp.refused_timings:
            continue  # its own problem is reported; a second one here would say nothing new
        elif timing != ANY and timing not in tp.timings:
            r.add("RatingPlans.csv", line, "TimingTag", f"unknown timing {timing!r}" +
                  ("" if tp.has_timings_file else " (there is no Timings.csv)"), "unknown_reference")
        elif w is not None:
            tp.bindings.setdefault(plan, []).append(Binding(plan, dr, timing or ANY, w, line))
    _read_profiles(r, tp)
    return tp, problems


def _read_rates(r: _Rows, tp: TariffPlan) -> None:
    name = "Rates.csv"
    for line, (tag, fee, rate, unit, increment, start) in r.read(name, ("Id", "ConnectFee", "Rate", "RateUnit",
                                                                        "RateIncrement", "GroupIntervalStart")):
        f = r.decimal(name, line, "ConnectFee", fee, default=Decimal(0))
        p = r.decimal(name, line, "Rate", rate)
        u = r.duration(name, line, "RateUnit", unit)
        i = r.duration(name, line, "RateIncrement", increment or unit)
        s = r.duration(name, line, "GroupIntervalStart", start)
        if f is None or p is None or u is None or i is None or s is None:
            continue
        if u <= 0 or i <= 0:
            r.add(name, line, "RateUnit" if u <= 0 else "RateIncrement", "must be greater than 0", "invalid_value")
            continue
        timed = any(c.isalpha() for c in unit + increment)
        tp.rates.setdefault(tag, []).append(RateSlot(tag, f, p, u, i, s, timed, line))
    # sorted as CGRateS applies them; the connect fee stays the first line's (``first_slot``)
    for slots in tp.rates.values():
        slots.sort(key=lambda s: s.start_ns)


def first_slot(slots: list[RateSlot] | tuple[RateSlot, ...]) -> RateSlot:
    """The slot written first in Rates.csv: CGRateS charges its connect fee, whatever its GroupIntervalStart."""
    return min(slots, key=lambda s: s.line)


def _read_destination_rates(r: _Rows, tp: TariffPlan) -> None:
    name = "DestinationRates.csv"
    cols = ("Id", "DestinationId", "RatesTag", "RoundingMethod", "RoundingDecimals", "MaxCost", "MaxCostStrategy")
    for line, cells in r.read(name, cols, minimum=5, maximum=7):
        ident, dest, rates, method, decimals, max_cost, strategy = cells[:7]
        if dest != ANY and dest not in tp.destinations:
            r.add(name, line, "DestinationId", f"unknown destination {dest!r}", "unknown_reference")
            continue
        if rates not in tp.rates:
            r.add(name, line, "RatesTag", f"unknown rate {rates!r}", "unknown_reference")
            continue
        if method not in ("*up", "*down", "*middle"):
            r.add(name, line, "RoundingMethod", f"{method!r} is not *up, *down or *middle", "invalid_value")
            continue
        if not decimals.isdigit():
            r.add(name, line, "RoundingDecimals", f"{decimals!r} is not a whole number ≥ 0", "invalid_value")
            continue
        mc = r.decimal(name, line, "MaxCost", max_cost, default=Decimal(0))
        if mc is None:
            continue
        tp.destination_rates.setdefault(ident, []).append(
            DestinationRate(ident, dest, rates, method, int(decimals), mc, strategy, line))


def _read_timings(r: _Rows, tp: TariffPlan) -> None:
    """Timings.csv as CGRateS reads it: week days are Go's ``time.Weekday`` numbers, 0 (Sunday) to 6, with 7 also
    Sunday (CGRateS takes them modulo 7 for that); ``Time`` is ``HH:MM:SS`` or ``start;end`` on a 24-hour clock.

    What CGRateS would misread is refused rather than guessed: a day 8 or more is some other day only by the
    accident of that modulo, a negative one never matches, a start at 24:00:00 or later (or 08:60:00) is
    carried into the next day by Go's date arithmetic, and a time without its seconds is one CGRateS's rating
    cannot read.
    """
    name = "Timings.csv"
    tp.has_timings_file = (tp.directory / name).is_file()
    clock = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})")
    for line, (ident, years, months, mdays, wdays, times) in r.read(
            name, ("Id", "Years", "Months", "MonthDays", "WeekDays", "Time"), required=False):
        weekdays: frozenset[int] | None = None
        if wdays and wdays != ANY:
            days = [d for d in wdays.split(";") if d]
            bad = [d for d in days if not re.fullmatch(r"[0-7]", d)]
            if bad or not days:
                r.add(name, line, "WeekDays", f"{wdays!r}: {', '.join(repr(d) for d in bad) or 'no day'} is not a week "
                      "day (0 = Sunday … 6 = Saturday, 7 also Sunday; *any for every day), separated by ';'", "bad_day")
                tp.refused_timings.add(ident)
                continue
            weekdays = frozenset(int(d) % 7 for d in days)
        parts = times.split(";") if times and times != ANY else ["00:00:00"]
        spans: list[int] = []
        for i, part in enumerate(parts[:2]):
            m = clock.fullmatch(part)
            h, mi, sec = (int(g) for g in m.groups()) if m else (99, 0, 0)
            seconds = h * 3600 + mi * 60 + sec
            # an end may be the end of the day, 24:00:00; nothing starts there
            if m is None or mi > 59 or sec > 59 or seconds > DAY or (i == 0 and seconds == DAY):
                what = "a start" if i == 0 else "an end"
                r.add(name, line, "Time", f"{part!r} is not {what} time of day HH:MM:SS (00:00:00 to "
                      f"{'23:59:59' if i == 0 else '24:00:00'})", "bad_time")
                tp.refused_timings.add(ident)
                break
            spans.append(seconds)
        else:
            calendar = any(v and v != ANY for v in (years, months, mdays))
            tp.timings[ident] = Timing(ident, weekdays, spans[0], spans[1] if len(spans) > 1 else None,
                                       calendar, line)


def _read_profiles(r: _Rows, tp: TariffPlan) -> None:
    name = "RatingProfiles.csv"
    cols = ("Tenant", "Category", "Subject", "ActivationTime", "RatingPlanId", "FallbackSubjects")
    # older plans begin with a Direction column, and some end with CdrStatQueueIds (not about prices)
    for line, cells in r.read(name, cols, minimum=5, maximum=8):
        direction = "*out"
        if cells[0] in ("*out", "*in") and len(cells) >= 7:
            direction, cells = cells[0], cells[1:]
        elif len(cells) > 7:
            r.add(name, line, "column 8", f"expected {len(cols)} columns ({','.join(cols)}), or a Direction "
                  f"(*out, *in) before them, got {len(cells)}", "wrong_type")
            continue
        tenant, category, subject, activation, plan, fallbacks = cells[:6]
        try:
            when = datetime.fromisoformat(activation.replace("Z", "+00:00"))
        except ValueError:
            r.add(name, line, "ActivationTime", f"{activation!r} is not an RFC 3339 date-time", "invalid_value")
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # CGRateS reads a time without offset in its default zone, UTC
        if plan not in tp.bindings:
            r.add(name, line, "RatingPlanId", f"unknown rating plan {plan!r}", "unknown_reference")
            continue
        tp.profiles.append(Profile(tenant, category, subject, when, plan,
                                   tuple(s for s in fallbacks.split(";") if s), line, direction))
