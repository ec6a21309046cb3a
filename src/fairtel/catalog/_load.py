"""Reading a TOML catalog: every problem in one run, each with file, line and dotted field path.

The document is parsed with ``tomllib`` (floats as ``Decimal``, so no float ever exists), then checked
table by table; each reader records problems instead of raising and returns ``None`` for what it could not
read, so one bad field never hides the next. Cross references (rates, zones, bands, offers) are checked
once every table has been read. ``load_catalog`` builds the model only when there is no problem at all.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from datetime import time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from fairtel.catalog._bands import DAY, WEEKDAYS, BandWindow, coverage_problems
from fairtel.catalog._countries import COUNTRIES
from fairtel.catalog._fields import Collector, declared, declared_tables
from fairtel.catalog._locate import join, key_part, locate
from fairtel.catalog._model import (
    ALL_DAY_BAND,
    Band,
    Catalog,
    MaxCostStrategy,
    Offer,
    OfferPeriod,
    Operator,
    PriceChange,
    Rate,
    RateStep,
    RoamingZone,
    Zone,
)
from fairtel.catalog._read_plans import PlanReader, Refs
from fairtel.catalog._subjects import read_instant, read_subjects
from fairtel.catalog._units import Unit
from fairtel.core.errors import CatalogError, Problem
from fairtel.core.money import MINOR_UNITS, Rounding

# matched with ``fullmatch``: ``$`` would also accept a trailing newline ("86\n", a prefix no number matches)
_PREFIX = re.compile(r"[1-9][0-9]{0,14}")
_CLOCK = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_AMOUNT_DECIMALS = 6
_MAX_INCREMENT_DECIMALS = 10
# names ``ZoneInfo`` loads from the system's database that are not IANA zones: the machine's own setting, a
# placeholder and the alternative trees; rating cannot convert to them (and they differ from machine to machine)
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})

_ROUNDING_NAMES: dict[str, Rounding] = {
    "up": Rounding.UP, "down": Rounding.DOWN, "half-up": Rounding.HALF_UP, "half_up": Rounding.HALF_UP,
    "half-even": Rounding.HALF_EVEN, "half_even": Rounding.HALF_EVEN, "ceiling": Rounding.CEILING,
    "floor": Rounding.FLOOR,
}
_DAY_INDEX = {d: i for i, d in enumerate(WEEKDAYS)}
# the top-level tables whose ids others refer to, and what a reference calls one
_ID_TABLES = {"zones": "zone", "roaming_zones": "roaming zone", "bands": "band", "rates": "rate",
              "rule_sets": "rule set", "plans": "plan", "offers": "offer"}


def default_catalog_path() -> Path:
    """The demo operator's catalog, shipped with the package."""
    return Path(str(resources.files("fairtel.catalog").joinpath("data", "default.toml")))


def validate_catalog(path: str | Path) -> list[Problem]:
    """Every problem in the catalog at ``path``; an empty list means it loads."""
    return _read(Path(path))[1]


def load_catalog(path: str | Path) -> Catalog:
    """The catalog at ``path``; raises ``CatalogError`` listing every problem if there is any."""
    catalog, problems = _read(Path(path))
    if problems or catalog is None:
        raise CatalogError(problems, what=f"catalog {path}")
    return catalog


def _last_text_line(text: str) -> int:
    """The number (from 1) of the last line that is not blank; 1 for a blank document."""
    lines = text.splitlines()
    return next((i for i in range(len(lines), 0, -1) if lines[i - 1].strip()), 1)


def parse_catalog(text: str, *, file: str = "<catalog>") -> tuple[Catalog | None, list[Problem]]:
    """Check TOML text; the catalog (``None`` if any problem) and every problem found. A byte order mark before
    the text is not part of it."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        if line is None and "(at end of document)" in message:
            # tomllib names no line for an error it meets at the end (an unclosed value): that is the last line
            # with something on it, where the value the document ends in began or went on
            line = _last_text_line(text)
            message = message.replace("(at end of document)", "(the document ends inside it)").strip()
        return None, [Problem(file, line, None, f"TOML syntax: {message}", "toml_syntax")]
    ctx = Collector(file, locate(text))
    catalog = _Reader(ctx).catalog(raw)
    ctx.problems.sort(key=lambda p: (id(p) in ctx.dependent, p.line or 0, p.field or ""))
    if catalog is not None:
        ctx.warnings.sort(key=lambda p: (p.line or 0, p.field or ""))
        object.__setattr__(catalog, "warnings", tuple(ctx.warnings))
    return (catalog if not ctx.problems else None), ctx.problems


def read_catalog_text(path: Path) -> tuple[str | None, list[Problem]]:
    """The text of the catalog file at ``path``, or why it cannot be read: not found, not readable, or not UTF-8
    (the line, column and byte offset of the first byte that is not). A UTF-8 byte order mark at the start, as
    editors on Windows write one, is dropped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(str(path), None, None, "file not found", "file_not_found")]
    except OSError as exc:
        return None, [Problem(str(path), None, None, f"cannot read: {exc}", "file_unreadable")]
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        message = (f"cannot read: not valid UTF-8: byte 0x{data[exc.start:exc.start + 1].hex()} at byte offset "
                   f"{exc.start} (byte {exc.start - start + 1} of the line); a catalog is UTF-8 text: save it as UTF-8")
        return None, [Problem(str(path), line, None, message, "file_unreadable")]


def _read(path: Path) -> tuple[Catalog | None, list[Problem]]:
    text, unreadable = read_catalog_text(path)
    if text is None:
        return None, unreadable
    catalog, problems = parse_catalog(text, file=str(path))
    if catalog is not None:
        object.__setattr__(catalog, "source", str(path))
    return catalog, problems


class _Reader(PlanReader):
    """Reads the raw TOML tree into the model, recording every problem on the way."""

    def catalog(self, raw: dict[str, Any]) -> Catalog | None:
        top = self.table(raw, "", ("version", "operator", "zones", "roaming_zones", "bands", "rates", "rule_sets",
                                   "plans", "offers", "subjects"), ("operator", "zones", "rates", "plans"))
        assert top is not None
        self.reference_hints(top)
        version = self.string(top, "version", "")
        operator = self.operator(top.get("operator"), "operator") if "operator" in top else None
        zones = self.zones(top)
        roaming = self.roaming_zones(top)
        bands = self.bands(top)
        rates = self.rates(top)
        offers = self.offers(top)
        # references are checked against what is declared, even if it had problems of its own, so that one
        # mistake in a rate is reported once and not again at every rule that uses the rate
        units = {u.value: u for u in Unit}
        refs = Refs(
            zones=declared(top, "zones"), roaming=declared(top, "roaming_zones"),
            bands=declared(top, "bands") if "bands" in top else {ALL_DAY_BAND},
            rates={str(t["id"]): units.get(str(t.get("unit"))) for t, _ in declared_tables(top, "rates")
                   if isinstance(t.get("id"), str)},
            offers=declared(top, "offers"),
        )
        plans, rule_sets = self.plans(top, refs)
        subjects = read_subjects(self, top, declared(top, "plans"))
        if self.ctx.problems or operator is None:
            return None
        catalog = Catalog(operator, tuple(zones), tuple(roaming), tuple(bands), tuple(rates), tuple(plans),
                          tuple(offers), tuple(rule_sets), version=version, subjects=tuple(subjects))
        self.roaming_rule_gaps(catalog)
        object.__setattr__(catalog, "warnings", tuple(self.ctx.warnings))
        return catalog

    def roaming_rule_gaps(self, catalog: Catalog) -> None:
        """A warning for each plan and roaming zone of ``Catalog.roaming_rule_gaps`` (a catalog without problems
        has every plan and roaming zone at its index in the file)."""
        plan_at = {p.id: i for i, p in enumerate(catalog.plans)}
        zone_at = {z.id: i for i, z in enumerate(catalog.roaming_zones)}
        for gap in catalog.roaming_rule_gaps():
            zone_line = self.ctx.lines.get(f"roaming_zones[{zone_at[gap.roaming_zone]}]")
            where = ("every country no other roaming zone lists" if gap.fallback and not gap.countries
                     else ", ".join(gap.countries) + (" and every country no other roaming zone lists"
                                                      if gap.fallback else ""))
            self.warn(f"plans[{plan_at[gap.plan]}]",
                      f"plan {gap.plan!r} has no rule for {', '.join(gap.missing)} while roaming in roaming zone "
                      f"{gap.roaming_zone!r} ({where}{f'; line {zone_line}' if zone_line else ''}), which it prices "
                      f"in {', '.join(gap.priced_in)}: such usage there is left unrated (no_rule); add rules for "
                      f"{gap.roaming_zone!r} (or add it to the roaming_zones of rules the plan has)", "roaming_rule_gap")

    def reference_hints(self, top: dict[str, Any]) -> None:
        """What explains a reference to an id that is not declared (``unknown_ref``): the id declared under a
        top-level table that is not the catalog's (``[[offer]]`` for ``[[offers]]``), or ids of the table the
        reference names declared twice (an id renamed to one already used)."""
        for key, raw in top.items():
            near = difflib.get_close_matches(key, list(_ID_TABLES), n=1)
            if key in _ID_TABLES or not near or not isinstance(raw, list):
                continue
            for i, item in enumerate(raw):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    line = self.ctx.lines.get(f"{key_part(key)}[{i}]")
                    self.misplaced.setdefault(_ID_TABLES[near[0]], {}).setdefault(
                        item["id"], f"it is declared{f' at line {line}' if line else ''} under [[{key}]], which is "
                        f"not a catalog table (did you mean [[{near[0]}]]?)")
        for key, what in _ID_TABLES.items():
            lines: dict[str, list[str]] = {}
            units: dict[str, str | None] = {}
            items = top.get(key)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    lines.setdefault(item["id"], []).append(str(self.ctx.lines.get(f"{key}[{i}].id", "?")))
                    # of a rate declared twice, the unit of the other one (one unit each: any may be the renamed one)
                    unit = item.get("unit")
                    units[item["id"]] = unit if isinstance(unit, str) and units.get(item["id"], unit) == unit else None
            twice = [(ident, f"{'twice' if len(at) == 2 else f'{len(at)} times'} (lines {', '.join(at)})",
                      units.get(ident)) for ident, at in lines.items() if len(at) > 1]
            if twice:
                self.duplicated[what] = twice

    def operator(self, raw: object, path: str) -> Operator | None:
        t = self.table(raw, path, ("id", "name", "currency", "timezone", "amount_decimals", "country"),
                       ("id", "name", "currency", "timezone"))
        if t is None:
            return None
        ident = self.ident(t, "id", path)
        name = self.name(t, "name", path)
        currency = self.string(t, "currency", path)
        if currency is not None:
            if not _CURRENCY.fullmatch(currency) or currency not in MINOR_UNITS:
                self.add(join(path, "currency"), f"{currency!r} is not a known ISO 4217 currency code", "bad_currency")
                currency = None
            else:
                self.currency = currency
        tz = self.string(t, "timezone", path)
        if tz is not None:
            try:
                from zoneinfo import ZoneInfo

                if tz in _NOT_ZONES or tz.startswith(("posix/", "right/")):
                    raise ValueError(tz)
                ZoneInfo(tz)
            except Exception:
                self.add(join(path, "timezone"), f"{tz!r} is not an IANA time zone (e.g. 'Asia/Shanghai')",
                         "bad_timezone")
                tz = None
        amount_decimals = self.integer(t, "amount_decimals", path) if "amount_decimals" in t else None
        if amount_decimals is not None:
            minor = MINOR_UNITS.get(self.currency, 2)
            if not minor <= amount_decimals <= MAX_AMOUNT_DECIMALS:
                self.add(join(path, "amount_decimals"), f"must be from {self.currency} minor units ({minor}) to "
                         f"{MAX_AMOUNT_DECIMALS}, got {amount_decimals}", "invalid_value")
                amount_decimals = None
            else:
                self.amount_decimals = amount_decimals
        country = self.string(t, "country", path) if "country" in t else None
        if country is not None and country not in COUNTRIES:
            self.add(join(path, "country"), f"{country!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'CN', "
                     "'DE')", "bad_country")
            country = None
        if ident is None or name is None or currency is None or tz is None or (
                "amount_decimals" in t and amount_decimals is None) or ("country" in t and country is None):
            return None
        return Operator(ident, name, currency, tz, amount_decimals, country)

    def zones(self, top: dict[str, Any]) -> list[Zone]:
        out: list[Zone] = []
        owner: dict[str, str] = {}
        fallbacks: list[str] = []
        items = self.array_of_tables(top, "zones", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "zone")
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "prefixes", "fallback"), ("id", "name"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            fallback = self.boolean(t, "fallback", path)
            if fallback:
                fallbacks.append(path)
            prefixes: list[str] = []
            listed = self.strings(t, "prefixes", path, single_ok=False)
            if listed is None and not fallback and "prefixes" not in t:
                self.add(join(path, "prefixes"), "missing key 'prefixes' (only the fallback zone may have none)",
                         "missing_key")
            for prefix, p in listed or []:
                if not _PREFIX.fullmatch(prefix):
                    self.add(p, f"{prefix!r} is not a dialling prefix (1 to 15 digits, not starting with 0, no '+')", "bad_prefix")
                elif prefix in owner:
                    self.add(p, f"prefix {prefix!r} is already in {owner[prefix]}", "duplicate_prefix")
                else:
                    owner[prefix] = f"zone {ident!r}" if ident else path
                    prefixes.append(prefix)
            if ident is not None and name is not None:
                out.append(Zone(ident, name, tuple(prefixes), fallback))
        for p in fallbacks[1:]:
            self.add(join(p, "fallback"), f"only one zone may be the fallback (first: {fallbacks[0]})",
                     "duplicate_fallback")
        return out

    def roaming_zones(self, top: dict[str, Any]) -> list[RoamingZone]:
        out: list[RoamingZone] = []
        owner: dict[str, str] = {}
        fallbacks: list[str] = []
        items = self.array_of_tables(top, "roaming_zones", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "roaming zone")
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "countries", "fallback"), ("id", "name"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            fallback = self.boolean(t, "fallback", path)
            if fallback:
                fallbacks.append(path)
            if "countries" not in t and not fallback:
                self.add(join(path, "countries"), "missing key 'countries' (only the fallback may have none)",
                         "missing_key")
            countries: list[str] = []
            for country, p in self.strings(t, "countries", path, single_ok=False) or []:
                if country not in COUNTRIES:
                    self.add(p, f"{country!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'HK')", "bad_country")
                elif country in owner:
                    self.add(p, f"country {country!r} is already in {owner[country]}", "duplicate_country")
                else:
                    owner[country] = f"roaming zone {ident!r}" if ident else path
                    countries.append(country)
            if ident is not None and name is not None:
                out.append(RoamingZone(ident, name, tuple(countries), fallback))
        for p in fallbacks[1:]:
            self.add(join(p, "fallback"), f"only one roaming zone may be the fallback (first: {fallbacks[0]})",
                     "duplicate_fallback")
        return out

    # ---- time bands
    def bands(self, top: dict[str, Any]) -> list[Band]:
        out: list[Band] = []
        spans: list[tuple[int, int, str, str]] = []
        complete = True
        items = self.array_of_tables(top, "bands", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "band")
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "windows"), ("id", "windows"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            windows: list[BandWindow] = []
            for wraw, wpath in self.array_of_tables(t, "windows", path):
                w = self.window(wraw, wpath)
                if w is None:
                    complete = False
                else:
                    windows.append(w)
                    spans.extend((s, e, ident or path, wpath) for s, e in w.intervals())
            if "windows" in t and isinstance(t["windows"], list) and not t["windows"]:
                self.add(join(path, "windows"), "a band needs at least one window", "invalid_value")
            if ident is not None:
                out.append(Band(ident, name, tuple(windows)))
        if items:
            overlaps, gaps = coverage_problems(spans)
            for p, message in overlaps:
                self.add(p, message, "band_overlap")
            if gaps and complete:  # a window that did not parse would show up as a false gap
                self.add("bands", "time bands must cover the whole week; not covered: " + ", ".join(gaps), "band_gap")
        return out

    def window(self, raw: dict[str, Any], path: str) -> BandWindow | None:
        t = self.table(raw, path, ("days", "start", "end"), ("days", "start", "end"))
        if t is None:
            return None
        days: set[int] = set()
        for text, p in self.strings(t, "days", path) or []:
            parsed = _days(text)
            if parsed is None:
                self.add(p, f"{text!r} is not a weekday (mon..sun), a range such as 'mon-fri', or 'all'", "bad_day")
            else:
                days.update(parsed)
        if "days" in t and not days and isinstance(t["days"], list) and not t["days"]:
            self.add(join(path, "days"), "a window needs at least one day", "bad_day")
        start, end = self.clock(t, "start", path), self.clock(t, "end", path)
        if start is not None and start == DAY:
            self.add(join(path, "start"), "a window cannot start at 24:00", "bad_time")
            start = None
        if start is not None and end is not None and start == end % DAY and not (start == 0 and end == DAY):
            self.add(join(path, "end"), "start and end are equal: write 00:00 to 24:00 for a whole day", "bad_time")
            return None
        if not days or start is None or end is None:
            return None
        return BandWindow(tuple(sorted(days)), start, end)

    def clock(self, t: dict[str, Any], key: str, path: str) -> int | None:
        if key not in t:
            return None
        v = t[key]
        if isinstance(v, time):  # a TOML local time
            return v.hour * 3600 + v.minute * 60 + v.second
        m = _CLOCK.fullmatch(v) if isinstance(v, str) else None
        if m is None:
            self.add(join(path, key), f"{v!r} is not a local time of day 'HH:MM' (00:00 to 24:00)", "bad_time")
            return None
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h == 24 and (mi or s):
            self.add(join(path, key), f"{v!r} is past 24:00", "bad_time")
            return None
        return h * 3600 + mi * 60 + s

    # ---- rates
    def rates(self, top: dict[str, Any]) -> list[Rate]:
        out: list[Rate] = []
        items = self.array_of_tables(top, "rates", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "rate")
        for raw, path in items:
            r = self.rate(raw, path)
            if r is not None:
                out.append(r)
        return out

    def rate(self, raw: dict[str, Any], path: str) -> Rate | None:
        t = self.table(raw, path, ("id", "name", "unit", "steps", "rounding", "rounding_decimals", "max_cost",
                                   "max_cost_strategy", "increment_decimals"), ("id", "unit", "steps"))
        if t is None:
            return None
        ident, name = self.ident(t, "id", path), self.name(t, "name", path)
        unit = self.choice(t, "unit", path, {u.value: u for u in Unit})
        rounding = self.choice(t, "rounding", path, _ROUNDING_NAMES) if "rounding" in t else Rounding.UP
        minor = MINOR_UNITS.get(self.currency, 2)
        finest = minor if self.amount_decimals is None else self.amount_decimals
        decimals = self.integer(t, "rounding_decimals", path) if "rounding_decimals" in t else minor
        if decimals is not None and decimals > finest:
            where = (f"{self.currency} minor units ({minor})" if self.amount_decimals is None
                     else f"operator.amount_decimals ({finest})")
            self.add(join(path, "rounding_decimals"),
                     f"{decimals} decimals is finer than {where}: amounts are stored in "
                     "that precision and a line is rounded once", "rounding_too_fine")
        max_cost = self.money(t, "max_cost", path, positive=True)
        strategy = (self.choice(t, "max_cost_strategy", path, {s.value: s for s in MaxCostStrategy})
                    if "max_cost_strategy" in t else MaxCostStrategy.FREE)
        if "max_cost_strategy" in t and "max_cost" not in t:
            self.add(join(path, "max_cost_strategy"), "max_cost_strategy without max_cost", "invalid_value")
        inc_decimals = self.integer(t, "increment_decimals", path) if "increment_decimals" in t else None
        if inc_decimals is not None and inc_decimals > _MAX_INCREMENT_DECIMALS:
            # finer than this changes no stored amount, and a 28-digit Decimal cannot round a cost to it
            self.add(join(path, "increment_decimals"), f"must be at most {_MAX_INCREMENT_DECIMALS}, got {inc_decimals}",
                     "invalid_value")
            inc_decimals = None
        if max_cost is not None and decimals is not None and max_cost != round(max_cost, decimals):
            # a line is rounded to rounding_decimals and then capped: a finer cap would be a price no line can have
            self.add(join(path, "max_cost"), f"{t['max_cost']} has more decimals than the rate's rounding_decimals "
                     f"({decimals})", "too_precise")
            max_cost = None
        steps = self.steps(t, path, unit) if unit is not None else None
        if None in (ident, unit, rounding, decimals, strategy, steps) or (
            "max_cost" in t and max_cost is None) or ("name" in t and name is None) or (
                "increment_decimals" in t and inc_decimals is None):
            return None
        assert ident is not None and unit is not None and rounding is not None and decimals is not None
        assert strategy is not None and steps is not None
        return Rate(ident, unit, steps, rounding, decimals, max_cost, strategy, name, inc_decimals)

    def steps(self, t: dict[str, Any], path: str, unit: Unit) -> tuple[RateStep, ...] | None:
        items = self.array_of_tables(t, "steps", path)
        if not isinstance(t.get("steps"), list):
            return None
        if not t["steps"]:
            self.add(join(path, "steps"), "a rate needs at least one step", "bad_steps")
            return None
        out: list[RateStep] = []
        ok = len(items) == len(t["steps"])
        for i, (raw, sp) in enumerate(items):
            s = self.table(raw, sp, ("group_interval_start", "connect_fee", "rate", "rate_unit", "increment"),
                           ("rate", "rate_unit"))
            if s is None:
                ok = False
                continue
            start = self.quantity(s, "group_interval_start", sp, unit) if "group_interval_start" in s else 0
            fee = self.money(s, "connect_fee", sp) if "connect_fee" in s else Decimal(0)
            price = self.money(s, "rate", sp)
            rate_unit = self.quantity(s, "rate_unit", sp, unit, positive=True)
            increment = self.quantity(s, "increment", sp, unit, positive=True) if "increment" in s else rate_unit
            if start is None or fee is None or price is None or rate_unit is None or increment is None:
                ok = False
                continue
            if i == 0 and start != 0:
                self.add(join(sp, "group_interval_start"), "the first step must start at 0", "bad_steps")
                ok = False
            if i > 0 and fee != 0:
                self.add(join(sp, "connect_fee"), "only the first step may have a connect fee", "bad_steps")
                ok = False
            if out and start <= out[-1].group_interval_start:
                self.add(join(sp, "group_interval_start"),
                         f"steps must start in increasing order ({start} after {out[-1].group_interval_start})",
                         "bad_steps")
                ok = False
            elif out and (start - out[-1].group_interval_start) % out[-1].increment:
                self.add(join(sp, "group_interval_start"),
                         f"{start} is not a whole number of the previous step's increments "
                         f"({out[-1].increment} from {out[-1].group_interval_start})", "bad_steps")
                ok = False
            out.append(RateStep(start, price, rate_unit, increment, fee))
        return tuple(out) if ok and out else None

    # ---- offers
    def offers(self, top: dict[str, Any]) -> list[Offer]:
        out: list[Offer] = []
        items = self.array_of_tables(top, "offers", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "offer")
        periods = {p.value: p for p in OfferPeriod} | {"per-use": OfferPeriod.PER_USE}
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "provider", "price", "period", "category", "price_changes"),
                           ("id", "name", "provider", "price", "period"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            provider = self.ident(t, "provider", path)
            price = self.money(t, "price", path, exact=True)
            period = self.choice(t, "period", path, periods)
            category = self.string(t, "category", path)
            changes = self.price_changes(t, path)
            if ident and name and provider and price is not None and period is not None and changes is not None:
                out.append(Offer(ident, provider, price, period, name, category, changes))
        return out

    def price_changes(self, t: dict[str, Any], path: str) -> tuple[PriceChange, ...] | None:
        """An offer's ``[[offers.price_changes]]`` (``from``: a date-time with an offset, ``price``), in time order;
        None if any is wrong."""
        out: list[PriceChange] = []
        ok = True
        for raw, p in self.array_of_tables(t, "price_changes", path):
            c = self.table(raw, p, ("from", "price"), ("from", "price"))
            if c is None:
                ok = False
                continue
            at = read_instant(self, c, "from", p) if "from" in c else None
            price = self.money(c, "price", p, exact=True)
            if at is None or price is None:
                ok = False
            elif out and at <= out[-1].valid_from:
                self.add(join(p, "from"), f"{at.isoformat()} is not after the previous change "
                         f"({out[-1].valid_from.isoformat()}): list the changes in time order", "invalid_value")
                ok = False
            else:
                out.append(PriceChange(at, price))
        if "price_changes" in t and not isinstance(t["price_changes"], list):
            ok = False
        return tuple(out) if ok else None


def _days(text: str) -> list[int] | None:
    t = text.strip().lower()
    if t in ("all", "daily", "every day"):
        return list(range(7))
    if t == "weekdays":
        return list(range(5))
    if t == "weekend":
        return [5, 6]
    if t in _DAY_INDEX:
        return [_DAY_INDEX[t]]
    a, sep, b = t.partition("-")
    if sep and a in _DAY_INDEX and b in _DAY_INDEX:
        i, j = _DAY_INDEX[a], _DAY_INDEX[b]
        return [(i + k) % 7 for k in range((j - i) % 7 + 1)]
    return None
