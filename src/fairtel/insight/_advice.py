"""Best-plan advice: each subscriber's actual months priced under every plan by the rating engine itself.

For each month and each candidate plan, the month's usage of every subscriber is rated with
``fairtel.rating.rate`` as if the subscriber had been on that plan (the subscriber's plan_id is replaced),
and the plan's monthly fee is added for each month the subscriber used the service (Megaline's rule). With
``prorate`` (a home's bills) each month is counted as the bill run bills it: every month priced in which the line
was in service, used or not, with the fee of the month of activation (and of closing) pro-rated by days in service
exactly as the bill run does. Given the bill run's taxes (``policy``: ``billing.BillingPolicy``), each month's
tax is added per kind of charge as on the bill, so plans are compared on what the bills would charge. The
recommended plan is the one that would have cost least over those months, among the candidate
plans and the subscriber's own; a plan that cannot price some of the subscriber's usage (a record left
unrated) is not offered to that subscriber. Value-added charges are priced only when a consent gate is
given (then an offer a plan includes costs nothing on that plan, as on the bill) and the usage carries what the
gate needs of them (``VAS_COLUMNS``: the offer); otherwise they are left out, since they cost the
offer's price whatever the plan, and the result says so (``vas_priced``, ``notes``), as do the notices.

Only a plan the subscriber could order is advised (the catalog's ``[plans.eligibility]``): a plan withdrawn from
sale, outside its sale window at the time of the advice or sold only through other channels than the advice's
is advised to no one; a plan for some ages only is advised only to a subscriber whose age is known and in its
range (the subscriber register holds no birth date, so on a home's data nobody's age is known). The
subscriber's own plan is always priced, whatever it says: it is what they pay. ``AdviceResult.explain`` says,
plan by plan, why one was or was not advised to a subscriber.

Only billing months that have ended on the operator's clock (the catalog's time zone, at the instant of the advice)
are priced: a month still running holds part of a month's usage against a whole month's fee, and a plan with a
fee would look dearer than it is (as a bill run issues a period only once it has ended). The months left out, and
why, are in ``AdviceResult.left_out``; an ``until`` that names a month not ended is refused. A line that is closed
or suspended, or that has an open or confirmed fraud case from the first month priced on (its usage may not be the
subscriber's), is advised nothing: it is listed in ``AdviceResult.skipped`` with the reason.

With ``prorate`` (a home's lines, whose ``activated_at`` starts the current holder's bills) a line's months are its
current holder's: usage dated before its activation, and a fraud case of a month that ended before it (or opened
before it, when the cases say when), are a recycled number's earlier holder's and are neither priced nor held
against the current holder. A line that moved to another customer with its activation kept (an owner change, 过户:
a ``holder_since`` later than ``activated_at`` in the subscribers) is the new customer's from that instant in the
same way: the previous customer's usage and fraud cases are not theirs, and their first month is counted, its fee
pro-rated, from the change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import polars as pl

from fairtel.billing import BillingPolicy, LineKind, PeriodNotEndedError, prorated_fee_minor
from fairtel.catalog import SALES_CHANNELS, Catalog, Ineligible, Refusal
from fairtel.core.errors import InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period, require_aware, utc_now, zone
from fairtel.insight._features import holding_row_start, holding_start, in_holding, in_utc
from fairtel.rating import VasGate, rate

PRICED_KINDS = ("voice", "sms", "data")
# what any consent gate needs of a value-added record besides its number and start (``rating.VasGate``): without
# its offer every value-added record is an unknown offer at no cost, so the charges can only be left out (and said
# to be). A gate that checks the amount charged (``rating.consent_gate``) reads ``amount_minor`` and ``currency``
# too: without them it refuses the charge as mispriced, where the bill run, reading whole records, bills it.
VAS_COLUMNS = ("offer_id",)


def vas_columns_missing(usage: pl.DataFrame) -> tuple[str, ...]:
    """The ``VAS_COLUMNS`` ``usage`` lacks (none when it has no value-added record)."""
    if "kind" not in usage.columns or not usage.filter(pl.col("kind") == "vas").height:
        return ()
    return tuple(c for c in VAS_COLUMNS if c not in usage.columns)

COST_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "period": pl.String(),
    "plan_id": pl.String(),
    "fee_minor": pl.Int64(),
    "usage_minor": pl.Int64(),
    "tax_minor": pl.Int64(),  # the tax the bill would add (``billing.BillingPolicy``): 0 when none is configured
    "total_minor": pl.Int64(),  # fee + usage + tax: what the month's bill would have charged on this plan
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


REFUSED_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "plan_id": pl.String(),
    "reason": pl.String(),  # an ``Ineligible`` code: why this subscriber may not be advised the plan
}

SKIPPED_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "plan_id": pl.String(),  # the line's plan
    "reason": pl.String(),  # a ``SKIP_REASONS`` code: why the line is advised nothing
}

LINE_CLOSED = Refusal("line_closed", "号码已销户，不提供资费建议", "the line is closed: no plan advice")
LINE_SUSPENDED = Refusal("line_suspended", "号码已停机，不提供资费建议", "the line is suspended: no plan advice")
FRAUD_CASE = Refusal("fraud_case", "号码有未结或已确认的欺诈案件，其用量不能作为资费建议的依据",
                     "the line has an open or confirmed fraud case: its usage is no basis for plan advice")
MARKETING_REFUSED = Refusal("marketing_refused", "用户已拒绝基于自动化决策的营销推送，不发资费建议",
                            "the subscriber refuses marketing based on automated profiling: no plan advice is sent")
SKIP_REASONS = {r.code: r for r in (LINE_CLOSED, LINE_SUSPENDED, FRAUD_CASE, MARKETING_REFUSED)}
FRAUD_STATUSES = ("open", "confirmed")  # the fraud case states that stop advice (a false alarm does not)

NOT_REQUESTED = Refusal("not_requested", "不在本次建议的候选套餐之列", "not among the plans this advice was asked to consider")


class Progress(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...


@dataclass(frozen=True)
class AdviceResult:
    """``costs``: COST_COLUMNS, one row per subscriber, month and plan; ``advice``: ADVICE_COLUMNS, one row
    per subscriber (``switch`` when another plan would have cost less than the current one)."""

    costs: pl.DataFrame
    advice: pl.DataFrame
    periods: tuple[str, ...]
    plans: tuple[str, ...]  # the plans on offer to someone: asked for and on sale through the channel at the time
    currency: str
    vas_priced: bool = False  # value-added charges priced through a consent gate (else left out)
    # a consent gate was given but the usage lacks these columns of its value-added records: they were left out
    vas_missing: tuple[str, ...] = ()
    # plan → why it is advised to no one (not asked for, withdrawn, outside its sale window, another channel)
    excluded: Mapping[str, tuple[Refusal, ...]] = field(default_factory=dict)
    # REFUSED_COLUMNS: a plan of ``plans`` some subscriber may not be advised (an age range), never their own plan
    refused: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REFUSED_COLUMNS))
    reasons: Mapping[tuple[str, str], Refusal] = field(default_factory=dict)  # (plan_id, reason) → its text
    at: datetime | None = None  # the instant the advice is for (sale windows are read at it)
    channel: str | None = None  # the channel it is given through (None: none named)
    # SKIPPED_COLUMNS: lines advised nothing (closed, suspended, a fraud case), never priced
    skipped: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SKIPPED_COLUMNS))
    # ADVICE_COLUMNS of the skipped lines, for ``explain`` alone: what their months cost, never advice or a notice
    withheld: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ADVICE_COLUMNS))
    left_out: Mapping[str, Refusal] = field(default_factory=dict)  # month with usage → why it was not priced
    lines: int | None = None  # the lines on a catalog plan considered: advice rows + skipped + without advice
    timezone: str | None = None  # the operator's time zone, on which months end
    now: datetime | None = None  # the operator's clock when the advice was made: months ended by then were priced
    # kind → rate of the tax every amount includes, as the bill run adds it (empty: no tax configured, none added)
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)

    def notes(self, language: str = "en") -> list[str]:
        """What the advice rests on, in words (``zh`` or ``en``): the months priced, the tax the amounts include,
        each month with usage left out and why, and the lines advised nothing."""
        zh = language == "zh"
        out: list[str] = []
        local = None if self.now is None or self.timezone is None else (
            f"{self.now.astimezone(zone(self.timezone)):%Y-%m-%d %H:%M} {self.timezone}")
        if zh:
            when = "" if local is None else f"（当前 {local}）"
            out.append(f"计算账期 {'、'.join(self.periods)}：按运营商时钟已结束的账期{when}" if self.periods
                       else f"未计算任何账期：按运营商时钟已结束的账期内没有用量{when}")
        else:
            when = "" if local is None else f" (now {local})"
            out.append(f"priced {', '.join(self.periods)}: billing months that have ended on the operator's clock{when}"
                       if self.periods else
                       f"no month priced: no usage in a billing month that has ended on the operator's clock{when}")
        if self.tax_rates:
            out.append(tax_note(self.tax_rates, language))
        for key, why in sorted(self.left_out.items()):
            out.append(f"未计算 {key}：{why.zh}" if zh else f"left out {key}: {why.en}")
        if self.vas_missing:
            cols = self.vas_missing
            if zh:
                out.append(f"未计增值业务费用：用量缺少 {'、'.join(cols)} 列，无法为任何增值业务计费（账单按已确认的订购收取）")
            else:
                named = cols[0] if len(cols) == 1 else f"{', '.join(cols[:-1])} or {cols[-1]}"
                out.append(f"value-added charges left out: the usage has no {named} column, so no "
                           "value-added charge could be priced (the bills charge the consented ones)")
        if self.skipped.height:
            counts = self.skipped.group_by("reason").agg(pl.len()).sort("reason")
            if zh:
                out.append("不提供建议：" + "；".join(
                    f"{n} 个号码（{SKIP_REASONS[r].zh if r in SKIP_REASONS else r}）" for r, n in counts.iter_rows()))
            else:
                out.append("advised nothing: " + "; ".join(
                    f"{n} line{'s' if n != 1 else ''} ({SKIP_REASONS[r].en if r in SKIP_REASONS else r})"
                    for r, n in counts.iter_rows()))
        return out

    def savers(self) -> pl.DataFrame:
        return self.advice.filter(pl.col("switch")).sort("saving_minor", "msisdn", descending=[True, False])

    def summary(self) -> dict[str, Any]:
        savers = self.savers()
        total = int(savers["saving_minor"].sum() or 0)
        by_move = (
            savers.group_by("current_plan", "best_plan").agg(pl.len().alias("subscribers"), pl.col("saving_minor").sum())
            .sort("current_plan", "best_plan")
        )
        refused = self.refused.group_by("plan_id", "reason").agg(pl.len().alias("subscribers")).sort("plan_id", "reason")
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
            "at": None if self.at is None else self.at.isoformat(),
            "channel": self.channel,
            "excluded": [{"plan_id": p, "reasons": [_reason(r) for r in why]} for p, why in self.excluded.items()],
            "refused": [
                {"plan_id": r["plan_id"], "subscribers": r["subscribers"], **_reason(self.reasons[(r["plan_id"], r["reason"])])}
                for r in refused.iter_rows(named=True)
            ],
            "left_out": [{"period": k, **_reason(why)} for k, why in sorted(self.left_out.items())],
            "lines": self.lines,
            "skipped": [
                {"lines": int(n), **_reason(SKIP_REASONS.get(r) or Refusal(r, r, r))}
                for r, n in self.skipped.group_by("reason").agg(pl.len()).sort("reason").iter_rows()
            ],
            "without_advice": None if self.lines is None else self.lines - self.advice.height - self.skipped.height,
            # the amounts include the tax the bills add, at these rates (none: no tax configured)
            "tax_included": bool(self.tax_rates),
            "tax_rates": {k: str(v) for k, v in self.tax_rates.items()},
        }

    def explain(self, msisdn: str) -> dict[str, Any]:
        """Why each plan was or was not advised to ``msisdn``: per plan (those on offer, then the excluded), what
        the subscriber's months would have cost on it (when priced), whether it is their plan or the advised
        one, and each reason it could not be advised (``code``, ``zh``, ``en``: not asked for, withdrawn, outside
        its sale window, another channel, an age range, usage it cannot price). Nothing here names the
        subscriber's age. ``NotFoundError`` for a subscriber the advice has no row for."""
        rows = self.advice.filter(pl.col("msisdn") == msisdn)
        skip_why: Refusal | None = None
        skip = self.skipped.filter(pl.col("msisdn") == msisdn)
        if skip.height:
            code = str(skip["reason"][0])
            skip_why = SKIP_REASONS.get(code) or Refusal(code, code, code)
            rows = self.withheld.filter(pl.col("msisdn") == msisdn).with_columns(pl.lit(False).alias("switch"))
        if rows.height == 0:
            raise NotFoundError(f"no advice for {msisdn}: not a subscriber on a catalog plan, or neither in service "
                                f"nor any usage in {', '.join(self.periods) or 'the months priced'}",
                                details={"msisdn": msisdn})
        row = rows.row(0, named=True)
        mine = (self.costs.filter(pl.col("msisdn") == msisdn).group_by("plan_id")
                .agg(pl.col("total_minor").sum(), pl.col("unrated").sum()))
        priced = {r["plan_id"]: r for r in mine.iter_rows(named=True)}
        refused: dict[str, list[str]] = {}
        for r in self.refused.filter(pl.col("msisdn") == msisdn).iter_rows(named=True):
            refused.setdefault(r["plan_id"], []).append(r["reason"])
        plans: list[dict[str, Any]] = []
        for plan_id in dict.fromkeys((row["current_plan"], *self.plans, *self.excluded)):
            current = plan_id == row["current_plan"]
            why: list[Refusal] = []
            if not current:
                if skip_why is not None:
                    why.append(skip_why)
                why.extend(self.excluded.get(plan_id, ()))
                why.extend(self.reasons[(plan_id, code)] for code in refused.get(plan_id, ()))
            cost = priced.get(plan_id)
            if cost is not None and cost["unrated"]:
                n = int(cost["unrated"])
                why.append(Refusal("unpriced", f"有 {n} 条用量无法按此套餐计费",
                                   f"cannot price {n} of the subscriber's record{'s' if n != 1 else ''}"))
            plans.append({
                "plan_id": plan_id,
                "current": current,
                "advised": plan_id == row["best_plan"] and bool(row["switch"]),
                "total_minor": None if cost is None else int(cost["total_minor"]),
                "total": None if cost is None else str(Money.from_minor(int(cost["total_minor"]), self.currency).amount),
                "reasons": [_reason(r) for r in why],
            })
        return {"msisdn": msisdn, "current_plan": row["current_plan"], "best_plan": row["best_plan"],
                "skipped": None if skip_why is None else _reason(skip_why), "switch": bool(row["switch"]),
                "months": int(row["months"]), "periods": list(self.periods),
                "currency": self.currency, "channel": self.channel, "tax_included": bool(self.tax_rates),
                "plans": plans}


def _reason(r: Refusal) -> dict[str, str]:
    return {"code": str(r.code), "zh": r.zh, "en": r.en}


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def tax_note(rates: Mapping[str, Decimal], language: str = "en") -> str:
    """The note that every amount of the advice includes tax at ``rates`` (kind → rate), as the bills add it."""
    shown = ", ".join(f"{k} {_percent(Decimal(v))}" for k, v in rates.items())
    if language == "zh":
        return f"所有金额均含税，税率与账单相同（{shown}），按每月每类费用计一次税"
    return (f"every amount includes tax as the bills add it ({shown}), taxed once a month per kind of charge, so plans "
            "are compared on what the bills would charge")


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
    closed_at: Mapping[str, datetime] | None = None,
    gate: VasGate | None = None,
    policy: BillingPolicy | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """COST_COLUMNS: what each subscriber's month would have cost under each plan, as its bill would charge it.

    Without ``activated_at``, a subscriber-month counts when the subscriber has usage in it (Megaline's rule), with
    the plan's whole monthly fee. With ``activated_at`` (msisdn → aware instant: a home's bills), it counts as the
    bill run bills it: for a subscriber it names, every month the line was in service for a day or more of (from its
    activation up to, per ``closed_at`` (msisdn → aware instant, the closed lines' closing), its closing, as
    ``billing.prorated_fee_minor`` counts the days), with usage or none; the fee is pro-rated as the bill run does (``billing.prorated_fee_minor``) in the month of
    activation and of closing. ``gate``: the consent gate for VAS records; without one they are not priced, nor in a
    month whose usage lacks what any gate needs of them (``VAS_COLUMNS``): each would be an unknown offer at no cost,
    as no bill prices it. ``policy``: the bill run's taxes (``billing.BillingPolicy``), added per kind of charge and
    rounded once a month and plan, as on a bill (``BillingPolicy.tax_on``); none by default.
    """
    fees = _fee_minor(catalog)
    since = activated_at or {}
    until = closed_at or {}
    candidates = catalog.plan_ids(plans) if plans is not None else tuple(p.id for p in catalog.plans)
    wanted = pl.Series("msisdn", sorted(set(msisdns)), dtype=pl.String)
    frames: list[pl.DataFrame] = []
    total = len(usage_by_period) * len(candidates)
    for key, usage in sorted(usage_by_period.items()):
        period = _period(key, catalog)
        kinds = (*PRICED_KINDS, "vas") if gate is not None and not vas_columns_missing(usage) else PRICED_KINDS
        month = usage.filter(pl.col("kind").is_in(kinds) & pl.col("msisdn").is_in(wanted.implode()))
        used = set(month["msisdn"].unique().to_list())
        # the lines a bill run bills this month, usage or not: its plan fee is charged for every day in service
        # (billing's own count of the days, ``prorated_fee_minor``)
        serving = {m for m in wanted.to_list() if (a := since.get(m)) is not None and (
            (a < period.start and m not in until) or prorated_fee_minor(1, a, period, until.get(m))[1] > 0)}
        users = pl.DataFrame({"msisdn": sorted(used | serving)}, schema={"msisdn": pl.String()})
        if users.height == 0:
            continue
        # activations and closings inside this month: their fee is pro-rated by days in service, as on the bill
        started: list[tuple[datetime, datetime | None] | None] = []
        for m in users["msisdn"].to_list():
            a, c = since.get(m), until.get(m)
            inside = a is not None and (a >= period.start or (c is not None and c < period.end))
            started.append((a, c) if a is not None and inside else None)
        partial = {ac for ac in started if ac is not None}
        for plan_id in candidates:
            subs = users.with_columns(pl.lit(plan_id).alias("plan_id"))
            prorated = {ac: prorated_fee_minor(fees[plan_id], ac[0], period, ac[1])[0] for ac in partial}
            fee = pl.Series("fee_minor", [fees[plan_id] if ac is None else prorated[ac] for ac in started], dtype=pl.Int64)
            result = rate(month, catalog, subs, period=period, gate=gate)
            by_kind = result.rated.group_by("msisdn", "kind").agg(pl.col("amount_minor").sum().cast(pl.Int64))
            charged = by_kind.group_by("msisdn").agg(pl.col("amount_minor").sum().alias("usage_minor"))
            missed = result.unrated.group_by("msisdn").agg(pl.len().cast(pl.Int64).alias("unrated"))
            rows = users.with_columns(fee)
            taxed = _tax_minor(rows, by_kind, policy)
            frames.append(
                rows.join(charged, on="msisdn", how="left", maintain_order="left")
                .join(missed, on="msisdn", how="left", maintain_order="left")
                .join(taxed, on="msisdn", how="left", maintain_order="left").select(
                    "msisdn",
                    pl.lit(period.key).alias("period"),
                    pl.lit(plan_id).alias("plan_id"),
                    pl.col("fee_minor"),
                    pl.col("usage_minor").fill_null(0).cast(pl.Int64),
                    pl.col("tax_minor").fill_null(0).cast(pl.Int64),
                    (pl.col("usage_minor").fill_null(0) + pl.col("fee_minor") + pl.col("tax_minor").fill_null(0))
                    .cast(pl.Int64).alias("total_minor"),
                    pl.col("unrated").fill_null(0).cast(pl.Int64),
                )
            )
            if progress:
                progress.step("pricing months under each plan", total=total)
    if not frames:
        return pl.DataFrame(schema=COST_COLUMNS)
    return pl.concat(frames).cast(COST_COLUMNS).sort("msisdn", "period", "plan_id")  # type: ignore[arg-type]


def _tax_minor(fees: pl.DataFrame, by_kind: pl.DataFrame, policy: BillingPolicy | None) -> pl.DataFrame:
    """msisdn, tax_minor: the tax one month's bill adds on ``fees`` (msisdn, fee_minor: the plan fee) and the usage
    charged (``by_kind``: msisdn, kind, amount_minor), each kind's taxed once as the bill run does
    (``BillingPolicy.tax_on``). Empty when ``policy`` taxes nothing."""
    if policy is None or not any(policy.tax_rates.values()):
        return pl.DataFrame(schema={"msisdn": pl.String(), "tax_minor": pl.Int64()})
    charges = pl.concat([
        fees.select("msisdn", pl.lit(str(LineKind.PLAN_FEE)).alias("kind"), pl.col("fee_minor").alias("amount_minor")),
        by_kind.select(pl.col("msisdn").cast(pl.String), pl.col("kind").cast(pl.String), pl.col("amount_minor")),
    ]).cast({"amount_minor": pl.Int64})
    # the billing package's rounding, once for each distinct (kind, amount)
    amounts = charges.select("kind", "amount_minor").unique()
    tax = amounts.with_columns(pl.Series("tax_minor", [policy.tax_on(k, int(a)) for k, a in amounts.iter_rows()],
                                         dtype=pl.Int64))
    return (charges.join(tax, on=["kind", "amount_minor"], how="left")
            .group_by("msisdn").agg(pl.col("tax_minor").sum().cast(pl.Int64)))


def best_plans(
    costs: pl.DataFrame,
    subscribers: pl.DataFrame,
    *,
    currency: str,
    min_saving_minor: int = 1,
    candidates: Sequence[str] | None = None,
    refused: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """ADVICE_COLUMNS from priced months: per subscriber, the plan that would have cost least over the same
    months (ties go to the current plan, then to the plan id first in order). ``switch`` is set when the
    saving is at least ``min_saving_minor``. Only ``candidates`` (default: every plan priced) and the
    subscriber's own plan are considered: another subscriber's plan that is not a candidate (closed to new
    subscribers, say) is never advised; nor is a candidate ``refused`` (msisdn, plan_id: REFUSED_COLUMNS) to
    that subscriber, unless it is their own. ``dearer_months`` and ``most_extra_minor`` say in how many of the
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
    offered = pl.col("plan_id").is_in(list(candidates)) if candidates is not None else pl.lit(True)
    if refused is not None and refused.height:
        marks = refused.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String)).unique()
        per_plan = per_plan.join(marks.with_columns(pl.lit(True).alias("_refused")), on=["msisdn", "plan_id"], how="left")
        offered = offered & pl.col("_refused").is_null()
    open_to = (pl.col("plan_id") == pl.col("current_plan")) | offered
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


def last_periods(usage: pl.DataFrame, catalog: Catalog, months: int, *, until: str | None = None,
                 ended_by: datetime | None = None) -> list[str]:
    """The ``months`` billing months ending with ``until`` (default: the latest month with usage). With
    ``ended_by`` (an aware instant): the default ends with the latest month with usage that has ended by then on
    the catalog's clock, and an ``until`` not ended by then is a ``PeriodNotEndedError``."""
    if usage.height == 0:
        return []
    tz = catalog.operator.timezone
    end = _period(until, catalog) if until else Period.containing(usage["started_at"].max(), tz)  # type: ignore[arg-type]
    if ended_by is not None:
        require_aware(ended_by, "ended_by")
        if until:
            check_ended(end, ended_by)
        elif end.end > ended_by:
            end = Period.containing(ended_by, tz).previous()
    keys = [end.key]
    p = end
    for _ in range(max(1, months) - 1):
        p = p.previous()
        keys.append(p.key)
    return sorted(keys)


def _local(at: datetime, tz: str) -> str:
    return f"{at.astimezone(zone(tz)):%Y-%m-%d %H:%M}"


def not_ended(period: Period, at: datetime) -> Refusal | None:
    """Why ``period`` may not be priced at ``at`` (it has not ended, or not begun, on its clock), or None."""
    if period.end <= at:
        return None
    tz = period.tz
    if at < period.start:
        return Refusal("not_begun", f"账期尚未开始（{_local(period.start, tz)} {tz} 开始）",
                       f"the month has not begun (it begins at {_local(period.start, tz)} {tz})")
    return Refusal("not_ended", f"账期尚未结束（{_local(period.end, tz)} {tz} 结束），月费按整月计而用量只有部分",
                   f"the month has not ended (it ends at {_local(period.end, tz)} {tz}): a whole month's fee against "
                   "part of a month's usage")


def check_ended(period: Period, at: datetime) -> None:
    """``PeriodNotEndedError`` when ``period`` has not ended at ``at`` on its clock (as a bill run would not issue
    it)."""
    why = not_ended(period, at)
    if why is None:
        return
    tz = period.tz
    raise PeriodNotEndedError(
        f"cannot advise on {period.key}: {why.en} (now {_local(at, tz)} {tz}). Advice prices only billing months that "
        f"have ended; name an earlier month with --until, or leave it out for the latest ended one",
        details={"period": period.key, "timezone": tz, "period_end": period.end.isoformat(),
                 "now": at.astimezone(zone(tz)).isoformat(), "reason": why.code})


def _months_with_usage(usage: pl.DataFrame, catalog: Catalog) -> list[str]:
    if usage.height == 0:
        return []
    tz = catalog.operator.timezone
    keys = usage.select(pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").unique())
    return sorted(str(k) for k in keys.to_series().to_list() if k is not None)


def _holding_cases(cases: pl.DataFrame, subscribers: pl.DataFrame, tz: str) -> pl.DataFrame:
    """The fraud ``cases`` (msisdn, period, opened_at?) of each line's current holding: a case of a month that
    ended before the line's (latest) activation, or opened before it, is an earlier holder's of the number. A line
    ``subscribers`` does not name keeps its cases."""
    since = holding_start(subscribers).with_columns(
        pl.col("_holding_from").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("_holding_month"))
    kept = pl.col("_holding_from").is_null() | (pl.col("period") >= pl.col("_holding_month"))
    if "opened_at" in cases.columns:
        opened = pl.col("opened_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        kept = kept & (pl.col("_holding_from").is_null() | opened.is_null() | (opened >= pl.col("_holding_from")))
    return cases.join(since, on="msisdn", how="left", maintain_order="left").filter(kept).select(cases.columns)


def _skipped_lines(subs: pl.DataFrame, status: pl.DataFrame | None, fraud: pl.DataFrame,
                   first: str | None, do_not_contact: Collection[str] = ()) -> pl.DataFrame:
    """SKIPPED_COLUMNS: the lines of ``subs`` (msisdn, plan_id) advised nothing: closed, suspended (``status``:
    msisdn, status), with an open or confirmed fraud case (``fraud``: msisdn, period) from month ``first`` on, or
    whose subscriber refuses marketing (``do_not_contact``). One reason a line, in that order."""
    marks = subs.select("msisdn", "plan_id")
    rules: list[tuple[pl.Expr, str]] = []
    if status is not None:
        state = status.select(pl.col("msisdn").cast(pl.String), pl.col("status").cast(pl.String).alias("_status"))
        marks = marks.join(state.unique("msisdn", keep="last"), on="msisdn", how="left")
        rules += [(pl.col("_status") == "closed", LINE_CLOSED.code),
                  (pl.col("_status") == "suspended", LINE_SUSPENDED.code)]
    if fraud.height and first is not None:
        cased = fraud.filter(pl.col("period") >= first).select(pl.col("msisdn").cast(pl.String)).unique()
        marks = marks.join(cased.with_columns(pl.lit(True).alias("_case")), on="msisdn", how="left")
        rules.append((pl.col("_case").fill_null(False), FRAUD_CASE.code))
    if do_not_contact:
        rules.append((pl.col("msisdn").is_in(sorted(do_not_contact)), MARKETING_REFUSED.code))
    if not rules:
        return pl.DataFrame(schema=SKIPPED_COLUMNS)
    chain: Any = pl
    for cond, code in rules:
        chain = chain.when(cond.fill_null(False)).then(pl.lit(code))
    out = marks.select("msisdn", "plan_id", chain.otherwise(None).alias("reason")).drop_nulls("reason")
    return out.cast(SKIPPED_COLUMNS).sort("msisdn")  # type: ignore[arg-type]


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
    at: datetime | None = None,
    channel: str | None = None,
    ages: Mapping[str, int] | None = None,
    ended_only: bool = True,
    now: datetime | None = None,
    line_status: pl.DataFrame | None = None,
    fraud_cases: pl.DataFrame | None = None,
    do_not_contact: Collection[str] = (),
    policy: BillingPolicy | None = None,
    usage_months: Collection[str] = (),
) -> AdviceResult:
    """Best plan for every subscriber over their last ``months`` billing months (all months when None).

    ``usage``: clean usage (CLEAN_USAGE_SCHEMA columns); ``subscribers``: msisdn and plan_id (the current
    plan), and with ``prorate`` ``activated_at`` (aware) and optionally ``closed_at`` (aware; null for a line
    not closed): each month priced then counts as the bill run bills it, every month the line was in service
    whether it had usage or not, with the fee of the month of activation and of closing pro-rated by days in
    service (fairtel's own bills; Megaline charges whole months, and only months with usage count).
    ``policy``: the bill run's ``billing.BillingPolicy``: each month's tax is added per kind of charge as on
    the bill, so the plans are compared on what the bills would charge (``AdviceResult.tax_rates``, the notes).
    ``usage_months`` (YYYY-MM): months of the data ``usage`` was taken from (the home's months with usage) to price
    as if ``usage`` had records in them, when it is some lines' usage alone (with ``prorate``, a line's quiet month
    then counts with its fee); it names months to consider, not to price whatever ``months`` and ``until`` say.
    Subscribers whose current plan is not in the catalog are left out; a subscriber listed twice
    with the same plan counts once, with two plans is refused. ``plans``: the plans that may be advised
    (default every plan of the catalog; an id not in the catalog is an ``InvalidInputError`` naming it); each
    subscriber's own plan is priced too, to know what they paid, but is never advised to anyone else.
    ``gate``: the consent gate, to price VAS charges.

    Of those, only a plan the subscriber could order is advised (the plan's ``eligibility``): on sale at ``at``
    (the instant a switch would be ordered; default now) through ``channel`` (one of ``SALES_CHANNELS``, the
    channel the advice is given through; ``None``: none named, so a plan sold only through some channels is
    advised to no one), and, for a plan with an age range, to a subscriber whose age ``ages`` (msisdn → whole
    years at ``at``) gives inside it: a subscriber without one is not advised it. A plan nobody may be advised
    is not priced, unless someone holds it.

    With ``ended_only`` (the default) only billing months that have ended at ``now`` (the operator's clock; default
    the current instant, whatever ``at`` says) on the catalog's time zone are priced: by default the ``months``
    ending with the latest such month with usage; an ``until`` not ended at ``now`` is a ``PeriodNotEndedError``;
    each month with usage not priced is in ``AdviceResult.left_out`` with the reason.
    A line whose ``line_status`` (msisdn, status: the register's) is ``closed`` or ``suspended``, or that has a
    row in ``fraud_cases`` (msisdn, period, opened_at?: its open or confirmed fraud cases) for the first month
    priced or a later one, is not priced and is listed in ``AdviceResult.skipped``. With ``prorate``, a line's
    usage before its ``activated_at``, and its fraud cases of months that ended before it or opened before it, are
    an earlier holder's of the number: left out; so are those before its ``holder_since`` (optional column, aware:
    since when a line that moved to another customer with its activation kept is theirs), from which the new
    customer's months are counted as from an activation. So is a line of ``do_not_contact`` (lines
    whose subscriber refuses marketing based on automated profiling, PIPL Art. 24): a notice of a cheaper plan
    made from their usage is such marketing; ``explain`` still shows what their months cost.
    """
    known = {p.id for p in catalog.plans}
    requested = catalog.plan_ids(plans) if plans is not None else tuple(p.id for p in catalog.plans)
    if channel is not None and channel not in SALES_CHANNELS:
        raise InvalidInputError([Problem("channel", None, None, f"{channel!r} is not a sales channel "
                                         f"({', '.join(SALES_CHANNELS)})", "invalid_value")], what="channel")
    when = utc_now() if at is None else require_aware(at, "at")
    if prorate and "activated_at" not in subscribers.columns:
        raise InvalidInputError([Problem("subscribers", None, "activated_at", "column missing (needed to pro-rate fees)")],
                                what="subscribers")
    closing = prorate and "closed_at" in subscribers.columns
    moved = prorate and "holder_since" in subscribers.columns
    cols = ["msisdn", "plan_id", *(["activated_at"] if prorate else []), *(["closed_at"] if closing else []),
            *(["holder_since"] if moved else [])]
    subs = subscribers.select(cols).with_columns(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String))
    subs = subs.filter(pl.col("plan_id").is_in(sorted(known))).unique(maintain_order=True)
    activated: dict[str, datetime] | None = None
    closed: dict[str, datetime] | None = None
    if prorate:
        subs = in_utc(subs, "activated_at")
        # the current customer's months begin with their holding: the line's activation, or a later owner change
        # (``holder_since``): the fee of that month is counted by their days, as their own usage is
        activated = {m: a for m, a in subs.select("msisdn", holding_row_start(subs)).iter_rows() if a is not None}
        # a record before the holding is an earlier holder's (a recycled number's, or the previous customer's of a
        # line that changed owner), as rating holds the first and the new customer's bills and reads the second
        usage = in_holding(usage, subs, "started_at").collect()
    if closing:
        if subs.schema["closed_at"] == pl.Null:  # no line closed
            subs = subs.with_columns(pl.col("closed_at").cast(pl.Datetime("us", "UTC")))
        subs = in_utc(subs, "closed_at")
        closed = {m: c for m, c in subs.select("msisdn", "closed_at").iter_rows() if c is not None}
        subs = subs.drop("closed_at")
    clock = utc_now() if now is None else require_aware(now, "now")
    ended_by = clock if ended_only else None
    if months is not None:
        periods: list[str] | None = last_periods(usage, catalog, months, until=until, ended_by=ended_by)
    elif until:  # every month up to ``until``
        if ended_by is not None:
            check_ended(_period(until, catalog), ended_by)
        periods = [k for k in _months_with_usage(usage, catalog) if k <= _period(until, catalog).key]
    else:
        periods = None
    # the months of the data the usage is taken from: one line's usage has none in its quiet months
    extra = {_period(k, catalog).key for k in usage_months} - set(_months_with_usage(usage, catalog))
    if periods is not None and months is None:
        periods = sorted({*periods, *(k for k in extra if not until or k <= _period(until, catalog).key)})
    seen = sorted({*_months_with_usage(usage, catalog), *extra})
    left_out: dict[str, Refusal] = {}
    for key in seen:
        late = None if ended_by is None else not_ended(_period(key, catalog), ended_by)
        if late is not None:
            left_out[key] = late
        elif periods is not None and key not in periods:
            span = periods[0] if len(periods) == 1 else f"{periods[0]} – {periods[-1]}"
            left_out[key] = Refusal("outside_months", f"不在本次计算的账期（{span}）之内",
                                    f"outside the months asked for ({span})")
    by_period = {k: v for k, v in split_by_period(usage, catalog, periods).items() if k not in left_out}
    by_period |= {k: usage.clear() for k in extra if k not in left_out and (periods is None or k in periods)}
    first = min(by_period) if by_period else None
    lines = subs.height
    cases = (pl.DataFrame(schema={"msisdn": pl.String(), "period": pl.String()}) if fraud_cases is None
             else fraud_cases.select(pl.col("msisdn").cast(pl.String), pl.col("period").cast(pl.String),
                                     *(["opened_at"] if "opened_at" in fraud_cases.columns else [])))
    if prorate and cases.height:
        cases = _holding_cases(cases, subs, catalog.operator.timezone)
    cases = cases.select("msisdn", "period")
    skipped = _skipped_lines(subs, line_status, cases, first, do_not_contact)
    excluded: dict[str, tuple[Refusal, ...]] = {}
    for plan in catalog.plans:
        why = plan.eligibility.sale_refusals(at=when, channel=channel) if plan.id in requested else (NOT_REQUESTED,)
        if why:
            excluded[plan.id] = why
    candidates = [p for p in requested if p not in excluded]
    refused, reasons = _age_refusals(catalog, candidates, subs.select("msisdn", "plan_id"), ages or {})
    # a plan every subscriber is refused is not worth pricing (only its holders', to know what they paid)
    open_to_some = [p for p in candidates if refused.filter(pl.col("plan_id") == p).height < subs.height]
    held = sorted(set(subs["plan_id"].to_list()))
    priced = [*open_to_some, *(p for p in held if p not in open_to_some)]
    costs = price_months(by_period, catalog, subs["msisdn"].to_list(), plans=priced, activated_at=activated,
                         closed_at=closed, gate=gate, policy=policy, progress=progress)
    # a gate over usage that lacks what it reads prices no value-added charge: the notices must not say they are in
    missing = vas_columns_missing(usage) if gate is not None else ()
    currency = catalog.operator.currency
    advice = best_plans(costs, subs.select("msisdn", "plan_id"), currency=currency, min_saving_minor=min_saving_minor,
                        candidates=candidates, refused=refused)
    # a skipped line is priced (``explain`` shows what its months cost) but advised nothing: no row, no notice
    is_skipped = pl.col("msisdn").is_in(skipped["msisdn"].implode())
    withheld, advice = advice.filter(is_skipped), advice.filter(~is_skipped)
    return AdviceResult(
        costs=costs,
        advice=advice,
        periods=tuple(sorted(by_period)),
        plans=tuple(candidates),
        currency=currency,
        vas_priced=gate is not None and not missing,
        vas_missing=missing,
        excluded=excluded,
        refused=refused,
        reasons=reasons,
        at=when,
        channel=channel,
        skipped=skipped,
        withheld=withheld,
        left_out=left_out,
        lines=lines,
        timezone=catalog.operator.timezone,
        now=clock,
        tax_rates={} if policy is None else {k: v for k, v in policy.tax_rates.items() if v},
    )


def _age_refusals(catalog: Catalog, candidates: Sequence[str], subs: pl.DataFrame, ages: Mapping[str, int]
                  ) -> tuple[pl.DataFrame, dict[tuple[str, str], Refusal]]:
    """REFUSED_COLUMNS for the ``candidates`` with an age range: each subscriber whose age (``ages``) is not
    known or not in the range, except on their own plan; and the text of each (plan, reason)."""
    frames: list[pl.DataFrame] = []
    reasons: dict[tuple[str, str], Refusal] = {}
    if not any(catalog.plan(p).eligibility.by_age for p in candidates):
        return pl.DataFrame(schema=REFUSED_COLUMNS), reasons
    age = pl.Series("age", [ages.get(m) for m in subs["msisdn"].to_list()], dtype=pl.Int64)
    aged = subs.with_columns(age)
    for plan_id in candidates:
        rule = catalog.plan(plan_id).eligibility
        if not rule.by_age:
            continue
        lo, hi = rule.min_age, rule.max_age
        samples: dict[str, int | None] = {str(Ineligible.AGE_UNKNOWN): None}
        code: Any = pl.when(pl.col("age").is_null()).then(pl.lit(str(Ineligible.AGE_UNKNOWN)))
        if lo is not None:
            code = code.when(pl.col("age") < lo).then(pl.lit(str(Ineligible.UNDER_AGE)))
            samples[str(Ineligible.UNDER_AGE)] = lo - 1
        if hi is not None:
            code = code.when(pl.col("age") > hi).then(pl.lit(str(Ineligible.OVER_AGE)))
            samples[str(Ineligible.OVER_AGE)] = hi + 1
        frames.append(aged.filter(pl.col("plan_id") != plan_id).select(
            "msisdn", pl.lit(plan_id).alias("plan_id"), code.otherwise(None).alias("reason")).drop_nulls("reason"))
        for key, sample in samples.items():
            reasons[(plan_id, key)] = rule.age_refusals(sample)[0]
    return pl.concat(frames).cast(REFUSED_COLUMNS).sort("plan_id", "msisdn"), reasons  # type: ignore[arg-type]


def _amount(minor: int, currency: str) -> str:
    d = Decimal(minor).scaleb(-minor_units(currency))
    return f"{d:,.{minor_units(currency)}f} {currency}"


def notice_text(row: Mapping[str, Any], catalog: Catalog, language: str = "en", *, vas_priced: bool = False,
                tax_included: bool = False) -> str:
    """A best-tariff notice for one advice row (ADVICE_COLUMNS), in ``zh`` or ``en``; ``vas_priced``: the advice
    priced value-added charges (``AdviceResult.vas_priced``), else the notice says they are left out;
    ``tax_included``: its amounts include the bills' tax (``AdviceResult.tax_rates``), and the notice says so.

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
        taxed = "以上金额均含税。" if tax_included else ""
        if not row["switch"]:
            return (f"【资费提醒】根据您 {span}（{months} 个月）的实际使用，您当前的「{cur_name}」已是最省钱的套餐，"
                    f"共计 {paid}。{taxed}")
        return (f"【最优资费提醒】根据您 {span}（{months} 个月）的实际使用，您在「{cur_name}」上共支付 {paid}。"
                f"同样的使用量，「{best_name}」只需 {would}，可节省 {_amount(saving, cur)}（约每月 {per_month}）。"
                + (f"但其中 {dearer} 个月「{best_name}」会比「{cur_name}」更贵（单月最多多付 {extra}）。" if dearer else "")
                + ("您可随时免费更换套餐；本提醒依据您的账单用量计算，含您已确认订购的增值业务。" if vas_priced
                   else "您可随时免费更换套餐；本提醒依据您的账单用量计算，不含增值业务费用。") + taxed)
    taxed = " Amounts include tax." if tax_included else ""
    if not row["switch"]:
        return (f"Your best tariff: based on your actual use over {months} month(s) ({span}), your current plan "
                f"{cur_name} is already the cheapest for you ({paid}).{taxed}")
    return (f"Your best tariff: over {months} month(s) ({span}) you paid {paid} on {cur_name}. For exactly the "
            f"same use, {best_name} would have cost {would}: a saving of {_amount(saving, cur)} (about {per_month} "
            f"a month). "
            + (f"But in {dearer} of these months {best_name} would have cost more than {cur_name} (up to {extra} "
               f"more in a month). " if dearer else "")
            + ("You can change plan at no charge. This notice is based on your billed usage, value-added services you "
               "confirmed included." if vas_priced else
               "You can change plan at no charge. This notice is based on your billed usage and leaves out "
               "value-added services.") + taxed)
