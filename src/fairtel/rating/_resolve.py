"""From usage columns to the rule and allowances that apply, resolved once per distinct situation.

A line's situation is (plan, kind, direction, destination zone, roaming zone, band). A period holds millions of
lines but only a few thousand situations, so each situation is packed into one integer key, the distinct keys
are resolved with the catalog's own ``Plan.rule_for`` / ``Plan.allowances_for`` (the same first-match
semantics everywhere), and the answers (rule, rate steps as integers, allowances) are joined back by key.

The destination zone is one of the catalog's zones, none (no prefix matched and the catalog has no fallback
zone), or "not a number" (``Dimensions.no_number``: a peer such as ``&`` or ``client2``, with no digits to
match). A call to no number is priced only where the destination does not matter: when its rule and
allowances are the same as for every zone and for none; otherwise it has no rule (``Dimensions.situation``),
and rating leaves it unrated as ``peer_not_a_number`` rather than pricing it in the fallback zone.

The roaming zone is one of the catalog's roaming zones or none (at home: no roaming country, or the operator's
own). Usage abroad that no roaming zone prices (``Dimensions.no_roaming_zone``) never gets a situation: rating
leaves it unrated as ``no_roaming_zone`` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from fairtel.catalog import Allowance, Catalog, Plan, PricingRule
from fairtel.catalog._bands import DAY, WEEK, first_offset_change, skipped_at
from fairtel.core.money import minor_units
from fairtel.rating._steps import CompiledRate, compile_rate

KINDS = ("voice", "sms", "data")
DIRECTIONS = ("out", "in")
NO_RULE = -1
EPOCH = datetime(1970, 1, 1)  # naive: local wall times are counted from it


@dataclass(frozen=True)
class Dimensions:
    """The catalog's closed sets, as Polars enums: a value's physical code is its index."""

    catalog: Catalog
    plans: tuple[str, ...]
    zones: tuple[str, ...]
    roaming: tuple[str, ...]
    bands: tuple[str, ...]
    rates: dict[str, CompiledRate]
    allowances: tuple[str, ...]  # every allowance id of the catalog; slots hold indices into it

    @classmethod
    def of(cls, catalog: Catalog) -> Dimensions:
        currency = catalog.operator.currency
        minor_units(currency)
        return cls(
            catalog,
            tuple(p.id for p in catalog.plans),
            tuple(z.id for z in catalog.zones),
            tuple(z.id for z in catalog.roaming_zones),
            tuple(b.id for b in catalog.bands),
            {r.id: compile_rate(r, currency) for r in catalog.rates},
            tuple(a.id for p in catalog.plans for a in p.allowances),
        )

    # sizes of each dimension including its "none" code (and, for zones, the "not a number" code after it)
    @property
    def sizes(self) -> tuple[int, int, int, int, int, int]:
        return (len(self.plans), len(KINDS), len(DIRECTIONS) + 1, len(self.zones) + 2, len(self.roaming) + 1, len(self.bands))

    @property
    def no_number(self) -> int:
        """The zone code of a destination that is not a number (``Catalog.is_number``); ``len(zones)`` is none."""
        return len(self.zones) + 1

    @property
    def no_roaming_zone(self) -> int:
        """The roaming code of usage abroad that no roaming zone prices (``Catalog.roaming_zone_of``); never part of
        a packed situation: rating leaves such usage unrated first. ``len(roaming)`` is at home."""
        return len(self.roaming) + 1

    def zone_code(self, key: int) -> int:
        """The destination zone code of a packed situation."""
        _, _, _, nz, nr, nb = self.sizes
        return key // (nb * nr) % nz

    def key_expr(self) -> pl.Expr:
        """The packed situation of each line from the code columns ``_p _k _d _z _r _b``."""
        _, nk, nd, nz, nr, nb = self.sizes
        key = pl.col("_p").cast(pl.Int64)
        for col, size in (("_k", nk), ("_d", nd), ("_z", nz), ("_r", nr), ("_b", nb)):
            key = key * size + pl.col(col).cast(pl.Int64)
        return key.alias("_key")

    def codes_expr(self, key: str) -> list[pl.Expr]:
        """The code columns ``_p _k _dir _z _r _b`` of a packed situation column (``key_expr`` undone)."""
        _, nk, nd, nz, nr, nb = self.sizes
        out = []
        rest = pl.col(key)
        for col, size in (("_b", nb), ("_r", nr), ("_z", nz), ("_dir", nd), ("_k", nk)):
            out.append((rest % size).alias(col))
            rest = rest // size
        out.append(rest.alias("_p"))
        return out

    def decode(self, key: int) -> tuple[Plan, str, str | None, str | None, str | None, str]:
        _, nk, nd, nz, nr, nb = self.sizes
        key, b = divmod(key, nb)
        key, r = divmod(key, nr)
        key, z = divmod(key, nz)
        key, d = divmod(key, nd)
        p, k = divmod(key, nk)
        return (
            self.catalog.plan(self.plans[p]),
            KINDS[k],
            DIRECTIONS[d] if d < len(DIRECTIONS) else None,
            self.zones[z] if z < len(self.zones) else None,
            self.roaming[r] if r < len(self.roaming) else None,
            self.bands[b],
        )

    def situation(self, key: int) -> tuple[PricingRule | None, tuple[Allowance, ...]]:
        """The rule (None: no rule) and the allowances of a packed situation. A call to no number has those of
        no zone when every zone has the very same ones (the destination does not matter: an incoming call, a
        flat SMS rule, roaming); otherwise none, rather than the fallback zone's price."""
        plan, kind, direction, zone, roam, band = self.decode(key)
        rule = plan.rule_for(kind, direction, zone, roam, band)
        allowances = plan.allowances_for(kind, direction, zone, roam, band)
        if self.zone_code(key) == self.no_number:
            same = (id(rule), tuple(a.id for a in allowances))
            for z in self.zones:
                if (id(plan.rule_for(kind, direction, z, roam, band)),
                        tuple(a.id for a in plan.allowances_for(kind, direction, z, roam, band))) != same:
                    return None, ()
        return rule, allowances

    def with_band(self, key: int, band: int) -> int:
        nb = self.sizes[5]
        return key - key % nb + band

    def band_sensitive(self, key: int) -> bool:
        """Whether the rule or the allowances of this situation change with the time band."""
        seen = set()
        for b in range(len(self.bands)):
            rule, allowances = self.situation(self.with_band(key, b))
            seen.add((id(rule), tuple(a.id for a in allowances)))
        return len(seen) > 1


def _rule_row(dims: Dimensions, key: int, slots: int, steps: int) -> dict[str, Any]:
    rule, allowances = dims.situation(key)
    row: dict[str, Any] = {
        "_key": key,
        "rule_id": None if rule is None else rule.id,
        "rate_id": None,
        "_free": rule is not None and (rule.free or rule.rate is None),
        "_cap": None,
        "_den": 1, "_cf": 0, "_rf": 1, "_mf": 1, "_rmode": 0, "_maxc": None, "_maxu": None,
    }
    if rule is not None and rule.daily_cap is not None:
        row["_cap"] = int(rule.daily_cap.scaleb(minor_units(dims.catalog.operator.currency)))
    compiled = dims.rates.get(rule.rate) if rule is not None and rule.rate is not None and not rule.free else None
    if compiled is not None:
        row.update({
            "rate_id": compiled.rate_id, "_den": compiled.den, "_cf": compiled.connect_fee, "_rf": compiled.round_factor,
            "_mf": compiled.minor_factor, "_rmode": compiled.rounding, "_maxc": compiled.max_cost_minor,
            "_maxu": compiled.max_units,
        })
    for s in range(steps):
        step = compiled.steps[s] if compiled is not None and s < len(compiled.steps) else None
        # an absent step starts beyond any quantity, so it bills nothing
        row[f"_st{s}"] = (2**62) if step is None else step.start
        row[f"_en{s}"] = None if step is None else step.end
        row[f"_inc{s}"] = 1 if step is None else step.increment
        row[f"_num{s}"] = 0 if step is None else step.numerator
    for j in range(slots):
        a = allowances[j] if j < len(allowances) else None
        row[f"_a{j}"] = None if a is None else dims.allowances.index(a.id)
        row[f"_aq{j}"] = None if a is None else a.quantity
        row[f"_at{j}"] = None if a is None else a.throttle_after
    return row


def key_table(dims: Dimensions, keys: list[int]) -> tuple[pl.DataFrame, int, int]:
    """One row per situation: rule, integer rate steps and allowance slots. Returns (table, slots, steps)."""
    slots = 0
    steps = 1
    for key in keys:
        rule, allowances = dims.situation(key)
        slots = max(slots, len(allowances))
        if rule is not None and rule.rate is not None and not rule.free:
            steps = max(steps, len(dims.rates[rule.rate].steps))
    rows = [_rule_row(dims, k, slots, steps) for k in keys]
    schema: dict[str, pl.DataType] = {
        "_key": pl.Int64(), "rule_id": pl.String(), "rate_id": pl.String(), "_free": pl.Boolean(),
        "_cap": pl.Int64(), "_den": pl.Int64(), "_cf": pl.Int64(), "_rf": pl.Int64(), "_mf": pl.Int64(),
        "_rmode": pl.Int8(), "_maxc": pl.Int64(), "_maxu": pl.Int64(),
    }
    for s in range(steps):
        schema |= {f"_st{s}": pl.Int64(), f"_en{s}": pl.Int64(), f"_inc{s}": pl.Int64(), f"_num{s}": pl.Int64()}
    for j in range(slots):
        schema |= {f"_a{j}": pl.Int32(), f"_aq{j}": pl.Int64(), f"_at{j}": pl.Int64()}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema), slots, steps


def band_change_table(catalog: Catalog) -> tuple[list[int], list[int]]:
    """Week table starts and, for each entry, the second of the week (possibly in the next week) where the band
    next changes; a catalog with one band never changes (a point far in the future)."""
    entries = catalog.band_boundaries()
    starts = [s for s, _ in entries]
    ids = [b for _, b in entries]
    n = len(entries)
    changes = []
    for i in range(n):
        nxt = None
        for step in range(1, n + 1):
            j = i + step
            if ids[j % n] != ids[i]:
                nxt = starts[j % n] + WEEK * (j // n)
                break
        changes.append(nxt if nxt is not None else 2**40)
    return starts, changes


def utc_offset_seconds(instant: pl.Expr, tz: str) -> pl.Expr:
    """The UTC offset, in seconds, of the zone ``tz`` at each instant of a time-zone-aware column."""
    local = instant.dt.convert_time_zone(tz)
    return (local.dt.base_utc_offset() + local.dt.dst_offset()).dt.total_seconds()


def offset_spread(tz: str, first: datetime, last: datetime) -> int:
    """How far apart (seconds) the zone's UTC offsets are from ``first`` to a week and a day after ``last``: how
    much a local wall-clock interval ending within a week can differ from the time that really elapses."""
    offsets = _hourly_offsets(tz, first, last)[1]
    return int(offsets.max() - offsets.min())  # type: ignore[operator,arg-type]


def _hourly_offsets(tz: str, first: datetime, last: datetime) -> tuple[pl.Series, pl.Series]:
    """Every hour (UTC) from a day before ``first`` to a week and a day after ``last``, and the zone's UTC offset
    (seconds) at each."""
    hours = pl.datetime_range(first - timedelta(days=1), last + timedelta(days=8), "1h", time_zone="UTC", eager=True)
    return hours, pl.select(utc_offset_seconds(pl.lit(hours), tz)).to_series()


def band_jumps(catalog: Catalog, first: datetime, last: datetime) -> list[int]:
    """The instants (epoch seconds, ascending) from a day before ``first`` to a week and a day after ``last`` where
    the catalog's clock jumps, back or forward, across a band change: a band starts among the wall times it
    repeats or skips there, or where they end.

    ``Catalog.band_at`` reads the band as the clock shows it, so at such a jump the band is read again from the
    wall time the clock shows then. Going back, a band changing at 01:30 is left when the clock goes from 02:00
    summer time to 01:00 and entered again at 01:30 winter time, which no wall-clock distance to the next change
    can see; going forward over a whole band (01:10-01:40 on a clock that skips 01:00-02:00), the band may be the
    same on both sides. Where the wall times repeated or skipped all read one band, the wall-clock distance, read
    with the offset in force at the change (or at the jump over a skipped change), is exact. A zone that keeps one
    offset has none: one conversion of an hourly grid, as ``offset_spread``."""
    starts, _ = band_change_table(catalog)
    if len(starts) < 2:
        return []
    tz = catalog.operator.timezone
    hours, offsets = _hourly_offsets(tz, first, last)
    moved = (offsets.diff() != 0).arg_true().to_list()
    if not moved:
        return []
    zone = ZoneInfo(tz)
    epochs = hours.dt.epoch("s")
    ahead = [s + k * WEEK for k in (0, 1) for s in starts]
    out = []
    for i in moved:
        at = first_offset_change(zone, int(epochs[i - 1]), int(epochs[i]))
        low, high = sorted((int(offsets[i - 1]), int(offsets[i])))
        wall = (at + low + 3 * DAY) % WEEK  # the second of the week the earlier of the two wall times shows
        # a band starts among the wall times repeated or skipped, or where they end (a band skipped whole starts at
        # the jump's first wall time)
        if any(wall <= s <= wall + high - low for s in ahead):
            out.append(at)
    return out


def seconds_to_band_change(catalog: Catalog, started_at: pl.Expr, *, jumps: Sequence[int] = ()) -> pl.Expr:
    """Whole seconds that really elapse from each instant (its whole second) to the next band change.

    Bands change at a local wall-clock time; across a daylight-saving change the wall-clock interval is an hour
    longer or shorter than the time elapsed, so the change is read back as an instant: the wall time less the
    offset in force at the start, or, when the zone's offset changed in between, less the offset in force then.
    A change whose wall time does not exist (skipped by the clocks) happens when the clocks jump over it, the
    first instant whose wall time is at or after it: where ``Catalog.band_at`` gives the new band, and where
    ``Catalog.band_segments`` cuts. Where the clocks jump over a band change (``jumps``, from ``band_jumps`` over
    the instants read; going back, or forward over a whole band) the band is read again from the wall time they
    show then, as ``Catalog.band_at`` reads it: the band changes at the jump when that wall time is in another
    band, otherwise at the next change from there."""
    starts, changes = band_change_table(catalog)
    tz = catalog.operator.timezone
    local = started_at.dt.convert_time_zone(tz)
    wall = local.dt.replace_time_zone(None).dt.epoch("s")
    idx, wall_left = _week_entry(starts, changes, wall)
    if len(starts) < 2:  # one band: it never changes
        return wall_left
    t0 = started_at.dt.epoch("s")
    end = _change_instant(tz, t0, utc_offset_seconds(started_at, tz), wall, wall_left)
    if not jumps:
        return end - t0
    # the first jump after the start (null past the last one); a skipped change puts ``end`` at the jump itself
    table = pl.lit(pl.Series(sorted(jumps), dtype=pl.Int64))
    nxt = table.search_sorted(t0, side="right").cast(pl.Int64)
    jump = pl.when(nxt < len(jumps)).then(table.gather(nxt.clip(upper_bound=len(jumps) - 1)))
    after = _offset_at(jump, tz)
    jump_idx, jump_left = _week_entry(starts, changes, jump + after)
    codes = pl.lit(pl.Series(_band_codes(catalog), dtype=pl.Int64))
    from_jump = _change_instant(tz, jump, after, jump + after, jump_left)
    there = pl.when(codes.gather(jump_idx) != codes.gather(idx)).then(jump).otherwise(from_jump)
    return pl.when(jump <= end).then(there).otherwise(end) - t0  # a null ``jump``: none ahead


def _band_codes(catalog: Catalog) -> list[int]:
    """Each band week table entry's band as a number (equal numbers, equal bands)."""
    ids = [b for _, b in catalog.band_boundaries()]
    return [ids.index(b) for b in ids]


def _week_entry(starts: list[int], changes: list[int], wall: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """For local wall times (seconds since 1970-01-01 00:00 on the local clock): the band week table entry they
    fall in and the wall-clock seconds to the next band change."""
    sow = (wall + 3 * DAY) % WEEK  # 1970-01-01 was a Thursday
    idx = pl.lit(pl.Series(starts, dtype=pl.Int64)).search_sorted(sow, side="right").cast(pl.Int64) - 1
    return idx, pl.lit(pl.Series(changes, dtype=pl.Int64)).gather(idx) - sow


def _offset_at(epoch: pl.Expr, tz: str) -> pl.Expr:
    return utc_offset_seconds(pl.from_epoch(epoch, time_unit="s").dt.replace_time_zone("UTC"), tz)


def _change_instant(tz: str, t0: pl.Expr, at_start: pl.Expr, wall: pl.Expr, wall_left: pl.Expr) -> pl.Expr:
    """The instant (epoch seconds) of the band change ``wall_left`` wall-clock seconds after the instant ``t0``,
    whose offset is ``at_start`` and whose wall time is ``wall`` (seconds on the local clock), when no jump of
    ``band_jumps`` comes in between."""
    first = t0 + wall_left  # the change's wall time read with the start's offset
    there = _offset_at(first, tz)
    second = first + at_start - there  # read with the offset in force there
    end = pl.when(there == at_start).then(first).when(_offset_at(second, tz) == there).then(second).otherwise(first)
    # the change's wall time as seconds since 1970-01-01 00:00 on the local clock: few distinct values (one per
    # band change), so the skipped ones are found once each
    skip = (wall + wall_left).map_batches(_skips(tz), return_dtype=pl.Int64, is_elementwise=True)
    return pl.coalesce(skip, end)


def _skips(tz: str) -> Callable[[pl.Series], pl.Series]:
    """Local wall times (seconds since 1970-01-01 00:00 on the clock of ``tz``) → the instant (epoch seconds) the
    clocks jump over each one they skip, null for those that exist (``skipped_at``)."""
    zone = ZoneInfo(tz)

    def skips(walls: pl.Series) -> pl.Series:
        found = {}
        for w in walls.drop_nulls().unique().to_list():
            instant = skipped_at(EPOCH + timedelta(seconds=w), zone)
            if instant is not None:
                found[w] = int(instant.timestamp())
        if not found:
            return pl.Series(walls.name, [None] * len(walls), dtype=pl.Int64)
        return walls.replace_strict(found, default=None, return_dtype=pl.Int64)

    return skips
