"""Best-plan advice: each subscriber's actual months priced under every plan by the rating engine itself.

For each month and each candidate plan, the month's usage of every subscriber is rated with
``fairtel.rating.rate`` as if the subscriber had been on that plan (the subscriber's plan_id is replaced),
and the plan's monthly fee is added for each month the subscriber used the service (with ``prorate``, the fee
of the month of activation is pro-rated by days in service exactly as the bill run does). The recommended plan is the one that would have cost least over those months, among the candidate
plans and the subscriber's own; a plan that cannot price some of the subscriber's usage (a record left
unrated) is not offered to that subscriber. Value-added charges are priced only when a consent gate is
given (then an offer a plan includes costs nothing on that plan, as on the bill); without one they are left
out, since they cost the offer's price whatever the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import polars as pl

from fairtel.billing import prorated_fee_minor
from fairtel.catalog import Catalog
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period
from fairtel.insight._features import in_utc
from fairtel.rating import VasGate, rate

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
    "dearer_months": pl.Int64(),  # months in which the best plan would have cost more than the current one
    "most_extra_minor": pl.Int64(),  # the most it would have cost over the current plan in one month
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
    vas_priced: bool = False  # value-added charges priced through a consent gate (else left out)

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
    activated_at: Mapping[str, datetime] | None = None,
    gate: VasGate | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """COST_COLUMNS: what each subscriber's usage of each month would have cost under each plan.

    A subscriber-month counts when the subscriber has usage in it; its fee is the plan's monthly fee,
    pro-rated as the bill run does (``billing.prorated_fee_minor``) in the month the subscriber was activated
    when ``activated_at`` (msisdn → aware instant) names it. ``gate``: the consent gate for VAS records;
    without one they are not priced.
    """
    fees = _fee_minor(catalog)
    kinds = (*PRICED_KINDS, "vas") if gate is not None else PRICED_KINDS
    since = activated_at or {}
    candidates = tuple(plans) if plans is not None else tuple(p.id for p in catalog.plans)
    unknown = [p for p in candidates if p not in fees]
    if unknown:
        raise InvalidInputError([Problem("plans", None, "plan_id", f"not in the catalog: {p}") for p in unknown], what="plans")
    wanted = pl.Series("msisdn", sorted(set(msisdns)), dtype=pl.String)
    frames: list[pl.DataFrame] = []
    total = len(usage_by_period) * len(candidates)
    for key, usage in sorted(usage_by_period.items()):
        period = _period(key, catalog)
        month = usage.filter(pl.col("kind").is_in(kinds) & pl.col("msisdn").is_in(wanted.implode()))
        users = month.select(pl.col("msisdn").unique().sort())
        if users.height == 0:
            continue
        # activations inside this month: their fee is pro-rated by days in service, as on the bill
        joined = [since.get(m) for m in users["msisdn"].to_list()]
        partial = {a for a in joined if a is not None and a >= period.start}
        started = [a if a in partial else None for a in joined]
        for plan_id in candidates:
            subs = users.with_columns(pl.lit(plan_id).alias("plan_id"))
            prorated = {a: prorated_fee_minor(fees[plan_id], a, period)[0] for a in partial}
            fee = pl.Series("fee_minor", [fees[plan_id] if a is None else prorated[a] for a in started], dtype=pl.Int64)
            result = rate(month, catalog, subs, period=period, gate=gate)
            charged = result.rated.group_by("msisdn").agg(pl.col("amount_minor").sum().alias("usage_minor"))
            missed = result.unrated.group_by("msisdn").agg(pl.len().cast(pl.Int64).alias("unrated"))
            frames.append(
                users.with_columns(fee).join(charged, on="msisdn", how="left", maintain_order="left")
                .join(missed, on="msisdn", how="left", maintain_order="left").select(
                    "msisdn",
                    pl.lit(period.key).alias("period"),
                    pl.lit(plan_id).alias("plan_id"),
                    pl.col("fee_minor"),
                    pl.col("usage_minor").fill_null(0).cast(pl.Int64),
                    (pl.col("usage_minor").fill_null(0) + pl.col("fee_minor")).cast(pl.Int64).alias("total_minor"),
                    pl.col("unrated").fill_null(0).cast(pl.Int64),
                )
            )
            if progress:
                progress.step("pricing months under each plan", total=total)
    if not frames:
        return pl.DataFrame(schema=COST_COLUMNS)
    return pl.concat(frames).cast(COST_COLUMNS).sort("msisdn", "period", "plan_id")  # type: ignore[arg-type]


def best_plans(
    costs: pl.DataFrame,
    subscribers: pl.DataFrame,
    *,
    currency: str,
    min_saving_minor: int = 1,
    candidates: Sequence[str] | None = None,
) -> pl.DataFrame:
    """ADVICE_COLUMNS from priced months: per subscriber, the plan that would have cost least over the same
    months (ties go to the current plan, then to the plan id first in order). ``switch`` is set when the
    saving is at least ``min_saving_minor``. Only ``candidates`` (default: every plan priced) and the
    subscriber's own plan are considered: another subscriber's plan that is not a candidate (closed to new
    subscribers, say) is never advised. ``dearer_months`` and ``most_extra_minor`` say in how many of the
    months, and by how much at most, the best plan would have cost more than the current one."""
    current = subscribers.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String).alias("current_plan"))
    if current["msisdn"].is_duplicated().any():
        raise InvalidInputError([Problem("subscribers", None, "msisdn", f"listed more than once: {m}")
                                 for m in current.filter(pl.col("msisdn").is_duplicated())["msisdn"].unique().sort()[:20]],
                                what="subscribers")
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
    open_to = pl.col("plan_id") == pl.col("current_plan")
    if candidates is not None:
        open_to = open_to | pl.col("plan_id").is_in(list(candidates))
    ranked = (
        per_plan.filter((pl.col("unrated") == 0) & open_to)
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
    monthly = costs.select("msisdn", "period", "plan_id", "total_minor")
    extra = (
        out.select("msisdn", "current_plan", "best_plan")
        .join(monthly, left_on=["msisdn", "best_plan"], right_on=["msisdn", "plan_id"], how="inner")
        .join(monthly.rename({"total_minor": "_current"}), left_on=["msisdn", "current_plan", "period"],
              right_on=["msisdn", "plan_id", "period"], how="inner")
        .group_by("msisdn")
        .agg((pl.col("total_minor") > pl.col("_current")).sum().cast(pl.Int64).alias("dearer_months"),
             (pl.col("total_minor") - pl.col("_current")).max().clip(lower_bound=0).cast(pl.Int64).alias("most_extra_minor"))
    )
    out = out.join(extra, on="msisdn", how="left").with_columns(
        pl.col("dearer_months").fill_null(0), pl.col("most_extra_minor").fill_null(0)
    )
    return out.cast(ADVICE_COLUMNS).select(list(ADVICE_COLUMNS)).sort("msisdn")  # type: ignore[arg-type]


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
    gate: VasGate | None = None,
    prorate: bool = False,
    progress: Progress | None = None,
) -> AdviceResult:
    """Best plan for every subscriber over their last ``months`` billing months (all months when None).

    ``usage``: clean usage (CLEAN_USAGE_SCHEMA columns); ``subscribers``: msisdn and plan_id (the current
    plan), and with ``prorate`` ``activated_at`` (aware): the fee of the month of activation is then
    pro-rated by days in service as the bill run does (fairtel's own bills; Megaline charges whole months).
    Subscribers whose current plan is not in the catalog are left out; a subscriber listed twice
    with the same plan counts once, with two plans is refused. ``plans``: the plans that may be advised
    (those on sale; default every plan of the catalog); each subscriber's own plan is priced too, to know
    what they paid, but is never advised to anyone else. ``gate``: the consent gate, to price VAS charges.
    """
    known = {p.id for p in catalog.plans}
    if prorate and "activated_at" not in subscribers.columns:
        raise InvalidInputError([Problem("subscribers", None, "activated_at", "column missing (needed to pro-rate fees)")],
                                what="subscribers")
    cols = ["msisdn", "plan_id", *(["activated_at"] if prorate else [])]
    subs = subscribers.select(cols).with_columns(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String))
    subs = subs.filter(pl.col("plan_id").is_in(sorted(known))).unique(maintain_order=True)
    activated: dict[str, datetime] | None = None
    if prorate:
        subs = in_utc(subs, "activated_at")
        activated = {m: a for m, a in subs.select("msisdn", "activated_at").iter_rows() if a is not None}
    candidates = tuple(plans) if plans is not None else tuple(p.id for p in catalog.plans)
    # the current plans are always priced, to know what each subscriber paid
    priced = [*candidates, *(p for p in sorted(set(subs["plan_id"].to_list())) if p not in candidates)]
    periods = None if months is None else last_periods(usage, catalog, months, until=until)
    by_period = split_by_period(usage, catalog, periods)
    costs = price_months(by_period, catalog, subs["msisdn"].to_list(), plans=priced, activated_at=activated, gate=gate,
                         progress=progress)
    currency = catalog.operator.currency
    advice = best_plans(costs, subs.select("msisdn", "plan_id"), currency=currency, min_saving_minor=min_saving_minor,
                        candidates=candidates)
    return AdviceResult(
        costs=costs,
        advice=advice,
        periods=tuple(sorted(by_period)),
        plans=candidates,
        currency=currency,
        vas_priced=gate is not None,
    )


def _amount(minor: int, currency: str) -> str:
    d = Decimal(minor).scaleb(-minor_units(currency))
    return f"{d:,.{minor_units(currency)}f} {currency}"


def notice_text(row: Mapping[str, Any], catalog: Catalog, language: str = "en", *, vas_priced: bool = False) -> str:
    """A best-tariff notice for one advice row (ADVICE_COLUMNS), in ``zh`` or ``en``; ``vas_priced``: the advice
    priced value-added charges (``AdviceResult.vas_priced``), else the notice says they are left out.

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
    dearer = int(row.get("dearer_months") or 0)
    extra = _amount(int(row.get("most_extra_minor") or 0), cur)
    if language == "zh":
        if not row["switch"]:
            return (f"【资费提醒】根据您 {span}（{months} 个月）的实际使用，您当前的「{cur_name}」已是最省钱的套餐，"
                    f"共计 {paid}。")
        return (f"【最优资费提醒】根据您 {span}（{months} 个月）的实际使用，您在「{cur_name}」上共支付 {paid}。"
                f"同样的使用量，「{best_name}」只需 {would}，可节省 {_amount(saving, cur)}（约每月 {per_month}）。"
                + (f"但其中 {dearer} 个月「{best_name}」会比「{cur_name}」更贵（单月最多多付 {extra}）。" if dearer else "")
                + ("您可随时免费更换套餐；本提醒依据您的账单用量计算，含您已确认订购的增值业务。" if vas_priced
                   else "您可随时免费更换套餐；本提醒依据您的账单用量计算，不含增值业务费用。"))
    if not row["switch"]:
        return (f"Your best tariff: based on your actual use over {months} month(s) ({span}), your current plan "
                f"{cur_name} is already the cheapest for you ({paid}).")
    return (f"Your best tariff: over {months} month(s) ({span}) you paid {paid} on {cur_name}. For exactly the "
            f"same use, {best_name} would have cost {would}: a saving of {_amount(saving, cur)} (about {per_month} "
            f"a month). "
            + (f"But in {dearer} of these months {best_name} would have cost more than {cur_name} (up to {extra} "
               f"more in a month). " if dearer else "")
            + ("You can change plan at no charge. This notice is based on your billed usage, value-added services you "
               "confirmed included." if vas_priced else
               "You can change plan at no charge. This notice is based on your billed usage and leaves out "
               "value-added services."))
