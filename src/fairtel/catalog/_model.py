"""The typed tariff catalog: frozen dataclasses, Decimal money, no floats. Built by ``load_catalog``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fairtel.catalog._bands import DAY, BandWindow, WeekTable, second_of_week
from fairtel.catalog._eligibility import Eligibility
from fairtel.catalog._prefixes import PrefixTable, normalise_number
from fairtel.catalog._units import UNIT_OF_KIND, Unit
from fairtel.core.contracts import Direction, Language, UsageKind
from fairtel.core.countries import country_of_timezone
from fairtel.core.errors import InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Rounding
from fairtel.core.time import require_aware, zone

if TYPE_CHECKING:
    import polars as pl


ANY_ROAMING = "*"
"""In ``roaming_zones``: usage while roaming in any roaming zone."""

ALL_DAY_BAND = "all"
"""The band a catalog without ``[[bands]]`` has: the whole week."""


@dataclass(frozen=True, slots=True)
class Name:
    """A name in both languages of the demo operator's subscribers."""

    zh: str
    en: str

    def in_language(self, language: Language | str) -> str:
        return self.zh if str(language) == Language.ZH else self.en


@dataclass(frozen=True, slots=True)
class Operator:
    """``amount_decimals``: the decimals amounts are kept in when finer than the currency's minor units (a
    CGRateS plan priced to 4 decimals); ``None`` means the minor units. ``country``: the operator's own country
    (ISO 3166-1 alpha-2), where its subscribers are at home; ``None``: the country of ``timezone``
    (``Catalog.home_country``)."""

    id: str
    name: Name
    currency: str
    timezone: str
    amount_decimals: int | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """A destination zone: numbers whose longest matching prefix is one of ``prefixes``."""

    id: str
    name: Name
    prefixes: tuple[str, ...]
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class RoamingZone:
    """Where a subscriber is when abroad, by ISO 3166-1 alpha-2 country."""

    id: str
    name: Name
    countries: tuple[str, ...]
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    id: str
    name: Name | None
    windows: tuple[BandWindow, ...]


class MaxCostStrategy(StrEnum):
    """What happens when a line reaches its rate's ``max_cost`` (CGRateS ``*free`` / ``*disconnect``)."""

    FREE = "free"  # the rest of the usage is free: the line costs max_cost
    DISCONNECT = "disconnect"  # the network should cut the session; the line still costs at most max_cost


@dataclass(frozen=True, slots=True)
class RateStep:
    """One CGRateS rate step: from ``group_interval_start`` units on, ``rate`` per ``rate_unit``, billed in
    blocks of ``increment``. ``connect_fee`` is charged once per line, and only on the first step."""

    group_interval_start: int
    rate: Decimal
    rate_unit: int
    increment: int
    connect_fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Rate:
    """A price for a quantity of one unit. ``price_steps`` applies it; rounding happens once per line.

    ``increment_decimals`` reproduces CGRateS, which rounds each increment's cost (to its general
    ``rounding_decimals``, 5 by default) before adding them up; leave it unset for exact arithmetic.
    """

    id: str
    unit: Unit
    steps: tuple[RateStep, ...]
    rounding: Rounding = Rounding.UP
    rounding_decimals: int = 2
    max_cost: Decimal | None = None
    max_cost_strategy: MaxCostStrategy = MaxCostStrategy.FREE
    name: Name | None = None
    increment_decimals: int | None = None

    @property
    def rate_id(self) -> str:
        return self.id

    @property
    def connect_fee(self) -> Decimal:
        return self.steps[0].connect_fee if self.steps else Decimal(0)


@dataclass(frozen=True, slots=True)
class Match:
    """The usage a rule or an allowance applies to. ``None`` means any, except ``roaming_zones``: ``None``
    is "at home only", and a set holding ``*`` is "roaming anywhere"."""

    kind: UsageKind
    directions: frozenset[Direction] | None = None
    zones: frozenset[str] | None = None
    roaming_zones: frozenset[str] | None = None
    bands: frozenset[str] | None = None

    def matches(
        self, kind: UsageKind | str, direction: Direction | str | None = None, zone: str | None = None,
        roaming_zone: str | None = None, band: str | None = None,
    ) -> bool:
        if kind != self.kind:
            return False
        if self.directions is not None and direction not in self.directions:
            return False
        if self.zones is not None and zone not in self.zones:
            return False
        if roaming_zone is None:
            if self.roaming_zones is not None:
                return False
        elif self.roaming_zones is None or (
            roaming_zone not in self.roaming_zones and ANY_ROAMING not in self.roaming_zones
        ):
            return False
        return self.bands is None or band in self.bands


@dataclass(frozen=True, slots=True)
class PricingRule:
    """Usage matching ``match`` is priced by ``rate`` (or is free). ``id`` is the rule_id rated lines carry.

    ``daily_cap`` caps the sum this rule charges one subscriber in one local day (e.g. a roaming data day
    pass): rating applies it across lines. ``name``: what a statement or the console calls the rule (optional;
    without it they show the id).
    """

    id: str
    match: Match
    rate: str | None
    free: bool = False
    daily_cap: Decimal | None = None
    name: Name | None = None

    @property
    def rule_id(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class Allowance:
    """A monthly bundle of a plan. ``quantity`` in base units (seconds, messages, bytes); ``None`` is
    unlimited. An unlimited allowance may slow down after ``throttle_after`` bytes instead of charging.
    ``name``: optional, as for a rule."""

    id: str
    match: Match
    quantity: int | None
    throttle_after: int | None = None
    throttle_kbps: int | None = None
    name: Name | None = None

    @property
    def unlimited(self) -> bool:
        return self.quantity is None

    @property
    def unit(self) -> Unit:
        return UNIT_OF_KIND[self.match.kind]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules several plans share (international calls, roaming); a plan lists the sets it uses."""

    id: str
    name: Name | None
    rules: tuple[PricingRule, ...]


SUSPENSION_REASONS = ("requested", "arrears", "fraud")
"""Why a line is suspended, as its status history says (``line_status_history.reason``): ``requested`` by its
subscriber, keeping the number (停机保号); for ``arrears`` (欠费停机); after a confirmed ``fraud`` case. Not said:
unknown, which owes what a line in service owes."""


@dataclass(frozen=True, slots=True)
class SuspensionPolicy:
    """What a plan charges for the days a line is suspended (``[plans.suspension]``). By default (no
    ``keep_number_fee``) the plan fee, as for days in service. With one, a day wholly suspended for one of
    ``applies_to`` (default: ``requested``, 停机保号) is charged the keep-number fee pro-rated instead of the plan fee;
    a suspension for another reason (arrears, 欠费停机) still owes the plan fee."""

    keep_number_fee: Decimal | None = None  # a month's keep-number fee, in the catalog currency
    applies_to: frozenset[str] = frozenset({"requested"})

    @property
    def active(self) -> bool:
        return self.keep_number_fee is not None


@dataclass(frozen=True, slots=True)
class Plan:
    """A tariff plan. ``rules`` is the effective, ordered list: the plan's own rules, then those of each set
    in ``rule_sets``, in the order listed. ``eligibility``: who may order it (``[plans.eligibility]``); advice
    reads it, rating does not."""

    id: str
    name: Name
    monthly_fee: Decimal
    allowances: tuple[Allowance, ...] = ()
    rules: tuple[PricingRule, ...] = ()
    included_offers: tuple[str, ...] = ()
    rule_sets: tuple[str, ...] = ()
    eligibility: Eligibility = field(default_factory=Eligibility)
    suspension: SuspensionPolicy = field(default_factory=SuspensionPolicy)  # what suspended days are charged

    @property
    def plan_id(self) -> str:
        return self.id

    @property
    def pay_as_you_go(self) -> bool:
        return self.monthly_fee == 0 and not self.allowances

    def rule_for(
        self, kind: UsageKind | str, direction: Direction | str | None = None, zone: str | None = None,
        roaming_zone: str | None = None, band: str | None = None,
    ) -> PricingRule | None:
        """The first rule, in catalog order, that matches; ``None`` if none does."""
        for rule in self.rules:
            if rule.match.matches(kind, direction, zone, roaming_zone, band):
                return rule
        return None

    def allowances_for(
        self, kind: UsageKind | str, direction: Direction | str | None = None, zone: str | None = None,
        roaming_zone: str | None = None, band: str | None = None,
    ) -> tuple[Allowance, ...]:
        """Allowances this usage may draw on, in catalog order."""
        return tuple(a for a in self.allowances if a.match.matches(kind, direction, zone, roaming_zone, band))


class OfferPeriod(StrEnum):
    MONTHLY = "monthly"
    PER_USE = "per_use"


@dataclass(frozen=True, slots=True)
class PriceChange:
    """From ``valid_from`` on, an offer costs ``price`` (until its next change)."""

    valid_from: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class Offer:
    """A value-added service a content provider (merchant) sells through the operator's bill. ``price`` is what
    it cost first; ``price_changes`` (in time order) date every later price, so that a charge is priced, and its
    consent checked, at the price in force when it was made."""

    id: str
    provider: str
    price: Decimal
    period: OfferPeriod
    name: Name
    category: str | None = None
    price_changes: tuple[PriceChange, ...] = ()

    @property
    def offer_id(self) -> str:
        return self.id

    def price_at(self, at: datetime) -> Decimal:
        """The price in force at ``at``."""
        require_aware(at, "at")
        price = self.price
        for change in self.price_changes:
            if change.valid_from > at:
                break
            price = change.price
        return price

    def versions(self) -> tuple[tuple[datetime | None, Decimal], ...]:
        """(valid from, price) of each price the offer has had, the first from the beginning (None)."""
        return ((None, self.price), *((c.valid_from, c.price) for c in self.price_changes))


@dataclass(frozen=True, slots=True)
class SubjectPlan:
    """A rating subject (usually an msisdn) priced under ``plan``, as a CGRateS rating profile maps it.

    ``subject`` ``*any`` is the fallback for subjects without an entry of their own. ``kinds`` limits the entry
    to some usage kinds (``None``: any kind); ``active_from`` is when it takes effect (``None``: always), the
    latest entry already in effect wins.
    """

    subject: str
    plan: str
    kinds: frozenset[UsageKind] | None = None
    active_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class RoamingRuleGap:
    """A plan with no rule for some usage while roaming in ``roaming_zone`` that it prices in ``priced_in`` (other
    roaming zones): ``missing`` names it by kind, then direction and band where only some lack a rule
    (``sms out``, ``voice in band peak``)."""

    plan: str
    roaming_zone: str
    countries: tuple[str, ...]
    fallback: bool
    missing: tuple[str, ...]
    priced_in: tuple[str, ...]


ANY_SUBJECT = "*any"
"""In ``[[subjects]]``: the entry for every subject that has none of its own."""


@dataclass(frozen=True)
class Catalog:
    """A whole tariff catalog with the lookups rating needs. Build it with ``load_catalog``."""

    operator: Operator
    zones: tuple[Zone, ...]
    roaming_zones: tuple[RoamingZone, ...]
    bands: tuple[Band, ...]
    rates: tuple[Rate, ...]
    plans: tuple[Plan, ...]
    offers: tuple[Offer, ...]
    rule_sets: tuple[RuleSet, ...] = ()
    version: str | None = None
    source: str | None = None
    subjects: tuple[SubjectPlan, ...] = ()
    warnings: tuple[Problem, ...] = field(default=(), compare=False, repr=False)
    """What loads but is likely a mistake (file, line, field, message, code), as ``parse_catalog`` found it:
    a roaming zone some plan has no rule for (``roaming_rule_gap``), a setting with no effect (``no_effect``)."""
    _prefixes: PrefixTable = field(init=False, repr=False, compare=False)
    _week: WeekTable = field(init=False, repr=False, compare=False)
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _by_id: dict[str, dict[str, object]] = field(init=False, repr=False, compare=False)
    _country: dict[str, RoamingZone] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bands = self.bands or (Band(ALL_DAY_BAND, Name("全天", "All day"), (BandWindow(tuple(range(7)), 0, DAY),)),)
        object.__setattr__(self, "bands", bands)
        fallback = next((z.id for z in self.zones if z.fallback), None)
        pairs = [(p, z.id) for z in self.zones for p in z.prefixes]
        object.__setattr__(self, "_prefixes", PrefixTable.build(pairs, fallback))
        object.__setattr__(self, "_week", WeekTable.build(
            (s, e, b.id) for b in bands for w in b.windows for s, e in w.intervals()
        ))
        object.__setattr__(self, "_tz", zone(self.operator.timezone))
        object.__setattr__(self, "_by_id", {
            "zone": {z.id: z for z in self.zones},
            "roaming zone": {z.id: z for z in self.roaming_zones},
            "band": {b.id: b for b in bands},
            "rate": {r.id: r for r in self.rates},
            "plan": {p.id: p for p in self.plans},
            "offer": {o.id: o for o in self.offers},
            "rule": {r.id: r for p in self.plans for r in p.rules},
            "allowance": {a.id: a for p in self.plans for a in p.allowances},
        })
        object.__setattr__(self, "_country", {c: z for z in self.roaming_zones for c in z.countries})

    # ---- by id
    def _get(self, what: str, key: str) -> object:
        try:
            return self._by_id[what][key]
        except KeyError:
            raise NotFoundError(f"no {what} {key!r} in the catalog", details={"kind": what, "id": key}) from None

    def plan(self, plan_id: str) -> Plan:
        p = self._get("plan", plan_id)
        assert isinstance(p, Plan)
        return p

    def plan_ids(self, ids: Iterable[str], *, what: str = "plans") -> tuple[str, ...]:
        """``ids``, each once, in the order given, when every one is a plan of the catalog; else
        ``InvalidInputError`` naming each unknown id (with the nearest plan id) and the catalog's plans."""
        import difflib

        known = [p.id for p in self.plans]
        wanted = tuple(dict.fromkeys(i.strip() for i in ids))
        problems = []
        for i in wanted:
            if i not in self._by_id["plan"]:
                near = difflib.get_close_matches(i, known, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                problems.append(Problem(what, None, None, f"unknown plan {i!r}{hint}; the catalog's plans: "
                                        f"{', '.join(known)}", "unknown_plan"))
        if problems:
            raise InvalidInputError(problems, what=what)
        return wanted

    def offer(self, offer_id: str) -> Offer:
        o = self._get("offer", offer_id)
        assert isinstance(o, Offer)
        return o

    def rate(self, rate_id: str) -> Rate:
        r = self._get("rate", rate_id)
        assert isinstance(r, Rate)
        return r

    def zone(self, zone_id: str) -> Zone:
        z = self._get("zone", zone_id)
        assert isinstance(z, Zone)
        return z

    def band(self, band_id: str) -> Band:
        b = self._get("band", band_id)
        assert isinstance(b, Band)
        return b

    def rule(self, rule_id: str) -> PricingRule:
        r = self._get("rule", rule_id)
        assert isinstance(r, PricingRule)
        return r

    def allowance(self, allowance_id: str) -> Allowance:
        a = self._get("allowance", allowance_id)
        assert isinstance(a, Allowance)
        return a

    def name_of(self, what: str, key: str | None) -> Name | None:
        """The name of the ``what`` (``zone``, ``roaming zone``, ``band``, ``rate``, ``plan``, ``offer``, ``rule``,
        ``allowance``) called ``key``; ``None`` when there is none or it has no name, so a caller shows the id."""
        found = self._by_id.get(what, {}).get(key or "")
        name = getattr(found, "name", None)
        return name if isinstance(name, Name) else None

    # ---- destinations and roaming
    @property
    def number_width(self) -> int:
        """How many leading characters of a destination the zones are told by: the longest prefix (at least 1)."""
        return max(self._prefixes.lengths[:1] or (1,))

    def is_number(self, number: str) -> bool:
        """Whether a destination is a number the zones can be told for: its first ``number_width`` characters
        (all of it when shorter), once a leading ``+`` or ``00``, spaces and dashes are dropped, are ASCII
        digits. A switch placeholder (``&``), a SIP user (``client2``), ``anonymous`` or a feature code (``*86``)
        is not: it has no digits to match, so no zone, not even the fallback zone of unmatched numbers."""
        head = normalise_number(number)[: self.number_width]
        return head.isascii() and head.isdigit()

    def zone_for(self, number: str) -> Zone:
        """The destination zone of a number by longest prefix; the fallback zone if none matches. A destination
        that is not a number (``is_number``) has none: ``NotFoundError``, as for a number with no zone."""
        if not self.is_number(number):
            raise NotFoundError(f"no destination zone for {number!r}: not a number")
        zone_id = self._prefixes.lookup(number)
        if zone_id is None:
            raise NotFoundError(f"no destination zone for {number!r} and the catalog has no fallback zone")
        return self.zone(zone_id)

    def prefix_table(self) -> list[tuple[str, str]]:
        """(prefix, zone id), longest first; with ``fallback_zone`` and ``is_number`` this is all of
        ``zone_for``."""
        return self._prefixes.rows()

    @property
    def fallback_zone(self) -> Zone | None:
        return None if self._prefixes.fallback is None else self.zone(self._prefixes.fallback)

    def zone_expr(self, number: pl.Expr | str) -> pl.Expr:
        """``zone_for`` on a Polars column of E.164 digit strings (no ``+``, ``00`` or spaces: mediation has
        normalised them); null where the value is not a number (its first ``number_width`` characters are not
        all digits), and where nothing matches and there is no fallback zone. A null value gets the fallback
        zone, as it always has (an incoming call with no caller number)."""
        import polars as pl

        col = pl.col(number) if isinstance(number, str) else number
        digits = col.str.slice(0, self.number_width).str.contains(r"^[0-9]+$")
        return pl.when(col.is_null() | digits).then(self._prefixes.expr(col))

    def roaming_zone_for(self, country: str) -> RoamingZone:
        """The roaming zone of an ISO 3166-1 alpha-2 country; the fallback roaming zone if not listed."""
        z = self._country.get(country.strip().upper())
        if z is None:
            z = self.fallback_roaming_zone
        if z is None:
            raise NotFoundError(f"no roaming zone for country {country!r} and the catalog has no fallback")
        return z

    @property
    def fallback_roaming_zone(self) -> RoamingZone | None:
        """The roaming zone of the countries no other lists ("rest of the world"), if the catalog has one."""
        return next((r for r in self.roaming_zones if r.fallback), None)

    @property
    def home_country(self) -> str | None:
        """The operator's own country (ISO 3166-1 alpha-2): ``operator.country``, else the country the time zone
        database gives the operator's time zone (``zone.tab``: Asia/Shanghai is CN); ``None`` when neither says
        (``UTC``)."""
        return self.operator.country or country_of_timezone(self.operator.timezone)

    def roaming_zone_of(self, country: str | None) -> RoamingZone | None:
        """How rating places usage made in ``country`` (a record's ``roaming_country``): ``None`` at home (no
        country, or the operator's own, ``home_country``, when no roaming zone lists it); else the roaming zone
        listing the country, or the fallback roaming zone. ``NotFoundError`` when there is neither: a roaming
        record no roaming zone prices, which rating leaves unrated (``no_roaming_zone``) rather than price it as
        at home."""
        code = (country or "").strip().upper()
        if not code or (code not in self._country and code == self.home_country):
            return None
        return self.roaming_zone_for(code)

    def roaming_gap(self) -> str | None:
        """A note when plans price roaming but the catalog has no fallback roaming zone: usage in a country no
        roaming zone lists is then left unrated (``no_roaming_zone``) until a zone lists it; ``None`` otherwise."""
        if self.fallback_roaming_zone is not None:
            return None
        roaming = [p.id for p in self.plans if any(r.match.roaming_zones for r in p.rules)]
        if not roaming:
            return None
        return (f"plans {', '.join(roaming)} price roaming but no roaming zone is the fallback (fallback = true): "
                "usage in a country no roaming zone lists is left unrated (no_roaming_zone)")

    def roaming_rule_gaps(self) -> list[RoamingRuleGap]:
        """For each plan that prices roaming, each roaming zone where it has no rule for usage (kind, direction,
        band) that it does price in another roaming zone: such usage in that zone's countries is left unrated
        (``no_rule``), e.g. after a new roaming zone takes countries the fallback roaming zone used to price."""
        bands = [b.id for b in self.bands]
        roaming = [z.id for z in self.roaming_zones]
        out: list[RoamingRuleGap] = []
        for plan in self.plans:
            if not any(r.match.roaming_zones for r in plan.rules):
                continue
            # what some rule prices (a rule's destination zones are zones of the catalog: it matches some number)
            priced: set[tuple[UsageKind, Direction | None, str, str]] = set()
            for rule in plan.rules:
                m = rule.match
                if m.roaming_zones is None:
                    continue
                all_dirs: tuple[Direction | None, ...] = (None,) if m.kind is UsageKind.DATA else tuple(Direction)
                priced.update(
                    (m.kind, d, rz, b)
                    for d in (all_dirs if m.directions is None else tuple(m.directions))
                    for rz in (roaming if ANY_ROAMING in m.roaming_zones else m.roaming_zones)
                    for b in (bands if m.bands is None else m.bands)
                )
            where: dict[tuple[UsageKind, Direction | None, str], set[str]] = {}
            for kind, d, rz_id, b in priced:
                where.setdefault((kind, d, b), set()).add(rz_id)
            for rz in self.roaming_zones:
                missing: list[str] = []
                elsewhere: set[str] = set()
                for kind in UNIT_OF_KIND:
                    dirs: tuple[Direction | None, ...] = (None,) if kind is UsageKind.DATA else tuple(Direction)
                    gaps = []
                    for d in dirs:
                        for b in bands:
                            others = where.get((kind, d, b), set())
                            if others and rz.id not in others:
                                gaps.append((d, b))
                                elsewhere |= others
                    if gaps:
                        text = str(kind)
                        gap_dirs = {d for d, _ in gaps}
                        gap_bands = {b for _, b in gaps}
                        if gap_dirs != set(dirs):
                            text += " " + "/".join(str(d) for d in dirs if d in gap_dirs)
                        if gap_bands != set(bands):
                            text += " in band " + "/".join(b for b in bands if b in gap_bands)
                        missing.append(text)
                if missing:
                    out.append(RoamingRuleGap(plan.id, rz.id, rz.countries, rz.fallback, tuple(missing),
                                              tuple(o.id for o in self.roaming_zones if o.id in elsewhere)))
        return out

    def country_table(self) -> dict[str, str]:
        """Country code → roaming zone id (without the fallback)."""
        return {c: z.id for c, z in self._country.items()}

    # ---- time bands
    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def band_at(self, instant: datetime) -> Band:
        """The band in force at an instant, read on the catalog's local clock."""
        local = require_aware(instant, "instant").astimezone(self._tz)
        band_id, _ = self._week.at(second_of_week(local))
        return self.band(band_id)

    def band_boundaries(self) -> list[tuple[int, str]]:
        """(second of the local week, band id) where each band starts; Monday 00:00 is 0, the first is 0."""
        return list(zip(self._week.starts, self._week.band_ids, strict=True))

    def band_segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Band]]:
        """Split ``[start, end)`` where the band changes (for pricing a long call in each band it crossed)."""
        return [(s, e, self.band(b)) for s, e, b in self._week.segments(start, end, self._tz)]

    def band_expr(self, started_at: pl.Expr | str) -> pl.Expr:
        """``band_at`` on a Polars column of time-zone-aware datetimes."""
        import polars as pl

        col = pl.col(started_at) if isinstance(started_at, str) else started_at
        wall = col.dt.convert_time_zone(self.operator.timezone).dt.replace_time_zone(None)
        # 1970-01-01 was a Thursday: shifting by three days makes Monday 00:00 second 0 of the week
        sow = (wall.dt.epoch("s") + 3 * DAY) % (7 * DAY)
        starts = pl.lit(pl.Series(self._week.starts, dtype=pl.Int64))
        ids = pl.lit(pl.Series(self._week.band_ids, dtype=pl.String))
        return ids.gather(starts.search_sorted(sow, side="right") - 1)

    # ---- summary
    def counts(self) -> dict[str, int]:
        return {
            "plans": len(self.plans), "zones": len(self.zones), "roaming_zones": len(self.roaming_zones),
            "bands": len(self.bands), "rates": len(self.rates), "offers": len(self.offers),
            "rules": len(self._by_id["rule"]), "subjects": len(self.subjects),
        }

