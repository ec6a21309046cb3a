"""Best-plan advice: each subscriber's actual months priced under every plan by the rating engine itself.

For each month and each candidate plan, the month's usage of every subscriber is rated with
``fairtel.rating.rate`` as if the subscriber had been on that plan (the subscriber's plan_id is replaced),
and the plan's monthly fee is added for each month the subscriber used the service. The recommended plan is
the one that would have cost least over those months; a plan that cannot price some of the subscriber's
usage (a record left unrated) is not offered to that subscriber. Value-added charges are left out: they
cost the offer's price whatever the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import polars as pl

from fairtel.catalog import Catalog
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period
from fairtel.rating import rate

PRICED_KINDS = ("voice", "sms", "data")

COST_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "period": pl.String(),
    "plan_id": pl.String(),
    "fee_minor": pl.Int64(),
    "usage_minor": pl.Int64(),
    "total_minor": pl.Int64(),
    "unrated": pl.Int64(),  # records this plan could not price
}

ADVICE_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "current_plan": pl.String(),
    "current_minor": pl.Int64(),
    "best_plan": pl.String(),
    "best_minor": pl.Int64(),
    "saving_minor": pl.Int64(),
    "months": pl.Int64(),
    "first_period": pl.String(),
    "last_period": pl.String(),
    "currency": pl.String(),
    "switch": pl.Boolean(),
}


class Progress(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...


@dataclass(frozen=True)
class AdviceResult:
    """``costs``: COST_COLUMNS, one row per subscriber, month and plan; ``advice``: ADVICE_COLUMNS, one row
    per subscriber (``switch`` when another plan would have cost less than the current one)."""

    costs: pl.DataFrame
    advice: pl.DataFrame
    periods: tuple[str, ...]
    plans: tuple[str, ...]
    currency: str

    def savers(self) -> pl.DataFrame:
        return self.advice.filter(pl.col("switch")).sort("saving_minor", "msisdn", descending=[True, False])

    def summary(self) -> dict[str, Any]:
        savers = self.savers()
        total = int(savers["saving_minor"].sum() or 0)
        by_move = (
            savers.group_by("current_plan", "best_plan").agg(pl.len().alias("subscribers"), pl.col("saving_minor").sum())
            .sort("current_plan", "best_plan")
        )
        return {
            "subscribers": self.advice.height,
            "periods": list(self.periods),
            "plans": list(self.plans),
            "currency": self.currency,
            "would_save": savers.height,
            "total_saving": str(Money.from_minor(total, self.currency).amount),
            "total_saving_minor": total,
            "moves": [
                {"from": r["current_plan"], "to": r["best_plan"], "subscribers": r["subscribers"],
                 "saving": str(Money.from_minor(int(r["saving_minor"]), self.currency).amount)}
                for r in by_move.iter_rows(named=True)
            ],
        }


def _fee_minor(catalog: Catalog) -> dict[str, int]:
    cur = catalog.operator.currency
    return {p.id: Money.of(p.monthly_fee, cur).to_minor() for p in catalog.plans}


def _period(p: Period | str, catalog: Catalog) -> Period:
    tz = catalog.operator.timezone
    return Period.parse(p, tz) if isinstance(p, str) else Period(p.year, p.month, tz)


def price_months(
    usage_by_period: Mapping[str, pl.DataFrame],
    catalog: Catalog,
    msisdns: Iterable[str],
    *,
    plans: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """COST_COLUMNS: what each subscriber's usage of each month would have cost under each plan.

    A subscriber-month counts when the subscriber has usage in it; its fee is the plan's monthly fee.
    """
    fees = _fee_minor(catalog)
    candidates = tuple(plans) if plans is not None else tuple(p.id for p in catalog.plans)
    unknown = [p for p in candidates if p not in fees]
    if unknown:
        raise InvalidInputError([Problem("plans", None, "plan_id", f"not in the catalog: {p}") for p in unknown], what="plans")
    wanted = pl.Series("msisdn", sorted(set(msisdns)), dtype=pl.String)
    frames: list[pl.DataFrame] = []
    total = len(usage_by_period) * len(candidates)
    for key, usage in sorted(usage_by_period.items()):
        period = _period(key, catalog)
        month = usage.filter(pl.col("kind").is_in(PRICED_KINDS) & pl.col("msisdn").is_in(wanted.implode()))
        users = month.select(pl.col("msisdn").unique().sort())
        if users.height == 0:
            continue
        for plan_id in candidates:
            subs = users.with_columns(pl.lit(plan_id).alias("plan_id"))
            result = rate(month, catalog, subs, period=period)
            charged = result.rated.group_by("msisdn").agg(pl.col("amount_minor").sum().alias("usage_minor"))
            missed = result.unrated.group_by("msisdn").agg(pl.len().cast(pl.Int64).alias("unrated"))
            frames.append(
                users.join(charged, on="msisdn", how="left").join(missed, on="msisdn", how="left").select(
                    "msisdn",
                    pl.lit(period.key).alias("period"),
                    pl.lit(plan_id).alias("plan_id"),
                    pl.lit(fees[plan_id], dtype=pl.Int64).alias("fee_minor"),
                    pl.col("usage_minor").fill_null(0).cast(pl.Int64),
                    (pl.col("usage_minor").fill_null(0) + fees[plan_id]).cast(pl.Int64).alias("total_minor"),
                    pl.col("unrated").fill_null(0).cast(pl.Int64),
                )
            )
            if progress:
                progress.step("pricing months under each plan", total=total)
    if not frames:
        return pl.DataFrame(schema=COST_COLUMNS)
    return pl.concat(frames).cast(COST_COLUMNS).sort("msisdn", "period", "plan_id")  # type: ignore[arg-type]


def best_plans(costs: pl.DataFrame, subscribers: pl.DataFrame, *, currency: str, min_saving_minor: int = 1) -> pl.DataFrame:
    """ADVICE_COLUMNS from priced months: per subscriber, the plan that would have cost least over the same
    months (ties go to the current plan, then to the plan id first in order). ``switch`` is set when the
    saving is at least ``min_saving_minor``."""
    current = subscribers.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String).alias("current_plan"))
    per_plan = costs.group_by("msisdn", "plan_id").agg(
        pl.col("total_minor").sum(),
        pl.col("unrated").sum(),
        pl.len().alias("months"),
        pl.col("period").min().alias("first_period"),
        pl.col("period").max().alias("last_period"),
    ).join(current, on="msisdn", how="inner")
    cur = per_plan.filter(pl.col("plan_id") == pl.col("current_plan")).select(
        "msisdn", pl.col("total_minor").alias("current_minor"), pl.col("unrated").alias("_cur_unrated")
    )
    ranked = (
        per_plan.filter(pl.col("unrated") == 0)
        .with_columns((pl.col("plan_id") != pl.col("current_plan")).alias("_other"))
        .sort("msisdn", "total_minor", "_other", "plan_id")
        .group_by("msisdn", maintain_order=True)
        .first()
    )
    out = ranked.join(cur, on="msisdn", how="left").select(
        "msisdn",
        "current_plan",
        "current_minor",
        pl.col("plan_id").alias("best_plan"),
        pl.col("total_minor").alias("best_minor"),
        (pl.col("current_minor") - pl.col("total_minor")).alias("saving_minor"),
        pl.col("months").cast(pl.Int64),
        "first_period",
        "last_period",
        pl.lit(currency).alias("currency"),
        ((pl.col("current_minor") - pl.col("total_minor")) >= max(1, min_saving_minor)).fill_null(False).alias("switch"),
    )
    return out.cast(ADVICE_COLUMNS).sort("msisdn")  # type: ignore[arg-type]


def split_by_period(usage: pl.DataFrame, catalog: Catalog, periods: Sequence[str] | None = None) -> dict[str, pl.DataFrame]:
    """Usage grouped by billing month on the catalog's clock (only ``periods`` when given)."""
    tz = catalog.operator.timezone
    keyed = usage.with_columns(pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("_period"))
    out: dict[str, pl.DataFrame] = {}
    for (key,), part in keyed.partition_by("_period", as_dict=True, maintain_order=True).items():
        if periods is None or key in periods:
            out[str(key)] = part.drop("_period")
    return out


def last_periods(usage: pl.DataFrame, catalog: Catalog, months: int, *, until: str | None = None) -> list[str]:
    """The ``months`` billing months ending with ``until`` (default: the latest month with usage)."""
    if usage.height == 0:
        return []
    tz = catalog.operator.timezone
    end = _period(until, catalog) if until else Period.containing(usage["started_at"].max(), tz)  # type: ignore[arg-type]
    keys = [end.key]
    p = end
    for _ in range(max(1, months) - 1):
        p = p.previous()
        keys.append(p.key)
    return sorted(keys)


def advise(
    usage: pl.DataFrame,
    catalog: Catalog,
    subscribers: pl.DataFrame,
    *,
    months: int | None = 3,
    until: str | None = None,
    plans: Sequence[str] | None = None,
    min_saving_minor: int = 1,
    progress: Progress | None = None,
) -> AdviceResult:
    """Best plan for every subscriber over their last ``months`` billing months (all months when None).

    ``usage``: clean usage (CLEAN_USAGE_SCHEMA columns); ``subscribers``: msisdn and plan_id (the current
    plan). Subscribers whose current plan is not in the catalog are left out.
    """
    known = {p.id for p in catalog.plans}
    subs = subscribers.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String)).filter(
        pl.col("plan_id").is_in(sorted(known))
    )
    if plans is not None:  # the current plans are always priced, to know what each subscriber paid
        plans = [*plans, *(p for p in sorted(set(subs["plan_id"].to_list())) if p not in plans)]
    periods = None if months is None else last_periods(usage, catalog, months, until=until)
    by_period = split_by_period(usage, catalog, periods)
    costs = price_months(by_period, catalog, subs["msisdn"].to_list(), plans=plans, progress=progress)
    currency = catalog.operator.currency
    advice = best_plans(costs, subs, currency=currency, min_saving_minor=min_saving_minor)
    return AdviceResult(
        costs=costs,
        advice=advice,
        periods=tuple(sorted(by_period)),
        plans=tuple(plans) if plans is not None else tuple(p.id for p in catalog.plans),
        currency=currency,
    )


def _amount(minor: int, currency: str) -> str:
    d = Decimal(minor).scaleb(-minor_units(currency))
    return f"{d:,.{minor_units(currency)}f} {currency}"


def notice_text(row: Mapping[str, Any], catalog: Catalog, language: str = "en") -> str:
    """A best-tariff notice for one advice row (ADVICE_COLUMNS), in ``zh`` or ``en``.

    Modelled on the UK regulator's best-tariff notices: what the subscriber paid, on which plan and over which
    months, and what the cheapest plan would have cost for the same usage.
    """
    cur = str(row["currency"])
    names = {p.id: p.name for p in catalog.plans}
    cur_plan, best = str(row["current_plan"]), str(row["best_plan"])
    cur_name = names[cur_plan].in_language(language) if cur_plan in names else cur_plan
    best_name = names[best].in_language(language) if best in names else best
    months = int(row["months"])
    span = str(row["first_period"]) if row["first_period"] == row["last_period"] else f"{row['first_period']} – {row['last_period']}"
    paid, would = _amount(int(row["current_minor"]), cur), _amount(int(row["best_minor"]), cur)
    saving = int(row["saving_minor"])
    per_month = _amount(saving // max(1, months), cur)
    if language == "zh":
        if not row["switch"]:
            return (f"【资费提醒】根据您 {span}（{months} 个月）的实际使用，您当前的「{cur_name}」已是最省钱的套餐，"
                    f"共计 {paid}。")
        return (f"【最优资费提醒】根据您 {span}（{months} 个月）的实际使用，您在「{cur_name}」上共支付 {paid}。"
                f"同样的使用量，「{best_name}」只需 {would}，可节省 {_amount(saving, cur)}（约每月 {per_month}）。"
                f"您可随时免费更换套餐；本提醒依据您的账单用量计算，不含增值业务费用。")
    if not row["switch"]:
        return (f"Your best tariff: based on your actual use over {months} month(s) ({span}), your current plan "
                f"{cur_name} is already the cheapest for you ({paid}).")
    return (f"Your best tariff: over {months} month(s) ({span}) you paid {paid} on {cur_name}. For exactly the "
            f"same use, {best_name} would have cost {would}: a saving of {_amount(saving, cur)} (about {per_month} "
            f"a month). You can change plan at no charge. This notice is based on your billed usage and leaves out "
            f"value-added services.")
