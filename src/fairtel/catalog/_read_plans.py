"""Reading plans, rule sets, pricing rules and allowances, and checking what they refer to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from fairtel.catalog._eligibility import MAX_AGE, SALES_CHANNELS, Eligibility
from fairtel.catalog._fields import FieldReader, declared
from fairtel.catalog._locate import join
from fairtel.catalog._model import (
    ANY_ROAMING,
    SUSPENSION_REASONS,
    Allowance,
    Match,
    Plan,
    PricingRule,
    RuleSet,
    SuspensionPolicy,
)
from fairtel.catalog._subjects import read_instant
from fairtel.catalog._units import UNIT_OF_KIND, Unit
from fairtel.core.contracts import Direction, UsageKind

T = TypeVar("T")


@dataclass(frozen=True)
class Refs:
    """The ids the rest of the catalog declares, for checking what rules and allowances name."""

    zones: set[str]
    roaming: set[str]
    bands: set[str]
    rates: dict[str, Unit | None]  # None: the rate's unit is itself wrong
    offers: set[str]


def _within(earlier: frozenset[T] | None, later: frozenset[T] | None, every: frozenset[T] | None = None) -> bool:
    """Whether a condition ``earlier`` (``None``: any) accepts every value ``later`` accepts. ``every``: all the
    values the condition can meet (a set listing them all is the same as none)."""
    if earlier is None or (every is not None and earlier >= every):
        return True
    return later is not None and later <= earlier


def covers(earlier: Match, later: Match, refs: Refs) -> bool:
    """Whether every usage ``later`` matches is matched by ``earlier`` too (``Match.matches``), so that a rule with
    ``later`` after one with ``earlier`` in the same list never applies. Bands: a record has one of the catalog's
    bands, so a list of all of them is any band; a voice or SMS record goes out or comes in. Destination zones are
    compared as listed (a number may have no zone, which only "any zone" matches)."""
    if earlier.kind != later.kind:
        return False
    directions = frozenset(Direction) if later.kind is not UsageKind.DATA else None
    if not _within(earlier.directions, later.directions, directions):
        return False
    if not _within(earlier.zones, later.zones):
        return False
    if not _within(earlier.bands, later.bands, frozenset(refs.bands)):
        return False
    # roaming: None is at home only; a set is those roaming zones ("*": any)
    if later.roaming_zones is None or earlier.roaming_zones is None:
        return later.roaming_zones is None and earlier.roaming_zones is None
    return _within(None if ANY_ROAMING in earlier.roaming_zones else earlier.roaming_zones, later.roaming_zones,
                   frozenset(refs.roaming))


class PlanReader(FieldReader):
    """Plans, their allowances and ordered rules, and the rule sets plans share."""

    def rule_list(self, t: dict[str, Any], path: str, refs: Refs,
                  seen: list[tuple[str | None, str]]) -> list[PricingRule]:
        rules: list[PricingRule] = []
        paths: dict[str, str] = {}
        for rraw, rpath in self.array_of_tables(t, "rules", path):
            seen.append((rraw.get("id") if isinstance(rraw.get("id"), str) else None, rpath))
            r = self.rule(rraw, rpath, refs)
            if r is None:
                continue
            shadow = next((e for e in rules if covers(e.match, r.match, refs)), None)
            if shadow is not None:
                first = self.ctx.lines.get(paths[shadow.id]) if shadow.id in paths else None
                what = "matches the same usage" if shadow.match == r.match else "matches every usage it matches"
                self.add(join(rpath, "id"), f"rule {r.id!r} never applies: rule {shadow.id!r} before it"
                         f"{f' (line {first})' if first else ''} {what} and takes it first; narrow the earlier "
                         "rule or put this one before it", "unreachable_rule")
            paths.setdefault(r.id, rpath)
            rules.append(r)
        return rules

    def rule_sets(self, top: dict[str, Any], refs: Refs, seen: list[tuple[str | None, str]]) -> list[RuleSet]:
        out: list[RuleSet] = []
        items = self.array_of_tables(top, "rule_sets", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "rule set")
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "rules"), ("id", "rules"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            rules = self.rule_list(t, path, refs, seen)
            if ident is not None:
                out.append(RuleSet(ident, name, tuple(rules)))
        return out

    def plans(self, top: dict[str, Any], refs: Refs) -> tuple[list[Plan], list[RuleSet]]:
        out: list[Plan] = []
        rule_items: list[tuple[str | None, str]] = []
        allowance_items: list[tuple[str | None, str]] = []
        sets = {rs.id: rs for rs in self.rule_sets(top, refs, rule_items)}
        declared_sets = declared(top, "rule_sets")
        items = self.array_of_tables(top, "plans", "")
        self.unique(((t.get("id") if isinstance(t.get("id"), str) else None, p) for t, p in items), "plan")
        for raw, path in items:
            t = self.table(raw, path, ("id", "name", "monthly_fee", "allowances", "rules", "rule_sets",
                                       "included_offers", "eligibility", "suspension"), ("id", "name", "monthly_fee"))
            if t is None:
                continue
            ident, name = self.ident(t, "id", path), self.name(t, "name", path)
            fee = self.money(t, "monthly_fee", path, exact=True)
            allowances: list[Allowance] = []
            for araw, apath in self.array_of_tables(t, "allowances", path):
                allowance_items.append((araw.get("id") if isinstance(araw.get("id"), str) else None, apath))
                a = self.allowance(araw, apath, refs)
                if a is not None:
                    allowances.append(a)
            rules = self.rule_list(t, path, refs, rule_items)
            used_sets: list[str] = []
            for set_id, p in self.strings(t, "rule_sets", path, single_ok=False) or []:
                if set_id not in declared_sets:
                    self.unknown_ref(p, "rule set", set_id, declared_sets)
                elif set_id in used_sets:
                    self.add(p, f"rule set {set_id!r} is listed twice", "duplicate_id")
                elif set_id in sets:
                    used_sets.append(set_id)
                    rules.extend(sets[set_id].rules)
            if not t.get("rules") and not t.get("rule_sets"):
                self.add(join(path, "rules"), "a plan needs at least one pricing rule (rules or rule_sets)",
                         "missing_key")
            included: list[str] = []
            for offer, p in self.strings(t, "included_offers", path, single_ok=False) or []:
                if offer not in refs.offers:
                    self.unknown_ref(p, "offer", offer, refs.offers)
                else:
                    included.append(offer)
            eligibility = self.eligibility(t["eligibility"], join(path, "eligibility")) if "eligibility" in t else Eligibility()
            suspension = (self.suspension(t["suspension"], join(path, "suspension"), fee) if "suspension" in t
                          else SuspensionPolicy())
            if ident and name and fee is not None and eligibility is not None and suspension is not None:
                out.append(Plan(ident, name, fee, tuple(allowances), tuple(rules), tuple(included), tuple(used_sets),
                                eligibility, suspension))
        self.unique(rule_items, "rule")
        self.unique(allowance_items, "allowance")
        return out, list(sets.values())

    def suspension(self, raw: object, path: str, monthly_fee: object) -> SuspensionPolicy | None:
        """``[plans.suspension]``: what a suspended day is charged (``SuspensionPolicy``); ``None`` if any of it is
        wrong. ``keep_number_fee`` (a month's, exact to the currency's minor unit, not above the plan's monthly fee)
        instead of the plan fee for the days wholly suspended for one of ``applies_to`` (default ``["requested"]``)."""
        t = self.table(raw, path, ("keep_number_fee", "applies_to"), ("keep_number_fee",))
        if t is None:
            return None
        fee = self.money(t, "keep_number_fee", path, exact=True)
        ok, reasons = self.members(t, "applies_to", path, {r: r for r in SUSPENSION_REASONS}, "suspension reason")
        if fee is None or not ok:
            return None
        if isinstance(monthly_fee, type(fee)) and fee > monthly_fee:
            self.add(join(path, "keep_number_fee"), f"{fee} is above the plan's monthly fee ({monthly_fee}): a suspended "
                     "day would cost more than a day in service", "invalid_value")
            return None
        return SuspensionPolicy(fee, reasons if reasons is not None else SuspensionPolicy().applies_to)

    def eligibility(self, raw: object, path: str) -> Eligibility | None:
        """``[plans.eligibility]``: who may order the plan; ``None`` if any of it is wrong."""
        keys = ("on_sale", "sale_from", "sale_until", "min_age", "max_age", "channels")
        t = self.table(raw, path, keys)
        if t is None:
            return None
        on_sale = self.boolean(t, "on_sale", path, default=True)
        since = read_instant(self, t, "sale_from", path) if "sale_from" in t else None
        until = read_instant(self, t, "sale_until", path) if "sale_until" in t else None
        ok = not any(k in t and v is None for k, v in (("sale_from", since), ("sale_until", until)))
        if since is not None and until is not None and until <= since:
            self.add(join(path, "sale_until"), f"{until.isoformat()} is not after sale_from ({since.isoformat()}): "
                     "the plan would never be on sale", "invalid_value")
            ok = False
        ages: dict[str, int | None] = {}
        for key in ("min_age", "max_age"):
            age = self.integer(t, key, path) if key in t else None
            if age is not None and age > MAX_AGE:
                self.add(join(path, key), f"must be at most {MAX_AGE} (whole years), got {age}", "invalid_value")
                age = None
            ok = ok and (key not in t or age is not None)
            ages[key] = age
        lo, hi = ages["min_age"], ages["max_age"]
        if lo is not None and hi is not None and hi < lo:
            self.add(join(path, "max_age"), f"max_age {hi} is below min_age {lo}: nobody could order the plan",
                     "invalid_value")
            ok = False
        ok_c, channels = self.members(t, "channels", path, {c: c for c in SALES_CHANNELS}, "sales channel")
        if "on_sale" in t and not isinstance(t["on_sale"], bool):
            ok = False
        if not ok or not ok_c:
            return None
        return Eligibility(on_sale, since, until, lo, hi, channels)

    def match(self, t: dict[str, Any], path: str, refs: Refs, kinds: dict[str, UsageKind]) -> Match | None:
        kind = self.choice(t, "kind", path, kinds)
        ok_d, directions = self.members(t, "directions", path, {d.value: d for d in Direction}, "direction")
        ok_z, zones = self.refs(t, "zones", path, refs.zones, "zone")
        ok_r, roaming = self.refs(t, "roaming_zones", path, refs.roaming | {ANY_ROAMING}, "roaming zone")
        ok_b, bands = self.refs(t, "bands", path, refs.bands, "band")
        if kind is UsageKind.DATA:
            for key in ("directions", "zones"):
                if key in t:
                    self.add(join(path, key), f"data usage has no {key[:-1]}: remove {key!r}", "invalid_value")
        if kind is None or not (ok_d and ok_z and ok_r and ok_b):
            return None
        return Match(kind, directions, zones, roaming, bands)

    def rule(self, raw: dict[str, Any], path: str, refs: Refs) -> PricingRule | None:
        t = self.table(raw, path, ("id", "name", "kind", "directions", "zones", "roaming_zones", "bands", "rate", "free",
                                   "daily_cap"), ("id", "kind"))
        if t is None:
            return None
        ident, name = self.ident(t, "id", path), self.name(t, "name", path)
        kinds = {k.value: k for k in UNIT_OF_KIND}
        m = self.match(t, path, refs, kinds)
        rate = self.string(t, "rate", path)
        free = self.boolean(t, "free", path)
        cap = self.money(t, "daily_cap", path, positive=True, exact=True)
        if rate is not None and free:
            self.add(join(path, "free"), "a rule is either free or priced by a rate, not both", "invalid_value")
        elif rate is None and not free and "rate" not in t:
            self.add(join(path, "rate"), "missing key 'rate' (or free = true)", "missing_key")
        if rate is not None and rate not in refs.rates:
            self.unknown_ref(join(path, "rate"), "rate", rate, set(refs.rates),
                             None if m is None else UNIT_OF_KIND[m.kind].value)
            rate = None
        elif rate is not None and m is not None and refs.rates[rate] not in (None, UNIT_OF_KIND[m.kind]):
            self.add(join(path, "rate"), f"rate {rate!r} counts {refs.rates[rate]}s but {m.kind} usage is counted in "
                     f"{UNIT_OF_KIND[m.kind]}s", "unit_mismatch")
            rate = None
        if free and rate is None and cap is not None:
            self.warn(join(path, "daily_cap"), "a free rule charges nothing: its daily_cap has no effect (a rate "
                      "meant instead of free = true?)", "no_effect")
        if ident is None or m is None or (rate is None and not free) or ("daily_cap" in t and cap is None) or (
                "name" in t and name is None):
            return None
        return PricingRule(ident, m, rate, free and rate is None, cap, name)

    def allowance(self, raw: dict[str, Any], path: str, refs: Refs) -> Allowance | None:
        t = self.table(raw, path, ("id", "name", "kind", "quantity", "unlimited", "throttle_after", "throttle_kbps",
                                   "directions", "zones", "roaming_zones", "bands"), ("id", "kind"))
        if t is None:
            return None
        ident, name = self.ident(t, "id", path), self.name(t, "name", path)
        m = self.match(t, path, refs, {k.value: k for k in UNIT_OF_KIND})
        unlimited = self.boolean(t, "unlimited", path)
        quantity = self.quantity(t, "quantity", path, UNIT_OF_KIND[m.kind]) if m is not None else None
        if unlimited and "quantity" in t:
            self.add(join(path, "quantity"), "an unlimited allowance has no quantity", "invalid_value")
        elif not unlimited and "quantity" not in t:
            self.add(join(path, "quantity"), "missing key 'quantity' (or unlimited = true)", "missing_key")
        if quantity == 0:
            self.warn(join(path, "quantity"), f"an allowance of {t['quantity']} includes nothing: usage is charged as "
                      "if the plan had no such allowance (a quantity mistyped?)", "no_effect")
        throttle_after = throttle_kbps = None
        if "throttle_after" in t or "throttle_kbps" in t:
            if (m is not None and m.kind is not UsageKind.DATA) or not unlimited:
                self.add(join(path, "throttle_after" if "throttle_after" in t else "throttle_kbps"),
                         "only an unlimited data allowance can throttle", "invalid_value")
            throttle_after = self.quantity(t, "throttle_after", path, Unit.BYTE, positive=True)
            throttle_kbps = self.integer(t, "throttle_kbps", path, minimum=1)
            if ("throttle_after" in t) != ("throttle_kbps" in t):
                missing = "throttle_kbps" if "throttle_after" in t else "throttle_after"
                self.add(join(path, missing), f"missing key {missing!r} (throttling needs both)", "missing_key")
        if ident is None or m is None or (quantity is None and not unlimited) or ("name" in t and name is None):
            return None
        return Allowance(ident, m, None if unlimited else quantity, throttle_after, throttle_kbps, name)
