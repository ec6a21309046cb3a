"""CGRateS tariff plan → fairtel catalog TOML, keeping CGRateS's ids and its way of choosing a price.

How CGRateS prices a record, and what each step becomes here:

- the rating profile of (tenant, category, subject) in effect at the record's time names a rating plan; a
  subject without one falls back to ``*any``. → ``[[subjects]]`` entries (``plan_for_subject``).
- in that plan, the destination is matched by the number's longest prefix among the destinations the plan
  has rates for (equal prefixes: the highest weight), else the plan's ``*any`` destination; a plan with no
  rate at all sends the record on to the profile's fallback subjects, then to ``*any``. → one zone per set of
  prefixes CGRateS cannot tell apart; per plan, rules whose zones are those the plan resolves to each
  destination; the ``*any`` subject's rules follow every plan's own (a ``[[rule_sets]]`` per rating plan).
- among the plan's entries for that destination, the timing in force with the highest weight (then the latest
  start) wins. → time bands (one per set of timings in force), a rule per winning entry.
- Rates and DestinationRates → ``[[rates]]`` with the same steps, rounding and max cost, and
  ``increment_decimals`` (CGRateS rounds each increment's cost before adding them up).
- CGRateS rates an event for the account it charges: the rating subject is "in most of the cases" that account
  (the caller's), the Destination the number called, and only the ``*out`` direction was ever rated. The called
  party of a call or an SMS is charged nothing for it. → every voice and SMS rule set starts with a free rule
  for incoming usage (``RP_X/incoming``), so a subscriber's incoming leg is not priced as if they had called.
- categories are not on a fairtel usage record, only its kind: when two categories rate one kind (``sms`` and
  ``mms`` mapped to sms), a subject's profiles of the category known first are kept and the other's skipped.

What cannot be carried over is reported as a note (file, line, code), never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from itertools import pairwise
from pathlib import Path

from fairtel.catalog._cgrates_read import (
    ANY,
    NS,
    Binding,
    DestinationRate,
    Profile,
    RateSlot,
    TariffPlan,
    Timing,
    first_slot,
    read_tariff_plan,
)
from fairtel.catalog._load import MAX_AMOUNT_DECIMALS
from fairtel.catalog._units import UNIT_OF_KIND, Unit, format_quantity
from fairtel.core.contracts import UsageKind
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import MINOR_UNITS
from fairtel.core.time import utc_now

DAY = 86_400
WEEK = 7 * DAY
DEFAULT_CATEGORIES: Mapping[str, UsageKind] = {
    "call": UsageKind.VOICE, "voice": UsageKind.VOICE, "*voice": UsageKind.VOICE,
    "sms": UsageKind.SMS, "*sms": UsageKind.SMS, "data": UsageKind.DATA, "*data": UsageKind.DATA,
}
_ROUNDING = {"*up": "up", "*down": "down", "*middle": "half-up"}
_INCOMING = {UsageKind.VOICE: ("被叫免费", "Incoming call: not charged"),
             UsageKind.SMS: ("接收短信免费", "Incoming SMS: not charged")}
_ID_BAD = re.compile(r"[^A-Za-z0-9._:/+-]")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class CgratesImport:
    """The catalog TOML made from a CGRateS tariff plan, and what the import could not carry over exactly."""

    text: str
    notes: tuple[Problem, ...]
    tenant: str
    counts: dict[str, int]


def import_cgrates(
    directory: str | Path, *, currency: str = "CNY", timezone: str = "Asia/Shanghai", tenant: str | None = None,
    categories: Mapping[str, UsageKind | str] | None = None, increment_decimals: int | None = 5,
    now: datetime | None = None,
) -> CgratesImport:
    """Convert the CGRateS CSV tariff plan in ``directory`` into a fairtel catalog (TOML text).

    ``tenant``: the tenant whose rating profiles to import (default: the first in RatingProfiles.csv; one
    catalog is one operator). ``categories`` adds CGRateS categories to the usage kinds they rate (``call`` →
    voice, ``sms``, ``data`` are known); where a subject has profiles in two categories of one kind, those of the
    category known first (the built-in ones, then ``categories`` in order) price it. ``increment_decimals``:
    CGRateS's ``general.rounding_decimals`` (5), to which it rounds each increment's cost; ``None`` prices
    exactly. Raises ``InvalidInputError`` listing every problem when the files cannot be read as a tariff plan.
    """
    tp, problems = read_tariff_plan(Path(directory))
    if problems:
        raise InvalidInputError(problems, what=f"CGRateS tariff plan {directory}")
    kinds = dict(DEFAULT_CATEGORIES) | {c: UsageKind(k) for c, k in (categories or {}).items()}
    conv = _Converter(tp, currency=currency, timezone=timezone, kinds=kinds, inc_decimals=increment_decimals,
                      now=now or utc_now())
    return conv.run(tenant)


def _ident(text: str) -> str:
    """A fairtel id for a CGRateS id (CGRateS allows characters fairtel ids do not)."""
    s = _ID_BAD.sub("_", text.strip())
    return s if s and s[0].isalnum() else f"x{s}"


def _q(value: object) -> str:
    """A TOML value: strings quoted (JSON escapes are TOML escapes), lists inline."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _name(zh: str, en: str) -> str:
    return f"{{ zh = {_q(zh)}, en = {_q(en)} }}"


def _clock(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


@dataclass
class _Rate:
    id: str
    tag: str
    unit: Unit
    rounding: str
    decimals: int
    max_cost: Decimal | None
    slots: tuple[RateSlot, ...]  # by GroupIntervalStart
    connect_fee: Decimal  # of the slot first in the file, which CGRateS charges


@dataclass
class _Rule:
    id: str
    kind: UsageKind
    zones: list[str] | None
    bands: list[str] | None
    rate: str | None  # None: free
    directions: str | None = None
    name: tuple[str, str] | None = None  # zh, en


@dataclass
class _Converter:
    tp: TariffPlan
    currency: str
    timezone: str
    kinds: dict[str, UsageKind]
    inc_decimals: int | None
    now: datetime
    notes: list[Problem] = field(default_factory=list)
    zone_chain: dict[str, tuple[frozenset[str], ...]] = field(default_factory=dict)
    zone_prefixes: dict[str, list[str]] = field(default_factory=dict)
    fallback_zone: str = "unlisted"
    bands: dict[frozenset[str], str] = field(default_factory=dict)
    band_windows: dict[str, list[tuple[list[int], int, int]]] = field(default_factory=dict)
    band_sets: list[frozenset[str]] = field(default_factory=list)
    rates: dict[tuple[object, ...], _Rate] = field(default_factory=dict)
    rule_sets: dict[tuple[str, UsageKind], tuple[str, list[_Rule]]] = field(default_factory=dict)
    incoming: list[str] = field(default_factory=list)  # ids of the free rules for incoming calls and SMS
    band_winners: dict[str, set[str]] = field(default_factory=dict)  # band id → the timings that price in it

    def note(self, file: str, line: int | None, fieldname: str | None, message: str, code: str) -> None:
        self.notes.append(Problem(self.tp.file(file) if file else str(self.tp.directory), line, fieldname, message,
                                  code))

    # ---- the whole import
    def run(self, tenant: str | None) -> CgratesImport:
        profiles = self.select_tenant(tenant)
        tenant_id = profiles[0].tenant if profiles else (tenant or "cgrates")
        plan_kinds = self.plan_kinds(profiles)
        self.build_zones()
        self.build_bands(plan_kinds)
        for rp, kinds in plan_kinds.items():
            for kind in kinds:
                self.rule_set(rp, kind, multi=len(kinds) > 1)
        plans, subjects = self.plans_and_subjects(profiles, plan_kinds)
        text = self.emit(tenant_id, plans, subjects)
        counts = {"plans": len(plans), "zones": len(self.zone_prefixes) + 1, "bands": len(self.band_windows),
                  "rates": len(self.rates), "rule_sets": len(self.rule_sets), "subjects": len(subjects),
                  "notes": len(self.notes)}
        return CgratesImport(text, tuple(self.notes), tenant_id, counts)

    def select_tenant(self, tenant: str | None) -> list[Profile]:
        tenants: dict[str, int] = {}
        for p in self.tp.profiles:
            tenants[p.tenant] = tenants.get(p.tenant, 0) + 1
        chosen = tenant if tenant is not None else next(iter(tenants), None)
        if tenant is not None and tenant not in tenants:
            self.note("RatingProfiles.csv", None, "Tenant", f"no rating profile of tenant {tenant!r} "
                      f"(tenants: {', '.join(tenants) or 'none'})", "unknown_tenant")
        others = {t: n for t, n in tenants.items() if t != chosen}
        if others:
            # the advice to choose a tenant is for an import that did not choose one
            self.note("RatingProfiles.csv", None, "Tenant", f"one catalog is one operator: imported tenant "
                      f"{chosen!r}{' (--tenant)' if tenant is not None else ''}; skipped " +
                      ", ".join(f"{t!r} ({n} profiles)" for t, n in others.items()) +
                      ("" if tenant is not None else " (import each with --tenant)"), "multiple_tenants")
        selected: list[Profile] = []
        for p in self.tp.profiles:
            if p.tenant != chosen:
                continue
            if p.direction != "*out":
                self.note("RatingProfiles.csv", p.line, "Direction", f"profile of {p.subject!r} → {p.plan} rates "
                          f"{p.direction} usage, which CGRateS never rated (it rates the account charged, *out): "
                          "skipped; incoming calls and SMS are not charged", "unsupported_direction")
                continue
            if p.category not in self.kinds:
                self.note("RatingProfiles.csv", p.line, "Category", f"category {p.category!r} has no fairtel usage "
                          f"kind (voice, sms, data): profile of {p.subject!r} → {p.plan} skipped (map it with "
                          f"--category {p.category}=voice|sms|data)", "unsupported_category")
                continue
            if p.activation > self.now:
                self.note("RatingProfiles.csv", p.line, "ActivationTime", f"{p.subject!r} → {p.plan} takes effect "
                          f"only on {p.activation.isoformat()} (kept as the subject entry's 'from')",
                          "future_activation")
            selected.append(p)
        return self.one_category_per_kind(selected)

    def one_category_per_kind(self, profiles: list[Profile]) -> list[Profile]:
        """The profiles left when each subject's usage of a kind is priced by one category's profiles.

        CGRateS chooses a profile by the event's category; a fairtel record has a kind, not a category. Two
        categories of one kind (``sms`` and ``mms`` mapped to sms) would give a subject two plans for the same usage
        (refused as ``duplicate_id``, or the later one silently winning), so the category known first keeps the
        subject: the built-in ones, then those added with ``--category``, in that order."""
        rank = {c: i for i, c in enumerate(self.kinds)}
        keep: dict[tuple[str, UsageKind], str] = {}
        for p in profiles:
            key = (p.subject, self.kinds[p.category])
            if key not in keep or rank[p.category] < rank[keep[key]]:
                keep[key] = p.category
        out: list[Profile] = []
        for p in profiles:
            kind = self.kinds[p.category]
            winner = keep[(p.subject, kind)]
            if p.category != winner:
                self.note("RatingProfiles.csv", p.line, "Category", f"profile of {p.subject!r} in category "
                          f"{p.category!r} → {p.plan} skipped: category {winner!r} also rates {kind}, and a usage "
                          f"record has a kind but no category, so {winner!r} profiles price the {kind} of "
                          f"{p.subject!r}", "category_overlap")
                continue
            out.append(p)
        return out

    def plan_kinds(self, profiles: list[Profile]) -> dict[str, list[UsageKind]]:
        """The usage kinds each rating plan is imported for: those of the categories that use it."""
        out: dict[str, list[UsageKind]] = {}
        for p in profiles:
            kinds = out.setdefault(p.plan, [])
            if self.kinds[p.category] not in kinds:
                kinds.append(self.kinds[p.category])
        skipped_by_profiles = {p.plan for p in self.tp.profiles} - set(out)
        for rp, bindings in self.tp.bindings.items():
            if rp in out:
                continue
            slots = [s for b in bindings for dr in self.tp.destination_rates[b.destination_rates]
                     for s in self.tp.rates[dr.rates]]
            line = bindings[0].line
            if rp in skipped_by_profiles:
                self.note("RatingPlans.csv", line, "Id", f"rating plan {rp} is used only by skipped profiles: not "
                          "imported", "plan_not_imported")
            elif slots and all(s.timed for s in slots):
                out[rp] = [UsageKind.VOICE]
                self.note("RatingPlans.csv", line, "Id", f"rating plan {rp} is used by no rating profile: its rates "
                          "count time, so it is imported as a voice plan", "plan_kind_guessed")
            else:
                self.note("RatingPlans.csv", line, "Id", f"rating plan {rp} is used by no rating profile and its "
                          "rates do not say whether they count SMS or data: not imported", "plan_not_imported")
        return out

    # ---- destinations → zones
    def build_zones(self) -> None:
        owners: dict[str, set[str]] = {}
        for dest, prefixes in self.tp.destinations.items():
            for raw in prefixes:
                prefix = raw.lstrip("+")
                if not re.fullmatch(r"[1-9][0-9]{0,14}", prefix):
                    self.note("Destinations.csv", self.tp.destination_lines.get(dest), "Prefix",
                              f"{raw!r} of {dest} is not an E.164 dialling prefix (digits, not starting with 0): "
                              "skipped", "bad_prefix")
                    continue
                owners.setdefault(prefix, set()).add(dest)
        groups: dict[tuple[frozenset[str], ...], list[str]] = {}
        for prefix in sorted(owners):
            chain = tuple(frozenset(owners[prefix[:n]]) for n in range(len(prefix), 0, -1) if prefix[:n] in owners)
            groups.setdefault(chain, []).append(prefix)
        firsts: dict[frozenset[str], int] = {}
        for chain in groups:
            firsts[chain[0]] = firsts.get(chain[0], 0) + 1
        taken: set[str] = set()
        for chain, prefixes in groups.items():
            base = "+".join(_ident(d) for d in sorted(chain[0]))
            zone_id = base if firsts[chain[0]] == 1 and base not in taken else f"{base}:{prefixes[0]}"  # "@" is no id character
            taken.add(zone_id)
            self.zone_chain[zone_id] = chain
            self.zone_prefixes[zone_id] = prefixes
        while self.fallback_zone in taken:
            self.fallback_zone += "_"

    def zones_of(self, rp: str, dests: Mapping[str, Decimal]) -> dict[str, list[str]]:
        """For a rating plan with rates for ``dests`` (destination → weight): destination → the zones CGRateS
        resolves to it (longest prefix among the plan's destinations, then weight); ``*any`` gets the rest."""
        out: dict[str, list[str]] = {}
        for zone_id, chain in self.zone_chain.items():
            chosen = ANY
            for level in chain:
                found = [d for d in sorted(level) if d in dests]
                if found:
                    chosen = max(found, key=lambda d: dests[d])
                    break
            out.setdefault(chosen, []).append(zone_id)
        out.setdefault(ANY, []).append(self.fallback_zone)
        return out

    # ---- timings → bands
    def build_bands(self, plan_kinds: Mapping[str, list[UsageKind]]) -> None:
        used: dict[str, Timing] = {}
        for rp in plan_kinds:
            for b in self.tp.bindings[rp]:
                t = self.tp.timings.get(b.timing)
                if t is None or b.timing == ANY:
                    continue
                if t.calendar:
                    self.note("Timings.csv", t.line, "Years/Months/MonthDays", f"timing {t.id} is restricted to some "
                              "dates; fairtel bands repeat every week: entries using it are skipped",
                              "unsupported_timing")
                    continue
                if t.end_s is not None and t.end_s <= t.start_s:
                    self.note("Timings.csv", t.line, "Time", f"timing {t.id} ends before it starts: entries using it "
                              "are skipped", "unsupported_timing")
                    continue
                used[t.id] = t
        if not used:
            return
        spans: list[tuple[int, int, str]] = []
        for t in used.values():
            days = range(7) if t.weekdays is None else [(d - 1) % 7 for d in t.weekdays]  # Go: 0 is Sunday
            for d in days:
                spans.append((d * DAY + t.start_s, d * DAY + (DAY if t.end_s is None else t.end_s), t.id))
        cuts = sorted({0, WEEK} | {d * DAY for d in range(7)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
        windows: dict[str, dict[tuple[int, int], list[int]]] = {}
        for a, z in pairwise(cuts):
            active = frozenset(tid for s, e, tid in spans if s <= a < e)
            if active not in self.bands:
                band_id = "+".join(_ident(t) for t in sorted(active)) if active else "other-times"
                self.bands[active] = band_id
                self.band_sets.append(active)
            day = a // DAY
            windows.setdefault(self.bands[active], {}).setdefault((a - day * DAY, z - day * DAY), []).append(day)
        for band_id, spans_by_time in windows.items():
            self.band_windows[band_id] = [(days, s, e) for (s, e), days in sorted(spans_by_time.items())]

    def band_name(self, band_id: str) -> tuple[str, str]:
        """A band's name (zh, en): the timing whose rates price in it, as CGRateS picks it (highest weight, then
        latest start), rather than every timing in force there (a peak call is not "OFFPEAK_MORNING+PEAK"); where
        rating plans differ, each timing that prices there; where none does (``*any`` everywhere), the id."""
        winners = sorted(t for t in self.band_winners.get(band_id, set()) if t != ANY)
        if not winners:
            return f"时段 {band_id}", f"Timing {band_id}"
        if len(winners) == 1:
            return f"时段 {winners[0]}", f"Timing {winners[0]}"
        return (f"时段 {' 或 '.join(winners)}（按资费计划）",
                f"Timing {' or '.join(winners)} (by rating plan)")

    def bindings_in_force(self, bindings: list[Binding]) -> dict[str | None, Binding]:
        """Band id (``None``: no bands) → the binding CGRateS applies there: highest weight, then latest start."""
        def usable(b: Binding) -> bool:
            t = self.tp.timings.get(b.timing)
            return b.timing == ANY or (t is not None and not t.calendar and (t.end_s is None or t.end_s > t.start_s))

        def start(b: Binding) -> int:
            t = self.tp.timings.get(b.timing)
            return 0 if b.timing == ANY or t is None else t.start_s

        candidates = [b for b in bindings if usable(b)]
        if not self.band_sets:
            best = max(candidates, key=lambda b: (b.weight, start(b)), default=None)
            return {} if best is None else {None: best}
        out: dict[str | None, Binding] = {}
        for active in self.band_sets:
            here = [b for b in candidates if b.timing == ANY or b.timing in active]
            best = max(here, key=lambda b: (b.weight, start(b)), default=None)
            if best is not None:
                out[self.bands[active]] = best
        return out

    # ---- rates
    def rate_for(self, dr: DestinationRate, kind: UsageKind) -> str | None:
        unit = UNIT_OF_KIND[kind]
        slots = tuple(self.tp.rates[dr.rates])
        for s in slots:
            for what, ns in (("RateUnit", s.unit_ns), ("RateIncrement", s.increment_ns),
                             ("GroupIntervalStart", s.start_ns)):
                if unit is Unit.SECOND and ns % NS:
                    self.note("Rates.csv", s.line, what, f"{dr.rates}: {ns} ns is not a whole number of seconds "
                              f"(voice is counted in seconds): {dr.id} is not imported for {kind}", "unsupported_unit")
                    return None
        first = first_slot(slots)
        ignored = [s for s in slots if s is not first and s.connect_fee]
        if ignored:
            self.note("Rates.csv", ignored[0].line, "ConnectFee", f"{dr.rates}: only the connect fee of its first line "
                      f"(line {first.line}) applies, once per call, as in CGRateS", "connect_fee_ignored")
        decimals = dr.decimals
        if decimals > MAX_AMOUNT_DECIMALS:
            # a catalog keeps amounts to at most that many decimals; a finer plan would not validate at all
            self.note("DestinationRates.csv", dr.line, "RoundingDecimals", f"{dr.id}: {dr.decimals} decimals is finer "
                      f"than a catalog keeps amounts ({MAX_AMOUNT_DECIMALS}): rounded to {MAX_AMOUNT_DECIMALS}",
                      "rounding_decimals_reduced")
            decimals = MAX_AMOUNT_DECIMALS
        max_cost: Decimal | None = None
        if dr.max_cost > 0:
            if dr.strategy == "*free":
                max_cost = dr.max_cost.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
                if max_cost != dr.max_cost:
                    # a line is rounded to RoundingDecimals before it is capped: a finer cap is no price a line
                    # can have, and the catalog refuses it; rounded down, nothing is charged above CGRateS's cap
                    self.note("DestinationRates.csv", dr.line, "MaxCost", f"{dr.id}: max cost {dr.max_cost} has more "
                              f"decimals than RoundingDecimals ({decimals}): imported as {max_cost}",
                              "max_cost_rounded")
                if max_cost == 0:
                    self.note("DestinationRates.csv", dr.line, "MaxCost", f"{dr.id}: max cost {dr.max_cost} is 0 at "
                              f"{decimals} decimals: imported without max cost", "unsupported_max_cost")
                    max_cost = None
            else:
                self.note("DestinationRates.csv", dr.line, "MaxCostStrategy", f"{dr.id}: max cost {dr.max_cost} with "
                          f"strategy {dr.strategy or '(none)'!r} is not a price cap in CGRateS (it cuts live sessions; "
                          "a finished call is rated in full): imported without max cost", "unsupported_max_cost")
        key = (dr.rates, unit, dr.rounding, decimals, max_cost)
        if key not in self.rates:
            self.rates[key] = _Rate("", dr.rates, unit, _ROUNDING[dr.rounding], decimals, max_cost, slots,
                                    first.connect_fee)
        return "|".join(map(str, key))

    def name_rates(self) -> None:
        by_tag: dict[str, list[_Rate]] = {}
        for r in self.rates.values():
            by_tag.setdefault(r.tag, []).append(r)
        for tag, rates in by_tag.items():
            for r in rates:
                r.id = _ident(tag) if len(rates) == 1 else _ident(
                    f"{tag}@{r.unit}-{r.rounding}{r.decimals}" + (f"-max{r.max_cost}" if r.max_cost else ""))

    # ---- rating plans → rule sets
    def rule_set(self, rp: str, kind: UsageKind, *, multi: bool) -> None:
        bindings = self.tp.bindings[rp]
        per_dest: dict[str, list[tuple[Binding, DestinationRate]]] = {}
        for b in bindings:
            for dr in self.tp.destination_rates[b.destination_rates]:
                per_dest.setdefault(dr.destination, []).append((b, dr))
        weights = {d: max(b.weight for b, _ in pairs) for d, pairs in per_dest.items() if d != ANY}
        zones = self.zones_of(rp, weights)
        set_id = _ident(rp if not multi else f"{rp}/{kind}")
        rules: list[_Rule] = []
        dests = [d for d in per_dest if d != ANY] + ([ANY] if ANY in per_dest else [])
        for dest in dests:
            dest_zones = zones.get(dest, [])
            if not dest_zones:
                continue
            if kind is UsageKind.DATA and dest != ANY:
                self.note("DestinationRates.csv", per_dest[dest][0][1].line, "DestinationId", f"{rp}: data usage has "
                          f"no destination, so the rates for {dest} are not imported (only *any)", "unsupported_data_dest")
                continue
            drs = {id(b): dr for b, dr in per_dest[dest]}
            winners = self.bindings_in_force([b for b, _ in per_dest[dest]])
            by_binding: dict[int, list[str | None]] = {}
            for band, b in winners.items():
                by_binding.setdefault(id(b), []).append(band)
            timings_per_dr: dict[str, set[str]] = {}
            for b, _ in per_dest[dest]:
                timings_per_dr.setdefault(b.destination_rates, set()).add(b.timing)
            for b, _ in per_dest[dest]:
                if id(b) not in by_binding:
                    continue
                dr = drs[id(b)]
                rate_key = self.rate_for(dr, kind)
                if rate_key is None:
                    continue
                bands = [x for x in by_binding.pop(id(b)) if x is not None]
                for band in bands:
                    self.band_winners.setdefault(band, set()).add(b.timing)
                rule_id = f"{set_id}/{dr.id}"
                if len(self.tp.destination_rates[dr.id]) > 1:
                    rule_id += f"/{dest}"
                if len(timings_per_dr[dr.id]) > 1:
                    rule_id += f"@{b.timing}"
                all_zones = set(dest_zones) == set(self.zone_prefixes) | {self.fallback_zone}
                rules.append(_Rule(_ident(rule_id), kind, None if all_zones or kind is UsageKind.DATA else dest_zones,
                                   bands if bands and len(bands) < len(self.band_sets) else None, rate_key))
        if not rules:
            self.note("RatingPlans.csv", bindings[0].line, "Id", f"rating plan {rp} has no rate that can be imported "
                      f"for {kind}", "empty_plan")
        elif kind in _INCOMING:
            # CGRateS charges the account it rates, the caller's; the called party pays nothing for the call
            taken = {r.id for r in rules}
            incoming_id = _ident(f"{set_id}/incoming")
            while incoming_id in taken:
                incoming_id += "_"
            rules.insert(0, _Rule(incoming_id, kind, None, None, None, directions="in", name=_INCOMING[kind]))
            self.incoming.append(incoming_id)
        self.rule_sets[(rp, kind)] = (set_id, rules)

    # ---- plans and subjects
    def plans_and_subjects(self, profiles: list[Profile], plan_kinds: Mapping[str, list[UsageKind]],
                           ) -> tuple[dict[str, list[str]], list[tuple[str, str, list[UsageKind], datetime]]]:
        """The catalog's plans and ``[[subjects]]`` entries, for every time the profiles say, not only today.

        A subject's plan is its rating plan's rule sets, then those of its fallback subjects' plans, then those of
        the ``*any`` subject's plans, each as in force at the time priced. So each profile becomes one dated entry
        per stretch of time in which its fallback subjects and ``*any`` keep the same plans for its usage kind: a
        ``*any`` profile that becomes active next year is followed from then on. (Rule sets of other kinds never
        price the entry's usage; they are taken as on the day of the import.) The plan in force on the day of the
        import keeps the rating plan's id; one in force at other times has ``/from-DATE`` appended (its first day).
        """
        def sets_of(rp: str, kinds: Iterable[UsageKind]) -> list[str]:
            return [self.rule_sets[(rp, k)][0] for k in kinds if self.rule_sets.get((rp, k), ("", []))[1]]

        history: dict[tuple[str, str], list[Profile]] = {}
        for p in profiles:
            history.setdefault((p.subject, p.category), []).append(p)

        def in_force(subject: str, category: str, at: datetime) -> Profile | None:
            live = [p for p in history.get((subject, category), []) if p.activation <= at]
            return max(live, key=lambda p: p.activation, default=None)

        any_categories = list(dict.fromkeys(p.category for p in profiles if p.subject == ANY))
        for p in profiles:
            if p.subject == ANY and p.fallback_subjects:
                self.note("RatingProfiles.csv", p.line, "FallbackSubjects", "fallback subjects of '*any' are not "
                          "followed", "unsupported_fallback")
        missing: set[tuple[int, str]] = set()

        def composed(rp: str, p: Profile | None, at: datetime) -> list[str]:
            """Rule sets of ``rp`` for profile ``p`` (None: the plan alone) at ``at``: its own, its fallback
            subjects', then ``*any``'s (for kinds other than ``p``'s, today's)."""
            own = sets_of(rp, plan_kinds[rp])
            kind = None
            if p is not None:
                kind = self.kinds[p.category]
                for fs in p.fallback_subjects:
                    fp = in_force(fs, p.category, at)
                    if fp is not None:
                        own += sets_of(fp.plan, [kind])
                    elif (p.line, fs) not in missing:
                        missing.add((p.line, fs))
                        self.note("RatingProfiles.csv", p.line, "FallbackSubjects", f"fallback subject {fs!r} has no "
                                  f"{p.category} profile in force on {at.isoformat()}", "unknown_reference")
            for category in any_categories:
                ap = in_force(ANY, category, at if self.kinds[category] == kind else self.now)
                if ap is not None:
                    own += sets_of(ap.plan, [self.kinds[category]])
            return list(dict.fromkeys(own))

        # (base id, rule sets) → first instant used, and whether in force on the day of the import
        wanted: dict[tuple[str, tuple[str, ...]], tuple[datetime | None, bool]] = {}
        uses: list[tuple[str, str, tuple[str, ...], UsageKind, datetime]] = []

        def want(base: str, sets: list[str], at: datetime | None, now: bool) -> tuple[str, ...] | None:
            if not sets:
                return None
            key = (base, tuple(sets))
            first, was_now = wanted.get(key, (at, now))
            wanted[key] = (first if first is None or (at is not None and first <= at) else at, was_now or now)
            return key[1]

        for rp in plan_kinds:
            want(_ident(rp), composed(rp, None, self.now), None, True)
        for p in profiles:
            if p.plan not in plan_kinds:
                continue
            kind = self.kinds[p.category]
            changes = [q.activation for q in profiles if q.subject == ANY and self.kinds[q.category] == kind]
            later = [q.activation for q in history[(p.subject, p.category)] if q.activation > p.activation]
            until = min(later, default=None)
            moments = changes + [q.activation for fs in p.fallback_subjects for q in history.get((fs, p.category), [])]
            starts = [p.activation, *sorted({t for t in moments if t > p.activation and (until is None or t < until)})]
            base = _ident(p.plan if not p.fallback_subjects else f"{p.plan}+fallback:{'+'.join(p.fallback_subjects)}")
            previous: tuple[str, ...] | None = None
            for i, at in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else until
                sets = want(base, composed(p.plan, p, at), at, at <= self.now and (end is None or self.now < end))
                if sets is not None and sets != previous:
                    uses.append((p.subject, base, sets, kind, at))
                previous = sets

        plans: dict[str, list[str]] = {}
        ids: dict[tuple[str, tuple[str, ...]], str] = {}
        by_base: dict[str, list[tuple[tuple[str, ...], datetime | None, bool]]] = {}
        for (base, sets), (first, now) in wanted.items():
            by_base.setdefault(base, []).append((sets, first, now))
        for base, versions in by_base.items():
            # the version in force today keeps the plain id, else the earliest; the others are dated
            versions.sort(key=lambda v: (not v[2], v[1] is not None, v[1] or self.now))
            for n, (sets, first, _) in enumerate(versions):
                plan_id = base
                if n:
                    stamp = (first or self.now).astimezone(UTC)
                    plan_id = f"{base}/from-{stamp:%Y-%m-%d}"
                    if plan_id in plans:
                        plan_id = f"{base}/from-{stamp:%Y-%m-%dT%H:%M:%SZ}"
                    while plan_id in plans:
                        plan_id += "+"
                plans[plan_id] = list(sets)
                ids[(base, sets)] = plan_id
        subjects: list[tuple[str, str, list[UsageKind], datetime]] = []
        for subject, base, sets, kind, at in uses:
            plan_id = ids[(base, sets)]
            same = next((s for s in subjects if s[0] == subject and s[1] == plan_id and s[3] == at), None)
            if same is not None:
                if kind not in same[2]:
                    same[2].append(kind)
            else:
                subjects.append((subject, plan_id, [kind], at))
        return plans, subjects

    # ---- TOML
    def emit(self, tenant: str, plans: Mapping[str, list[str]],
             subjects: list[tuple[str, str, list[UsageKind], datetime]]) -> str:
        self.name_rates()
        rate_ids = {"|".join(map(str, k)): r.id for k, r in self.rates.items()}
        minor = MINOR_UNITS.get(self.currency, 2)
        finest = max([r.decimals for r in self.rates.values()] + [minor])
        out = [f"# Imported from the CGRateS tariff plan {self.tp.directory} by `fairtel catalog import-cgrates`.",
               "# CGRateS ids are kept: a plan per RatingPlan, a zone per Destination (or set of destinations sharing",
               "# prefixes), a rate per Rates id with its DestinationRates rounding, [[subjects]] from RatingProfiles."]
        if self.incoming:
            # not a note (nothing is lost): how the plan is read, said where the rules are
            out += ["# Incoming calls and SMS are free (the rules RULE_SET/incoming): CGRateS rates an event for the",
                    "# account it charges, its rating subject (usually the caller's account), to its Destination; the",
                    "# called party is not charged."]
        for n in self.notes:
            out.append(f"# note: {Path(n.file).name}" + (f":{n.line}" if n.line else "") + f": {n.message} [{n.code}]")
        out += ["", f"version = {_q('cgrates:' + self.tp.directory.name)}", "", "[operator]",
                f"id = {_q(_ident(tenant))}", f"name = {_name(tenant, tenant)}", f"currency = {_q(self.currency)}",
                f"timezone = {_q(self.timezone)}"]
        if finest > minor:
            out.append(f"amount_decimals = {finest}")
        for zone_id, prefixes in self.zone_prefixes.items():
            dests = ", ".join(sorted(self.zone_chain[zone_id][0]))
            out += ["", "[[zones]]", f"id = {_q(zone_id)}", f"name = {_name('目的地 ' + dests, 'Destination ' + dests)}",
                    f"prefixes = {_q(prefixes)}"]
        out += ["", "[[zones]]", f"id = {_q(self.fallback_zone)}",
                f"name = {_name('其他号码', 'Numbers no destination lists')}", "fallback = true"]
        for band_id, windows in self.band_windows.items():
            zh, en = self.band_name(band_id)
            out += ["", "[[bands]]", f"id = {_q(band_id)}", f"name = {_name(zh, en)}", "windows = ["]
            out += [f"  {{ days = {_q([_DAYS[d] for d in days])}, start = {_q(_clock(s))}, end = {_q(_clock(e))} }},"
                    for days, s, e in windows]
            out.append("]")
        for r in self.rates.values():
            out += ["", "[[rates]]", f"id = {_q(r.id)}", f"unit = {_q(r.unit.value)}", f"rounding = {_q(r.rounding)}",
                    f"rounding_decimals = {r.decimals}"]
            if self.inc_decimals is not None:
                out.append(f"increment_decimals = {self.inc_decimals}")
            if r.max_cost is not None:
                out.append(f"max_cost = {_q(r.max_cost)}")
            out.append("steps = [")
            for i, s in enumerate(r.slots):
                def qty(ns: int, unit: Unit = r.unit) -> str:
                    return format_quantity(ns // NS if unit is Unit.SECOND else ns, unit)
                fee = f"connect_fee = {_q(r.connect_fee)}, " if i == 0 and r.connect_fee else ""
                out.append(f"  {{ group_interval_start = {_q(qty(s.start_ns))}, {fee}rate = {_q(s.rate)}, "
                           f"rate_unit = {_q(qty(s.unit_ns))}, increment = {_q(qty(s.increment_ns))} }},")
            out.append("]")
        for (rp, kind), (set_id, rules) in self.rule_sets.items():
            if not rules:
                continue
            out += ["", "[[rule_sets]]", f"id = {_q(set_id)}", f"name = {_name('资费 ' + rp, 'Rating plan ' + rp)}"]
            for rule in rules:
                out += ["", "[[rule_sets.rules]]", f"id = {_q(rule.id)}", f"kind = {_q(kind.value)}"]
                if rule.name is not None:
                    out.append(f"name = {_name(*rule.name)}")
                if rule.directions is not None:
                    out.append(f"directions = {_q(rule.directions)}")
                if rule.zones is not None:
                    out.append(f"zones = {_q(rule.zones)}")
                if rule.bands is not None:
                    out.append(f"bands = {_q(rule.bands)}")
                out.append("free = true" if rule.rate is None else f"rate = {_q(rate_ids[rule.rate])}")
        for plan_id, sets in plans.items():
            out += ["", "[[plans]]", f"id = {_q(plan_id)}", f"name = {_name('资费 ' + plan_id, 'Rating plan ' + plan_id)}",
                    'monthly_fee = "0.00"', f"rule_sets = {_q(sets)}"]
        for subject, plan_id, kinds, active_from in subjects:
            out += ["", "[[subjects]]", f"subject = {_q(subject)}", f"plan = {_q(plan_id)}",
                    f"kinds = {_q([k.value for k in kinds])}",
                    f"from = {active_from.isoformat().replace('+00:00', 'Z')}"]
        return "\n".join(out) + "\n"
