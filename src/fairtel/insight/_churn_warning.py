"""Churn early warning on the operator's own data: time-based training, validation, scoring and the
retention list.

Cuts (see ``_features`` for the windows and the label), with ``E`` the day after the last day of usage:

- validation cut ``V = E - (lead + label days)``: its label window is the last one the data fully covers;
- training cuts ``V - horizon``, ``V - horizon - step`` …: their label windows end on or before ``V``, so
  the model that is validated never saw a day of the validation labels (time-based validation);
- scoring cut ``E``: the final model, trained on every labelled cut (training cuts and ``V``), scores what
  each subscriber did in the observation window just before ``E``.

The model is the shared tabular scorer (``fairtel.learn``: LightGBM blended with a linear part, calibrated
probabilities, reasons from per-feature contributions), worded with this module's zh/en phrasebook; it keeps each
numeric feature's usual range, so that a reason calls a value high or low only outside it. The threshold of
``flagged`` is chosen out of time (``THRESHOLD_RULES``). The
retention list ranks subscribers by expected value: churn probability × monthly revenue (the plan's
monthly fee plus usage charges when rated lines are given): the revenue a call to the subscriber may keep,
so that a team with calls for only some of them calls first those it stands to lose most by. The one
definition is ``score_frame`` (the figures) and ``rank_retention`` (the order); `fairtel churn warn`, the
console and the API all rank with it, the latter two reading the exported list back (``retention_from_export``).

Lines nobody should call to keep are left out of the list, and counted by reason (``skipped``): a line closed
or suspended at the end of the scored period (the start of ``E``, read from the line status history when it is
given: ``ChurnWarning.status_as_of`` and ``status_from``), and a line with an open or confirmed fraud case
(``retention_skips``).
The revenue a call may keep is what the line is billed: the caller passes only billable charges (usage held
off the bill is not revenue), and a line whose usage is a fraud case (premium-rate minutes it pumped, calls it
terminated as a SIM box) is not on the list at all, so fraud is never ranked as revenue to retain. The same
fraud lines are kept out of the model's training and validation rows: a line that goes quiet because it was
caught and suspended did not churn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from fairtel.catalog import Catalog
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.insight._features import (
    Activity,
    ChurnWindow,
    activity,
    churn_features,
    churn_labels,
    cut_instant,
    holding_start,
    in_utc,
)
from fairtel.learn import Metrics, Phrase, Progress, TabularModel, TrainOptions, best_f1_threshold, train_model

TASK = "churn-warning"
LABEL = "churned"
ROW_ID = "row_id"
_NOT_FEATURES = ("msisdn", "cut")


def _p(name_en: str, name_zh: str, unit: str, high_en: str, high_zh: str, low_en: str = "", low_zh: str = "") -> Phrase:
    """A feature's words: its name, the unit of its values (``Phrase.unit``), and what a high (and a low) value
    says. The strong words are for a value outside the training rows' usual range (10th to 90th percentile, kept
    with the model); a value within it is stated beside the typical one, by name ("calls made a day: 2.1, below
    the typical 2.6")."""
    return Phrase(high_en, high_zh, low_en, low_zh, name_en=name_en, name_zh=name_zh, unit=unit)


# Units: "count" a number (to two decimals), "share" a percentage, "min" minutes, "mb" MB or GB, "yuan" money of
# an operator that bills in yuan (another currency's amounts are written as figures, its code in the name:
# ``churn_warning_phrases``); a ratio ("×") is a "count" too. A trend is the least-squares slope of the weekly
# totals over their weekly mean: a share of the usual week gained (or lost) each week.
CHURN_WARNING_PHRASES: dict[str, Phrase] = {
    "events_per_day": _p("uses a day (calls, messages, data sessions)", "每天使用次数（通话、短信、上网）", "count",
                         "very active ({value} use{s} a day)", "使用频繁（每天 {value} 次）",
                         "little use ({value} use{s} a day)", "使用很少（每天 {value} 次）"),
    "voice_out_per_day": _p("calls made a day", "每天主叫次数", "count",
                            "many calls made ({value} a day)", "主叫通话多（每天 {value} 次）",
                            "few calls made ({value} a day)", "主叫通话少（每天 {value} 次）"),
    "voice_in_per_day": _p("calls received a day", "每天被叫次数", "count",
                           "many calls received ({value} a day)", "被叫通话多（每天 {value} 次）",
                           "few calls received ({value} a day)", "被叫通话少（每天 {value} 次）"),
    "minutes_per_day": _p("call minutes a day", "每天通话时长", "min",
                          "many call minutes ({value} a day)", "通话时长多（每天 {value}）",
                          "few call minutes ({value} a day)", "通话时长少（每天 {value}）"),
    "sms_out_per_day": _p("messages sent a day", "每天发送短信数", "count",
                          "many messages sent ({value} a day)", "短信多（每天 {value} 条）",
                          "few messages sent ({value} a day)", "短信少（每天 {value} 条）"),
    "data_n_per_day": _p("data sessions a day", "每天上网次数", "count",
                         "frequent data sessions ({value} a day)", "上网频繁（每天 {value} 次）",
                         "few data sessions ({value} a day)", "上网次数少（每天 {value} 次）"),
    "data_mb_per_day": _p("data used a day", "每天流量", "mb",
                          "heavy data use ({value} a day)", "流量用得多（每天 {value}）",
                          "light data use ({value} a day)", "流量用得少（每天 {value}）"),
    "events_trend": _p("weekly change in use", "使用量每周变化", "share",
                       "use growing week by week ({value} a week)", "使用量逐周上升（每周 {value}）",
                       "use falling week by week ({value} a week)", "使用量逐周下降（每周 {value}）"),
    "voice_out_trend": _p("weekly change in calls made", "主叫次数每周变化", "share",
                          "calls made growing ({value} a week)", "主叫次数上升（每周 {value}）",
                          "calls made falling week by week ({value} a week)", "主叫次数逐周下降（每周 {value}）"),
    "minutes_trend": _p("weekly change in call minutes", "通话时长每周变化", "share",
                        "call minutes growing ({value} a week)", "通话时长上升（每周 {value}）",
                        "call minutes falling week by week ({value} a week)", "通话时长逐周下降（每周 {value}）"),
    "data_mb_trend": _p("weekly change in data use", "流量每周变化", "share",
                        "data use growing ({value} a week)", "流量上升（每周 {value}）",
                        "data use falling week by week ({value} a week)", "流量逐周下降（每周 {value}）"),
    "last_week_vs_mean": _p("last week against the usual week (×)", "上周与平时之比（倍）", "count",
                            "last week busier than usual ({value}×)", "上周比平时活跃（{value} 倍）",
                            "last week quieter than usual ({value}× the usual)", "上周明显少于平时（平时的 {value} 倍）"),
    "active_days_share": _p("share of days with use", "有使用的天数占比", "share",
                            "uses the line almost every day ({value} of days)", "几乎每天使用（{value} 的天数）",
                            "used on few days ({value} of days)", "使用天数少（{value} 的天数）"),
    "days_since_last_use": _p("days since the last use", "距上次使用天数", "count",
                              "no use for {value} day{s}", "已 {value} 天未使用", "used very recently", "最近仍在使用"),
    "days_since_last_call": _p("days since the last call made", "距上次主叫天数", "count",
                               "no call made for {value} day{s}", "已 {value} 天未主叫", "called recently", "最近有主叫"),
    "days_since_last_data": _p("days since the last data session", "距上次上网天数", "count",
                               "no data used for {value} day{s}", "已 {value} 天未上网", "used data recently", "最近有上网"),
    "distinct_peers": _p("people called or texted", "联系人数", "count",
                         "calls or texts many people ({value})", "联系人多（{value} 个）",
                         "contacts few people ({value})", "联系人少（{value} 个）"),
    "peers_trend": _p("people contacted lately against before (×)", "近期与此前联系人数之比（倍）", "count",
                      "more people contacted lately ({value}×)", "近期联系人增多（{value} 倍）",
                      "fewer people contacted lately ({value}×)", "近期联系人减少（{value} 倍）"),
    "intl_share": _p("share of calls made that are international", "国际通话占比", "share",
                     "many international calls ({value})", "国际通话占比高（{value}）"),
    "roaming_days": _p("days abroad", "出境漫游天数", "count",
                       "travelled abroad ({value} day{s})", "近期出境漫游（{value} 天）"),
    "tenure_months": _p("months on the network", "在网月数", "count",
                        "long-standing customer ({value} month{s})", "在网时间长（{value} 个月）",
                        "recent customer ({value} month{s})", "在网时间短（{value} 个月）"),
    "monthly_fee": _p("monthly fee", "月租", "yuan", "high monthly fee ({value})", "月租较高（{value}）",
                      "low monthly fee ({value})", "月租较低（{value}）"),
    "usage_charges_per_month": _p("usage charges a month", "每月通信费用", "yuan",
                                  "high usage charges ({value} a month)", "通信费用较高（每月 {value}）",
                                  "low usage charges ({value} a month)", "通信费用较低（每月 {value}）"),
    "complaints": _p("complaints", "投诉次数", "count",
                     "complained recently ({value} time{s})", "近期投诉（{value} 次）"),
    "complaints_price": _p("complaints about price", "资费投诉次数", "count",
                           "complained about price ({value})", "投诉资费贵（{value} 次）"),
    "complaints_network": _p("complaints about the network", "网络质量投诉次数", "count",
                             "complained about the network ({value})", "投诉网络质量（{value} 次）"),
    "complaints_billing": _p("complaints about a bill", "账单投诉次数", "count",
                             "complained about a bill ({value})", "投诉账单问题（{value} 次）"),
    "complaints_service": _p("complaints about service", "服务投诉次数", "count",
                             "complained about service ({value})", "投诉服务（{value} 次）"),
    "complaints_vas": _p("complaints about value-added charges", "增值业务扣费投诉次数", "count",
                         "complained about value-added charges ({value})", "投诉增值业务扣费（{value} 次）"),
    "days_since_complaint": _p("days since the last complaint", "距上次投诉天数", "count",
                               "last complaint {value} day{s} ago", "上次投诉在 {value} 天前",
                               "complained in the last few days ({value} day{s} ago)", "几天前刚投诉过（{value} 天前）"),
    "last_complaint": Phrase(category_en="last complaint was about {value}", category_zh="最近一次投诉：{value}"),
    "vas_cancelled": _p("value-added services cancelled", "退订增值业务数", "count",
                        "cancelled value-added services ({value})", "退订了增值业务（{value} 个）"),
    "vas_confirmed": _p("value-added services subscribed", "新订增值业务数", "count",
                        "subscribed to value-added services ({value})", "新订增值业务（{value} 个）"),
    "vas_active": _p("value-added services held", "在用增值业务数", "count",
                     "holds value-added services ({value})", "在用增值业务（{value} 个）",
                     "no value-added services", "没有在用的增值业务"),
    "plan_id": Phrase(category_en="plan {value}", category_zh="套餐：{value}"),
    "region": Phrase(category_en="region {value}", category_zh="地区：{value}"),
    "language": Phrase(category_en="language {value}", category_zh="语言：{value}"),
}
_MONEY_FEATURES = ("monthly_fee", "usage_charges_per_month")


def churn_warning_phrases(currency: str) -> dict[str, Phrase]:
    """The phrasebook for an operator billing in ``currency``: amounts in yuan ("39 yuan" / "39元") for CNY;
    another currency's amounts as figures, its code in the feature's name ("monthly fee (EUR): 12.5")."""
    if currency.upper() == "CNY":
        return dict(CHURN_WARNING_PHRASES)
    code = currency.upper()

    def in_code(e: Phrase) -> Phrase:
        def said(text: str) -> str:
            return text.replace("{value}", f"{{value}} {code}")

        return replace(e, unit="", name_en=f"{e.name_en} ({code})", name_zh=f"{e.name_zh}（{code}）",
                       high_en=said(e.high_en), high_zh=said(e.high_zh), low_en=said(e.low_en), low_zh=said(e.low_zh))

    return CHURN_WARNING_PHRASES | {k: in_code(CHURN_WARNING_PHRASES[k]) for k in _MONEY_FEATURES}


class ChurnWarningError(InvalidInputError):
    code = "churn_data_too_short"


@dataclass(frozen=True)
class ChurnData:
    """The operator's data for the warning (all frames; nothing is read from disk here).

    ``usage``: clean usage; ``subscribers``: msisdn, plan_id, activated_at (aware), language?, region?,
    holder_since? (aware: since when the current customer holds a line that moved to them with its activation kept,
    an owner change; their holding, and so every feature, tenure and fraud case of theirs, begins then), and
    the line's state when known: status? (``active`` | ``suspended`` | ``closed``), suspended_at?, closed_at?
    (aware); ``complaints``: msisdn, at, category; ``consent``: msisdn, event, at; ``charges``: rated lines
    the subscribers are billed for (msisdn, started_at, amount_minor; usage held off the bill left out);
    ``fraud_cases``: msisdn, status (``open`` | ``confirmed`` | ``false_alarm``), opened_at? (aware) of the fraud
    cases about our lines (``fraud_case_lines``; a case opened before the line's activation is an earlier
    holder's, ``fraud_lines``); ``status_history``: msisdn, status, since (aware), entry_id? of each change of
    a line's status (the register's ``line_status_history``: ``status`` from ``since`` on, until the line's next
    row), from which a line's status at the end of the scored period is read (``line_status_at``); without it, or
    for a line it has no row of, the register's current state above is judged instead; ``catalog`` gives the
    clock, the currency and the plans' monthly fees.
    """

    usage: pl.DataFrame | pl.LazyFrame
    subscribers: pl.DataFrame
    catalog: Catalog
    complaints: pl.DataFrame | None = None
    consent: pl.DataFrame | None = None
    charges: pl.DataFrame | None = None
    fraud_cases: pl.DataFrame | None = None
    status_history: pl.DataFrame | None = None

    def normalised(self) -> ChurnData:
        """The same data with every timestamp in UTC (time zones checked)."""
        def opt(frame: pl.DataFrame | None, col: str) -> pl.DataFrame | None:
            return None if frame is None or frame.height == 0 else in_utc(frame, col)

        subs = in_utc(self.subscribers.with_columns(pl.col("msisdn").cast(pl.String)), "activated_at")
        for col in ("suspended_at", "closed_at", "holder_since"):
            if col in subs.columns:
                subs = (subs.with_columns(pl.col(col).cast(pl.Datetime("us", "UTC"))) if subs.schema[col] == pl.Null
                        else in_utc(subs, col))
        history = self.status_history
        if history is not None:
            history = in_utc(history.with_columns(pl.col("msisdn").cast(pl.String)), "since")
        return ChurnData(
            self.usage, subs, self.catalog, opt(self.complaints, "at"), opt(self.consent, "at"),
            opt(self.charges, "started_at"), self.fraud_cases, history,
        )


@dataclass(frozen=True, slots=True)
class Cuts:
    train: tuple[date, ...]
    validation: date
    scoring: date


@dataclass
class ChurnWarning:
    """``scores``: one row per subscriber eligible at the scoring cut and not skipped (``retention_skips``; how
    many were, by reason, in ``counts['skipped']``), ranked by expected value. ``status_as_of``: the instant whose
    line status was judged (the end of the scored period: the start of the scoring cut), ``status_from`` what it
    was read from (``STATUS_FROM``)."""

    model: TabularModel
    window: ChurnWindow
    cuts: Cuts
    validation: Metrics
    scores: pl.DataFrame
    currency: str
    counts: dict[str, Any] = field(default_factory=dict)
    status_as_of: datetime | None = None
    status_from: str = "register"

    def retention_list(self, top: int | None = None) -> pl.DataFrame:
        ranked = rank_retention(self.scores)
        return ranked.head(top) if top else ranked

    def summary(self) -> dict[str, Any]:
        return {
            "cuts": {"train": [c.isoformat() for c in self.cuts.train], "validation": self.cuts.validation.isoformat(),
                     "scoring": self.cuts.scoring.isoformat()},
            "window": {"observation_days": self.window.observation_days, "lead_days": self.window.lead_days,
                       "label_days": self.window.label_days, "drop": self.window.drop},
            "validation": self.validation.to_dict(),
            "scored": self.scores.height,
            "flagged": int(self.scores["flagged"].sum()),
            "currency": self.currency,
            "status_as_of": self.status_as_of.isoformat() if self.status_as_of else None,
            "status_from": self.status_from,
            **self.counts,
        }


def plan_cuts(act: Activity, window: ChurnWindow, *, step_days: int = 7, max_train_cuts: int = 3) -> Cuts:
    end = act.last_day + timedelta(days=1)
    validation = end - timedelta(days=window.horizon)
    earliest = act.first_day + timedelta(days=window.observation_days)
    train: list[date] = []
    t = validation - timedelta(days=window.horizon)
    while t >= earliest and len(train) < max_train_cuts:
        train.append(t)
        t -= timedelta(days=step_days)
    if not train:
        need = window.observation_days + 2 * window.horizon
        have = (end - act.first_day).days
        raise ChurnWarningError(
            [Problem("usage", None, "started_at",
                     f"{have} days of usage; a time-based validation needs at least {need} "
                     f"({window.observation_days} observed + 2 × ({window.lead_days} lead + {window.label_days} label))")],
            what="churn data",
        )
    return Cuts(tuple(sorted(train)), validation, end)


# Why a line is left out of the retention list, in the order a line's one reason is chosen by.
SKIP_REASONS = ("closed", "suspended", "fraud_case")
# The fraud cases that keep a line off the list and out of the model's rows: not yet decided, or confirmed
# (a false alarm clears the line).
FRAUD_CASES_HELD = ("open", "confirmed")


def fraud_case_lines(cases: Iterable[Any]) -> pl.DataFrame:
    """The frame ``ChurnData.fraud_cases`` takes (msisdn, status, detector, case_id, opened_at), from fraud cases as
    the fraud queue holds them (``fairtel.fraud.CaseQueue`` or its ``cases()``): only cases about one of our lines
    (``subject_kind`` ``line``); a case about an outside number names no line of ours. ``opened_at`` (UTC) says
    which holder of a recycled number a case is about (``fraud_lines``)."""
    rows = [(str(c.subject), str(getattr(c.status, "value", c.status)), str(getattr(c.detector, "value", c.detector)),
             str(c.case_id), getattr(c, "opened_at", None)) for c in cases if getattr(c, "subject_kind", "line") == "line"]
    frame = pl.DataFrame(rows, schema={"msisdn": pl.String, "status": pl.String, "detector": pl.String,
                                       "case_id": pl.String, "opened_at": pl.Datetime("us", "UTC")}, orient="row")
    return frame.with_columns(pl.col("opened_at").dt.convert_time_zone("UTC"))


def fraud_lines(fraud_cases: pl.DataFrame | None, subscribers: pl.DataFrame | None = None) -> pl.Series:
    """msisdn of the lines with an open or confirmed fraud case (``FRAUD_CASES_HELD``). With ``subscribers``
    (msisdn, activated_at, holder_since?) and the cases' ``opened_at``, only the cases of a line's current holding
    count: a case opened before the line's (latest) activation, or before a later owner change (``holding_start``),
    is about an earlier holder of the number, and its new holder is not held to it. A case without ``opened_at``, or of a line the subscribers do not name, counts."""
    if fraud_cases is None or fraud_cases.height == 0:
        return pl.Series("msisdn", [], dtype=pl.String)
    held = fraud_cases.filter(pl.col("status").cast(pl.String).str.to_lowercase().is_in(FRAUD_CASES_HELD))
    if subscribers is not None and "activated_at" in subscribers.columns and "opened_at" in held.columns:
        held = held.with_columns(pl.col("msisdn").cast(pl.String)).join(
            holding_start(subscribers), on="msisdn", how="left")
        opened = pl.col("opened_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        held = held.filter(pl.col("_holding_from").is_null() | opened.is_null() | (opened >= pl.col("_holding_from")))
    return held.get_column("msisdn").cast(pl.String).unique().sort()


# What a ChurnWarning's line status was read from: the status history (each line it has a row of; the register
# for the others), or the register alone (no history given).
STATUS_FROM = ("status history", "register")


def line_status_at(history: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """msisdn, ``status`` and ``since`` of each line of the status ``history`` (msisdn, status, since, entry_id?)
    as it stood at the instant ``at``: its last row (by ``since``, then ``entry_id``) dated at or before ``at``. A
    line whose every row is later than ``at`` is not in the frame (the history does not say what it was then)."""
    order = ["msisdn", "since", *(["entry_id"] if "entry_id" in history.columns else [])]
    rows = history.select(pl.col("msisdn").cast(pl.String),
                          pl.col("status").cast(pl.String).str.strip_chars().str.to_lowercase(),
                          "since", *(["entry_id"] if "entry_id" in history.columns else []))
    return (rows.filter(pl.col("since") <= pl.lit(at)).sort(order, maintain_order=True)
            .group_by("msisdn", maintain_order=True).agg(pl.col("status").last(), pl.col("since").last())
            .sort("msisdn"))


def retention_skips(subscribers: pl.DataFrame, fraud_cases: pl.DataFrame | None, at: datetime,
                    history: pl.DataFrame | None = None) -> pl.DataFrame:
    """msisdn and ``reason`` (one of ``SKIP_REASONS``) of each line to leave out of a retention list whose period
    ends at the instant ``at``: ``closed`` or ``suspended`` when the line was so at ``at``, else ``fraud_case``
    when the line has an open or confirmed fraud case of its current holding (``fraud_lines``: one opened before
    the line's current holding began, at its ``activated_at`` or a later ``holder_since``, is an earlier holder's). Lines without a reason are not in the frame.

    The status at ``at`` is read from the status ``history`` (``line_status_at``) for every line it has a row of at
    or before ``at``: a line suspended after ``at`` was in service then, and one suspended before ``at`` and brought
    back since was suspended then. For the other lines (or without a history) the register's current state is
    judged: a status whose time stamp, ``closed_at`` or ``suspended_at``, is after ``at`` did not hold then, and
    one without a time stamp is taken as holding (the register keeps no earlier state, so a line brought back
    into service since ``at`` counts as in service)."""
    subs = subscribers.select(pl.col("msisdn").cast(pl.String),
                              *(c for c in ("status", "suspended_at", "closed_at") if c in subscribers.columns))
    reason: Any = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    if history is not None:
        then = line_status_at(history, at).select("msisdn", pl.col("status").alias("_status_then"))
        subs = subs.join(then, on="msisdn", how="full", coalesce=True)
        known = pl.col("_status_then").is_not_null()
        reason = (reason.when(known & (pl.col("_status_then") == "closed")).then(pl.lit("closed"))
                  .when(known & (pl.col("_status_then") == "suspended")).then(pl.lit("suspended")))
    else:
        known = pl.lit(False)
    if "status" in subs.columns:
        status = pl.col("status").cast(pl.String).str.strip_chars().str.to_lowercase()

        def held(col: str) -> pl.Expr:
            return (pl.col(col).is_null() | (pl.col(col) <= pl.lit(at))) if col in subs.columns else pl.lit(True)

        reason = (reason.when(~known & (status == "closed") & held("closed_at")).then(pl.lit("closed"))
                  .when(~known & (status == "suspended") & held("suspended_at")).then(pl.lit("suspended")))
    fraud = fraud_lines(fraud_cases, subscribers)
    reason = reason.when(pl.col("msisdn").is_in(fraud.implode())).then(pl.lit("fraud_case"))
    skips = subs.select("msisdn", reason.otherwise(pl.lit(None, dtype=pl.String)).alias("reason"))
    # a fraud line the subscriber table does not know is still one
    extra = pl.DataFrame({"msisdn": fraud, "reason": ["fraud_case"] * fraud.len()},
                         schema={"msisdn": pl.String, "reason": pl.String})
    skips = pl.concat([skips.filter(pl.col("reason").is_not_null()), extra.join(subs, on="msisdn", how="anti")])
    return skips.unique("msisdn", keep="first", maintain_order=True).sort("msisdn")


def _fees(catalog: Catalog) -> dict[str, float]:
    return {p.id: float(p.monthly_fee) for p in catalog.plans}


def _frame(data: ChurnData, act: Activity, cut: date, window: ChurnWindow, *, labelled: bool) -> pl.DataFrame:
    feats = churn_features(
        act, data.subscribers, cut, window, complaints=data.complaints, consent=data.consent, charges=data.charges,
        monthly_fee=_fees(data.catalog), minor_per_major=10 ** minor_units(data.catalog.operator.currency),
    )
    feats = feats.with_columns(
        (pl.col("tenure_days") / 30.44).round(2).alias("tenure_months"), pl.lit(cut.isoformat()).alias("cut")
    ).drop("tenure_days")
    feats = feats.with_columns(pl.concat_str(pl.col("msisdn"), pl.lit("@"), pl.col("cut")).alias(ROW_ID))
    if labelled:
        labels = churn_labels(act, data.subscribers, cut, window).select("msisdn", LABEL)
        feats = feats.join(labels, on="msisdn", how="inner")
    return feats


def _train(frame: pl.DataFrame, options: TrainOptions | None, progress: Progress | None, step: str,
           currency: str = "CNY") -> TabularModel:
    """The scorer, keeping each numeric feature's usual range (10th to 90th percentile of the training rows):
    a reason calls a value high or low only outside it, and states one within it beside the typical value. The
    training rows stack several cuts of the same subscribers, so its inner folds keep each subscriber's rows on one
    side (grouped by ``msisdn``): otherwise its early stopping, calibration and out-of-fold threshold would be fitted
    on scores of subscribers the fold's model had seen at another cut."""
    return train_model(frame, label=LABEL, id_column=ROW_ID, exclude=_NOT_FEATURES, options=options, task=TASK,
                       phrasebook=churn_warning_phrases(currency), source="churn features", progress=progress,
                       step=step, ranges=True, groups="msisdn")


# The fits report their folds as steps of their own: one name would count all against the total of one.
STEP_VALIDATION = "training folds (validation model)"
STEP_FINAL = "training folds (final model)"
STEP_THRESHOLD = "training folds (threshold check model)"

# How the threshold of ``flagged`` is chosen (``churn_early_warning(threshold=...)``):
# - ``recent_cut``: the share of subscribers to flag is the one that maximised F1 on the latest labelled cut,
#   scored by a model that never saw it (out of time); the threshold flags that share of the subscribers scored.
#   Churn is not equally common in every cut (a price rise, a competitor's offer), so a probability threshold
#   fitted on the pooled training cuts flags too few or too many at the next one; the share of the latest cut is
#   the nearest estimate of the next. The validation figures check the same rule one cut earlier: the share
#   that maximised F1 on the latest training cut, scored by a model trained on the earlier ones, is applied at
#   the validation cut (with a single training cut there is no earlier cut to check it on: the validation model
#   keeps its out-of-fold threshold there, and ``threshold['validated']`` says so);
# - ``out_of_fold``: the shared scorer's own threshold, maximising F1 on its out-of-fold scores of the pooled
#   training rows (every cut alike).
THRESHOLD_RULES = ("recent_cut", "out_of_fold")


def best_f1_share(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    """The share of rows flagged at the F1-maximising threshold of scores ``p`` against labels ``y``."""
    return float(np.mean(p >= best_f1_threshold(y, p))) if len(y) else 0.0


def share_threshold(p: np.ndarray[Any, Any], share: float) -> float:
    """The threshold that flags ``share`` of the scores ``p`` (at least one; ties at the threshold all flagged)."""
    k = min(len(p), max(1, round(share * len(p))))
    return float(np.sort(p)[::-1][k - 1])


def _labels(model: TabularModel, frame: pl.DataFrame) -> np.ndarray[Any, Any]:
    return model.spec.labels(frame, source="churn features")


def churn_early_warning(
    data: ChurnData,
    *,
    window: ChurnWindow | None = None,
    options: TrainOptions | None = None,
    step_days: int = 7,
    max_train_cuts: int = 3,
    progress: Progress | None = None,
    threshold: str = "recent_cut",
) -> ChurnWarning:
    """Train on earlier cuts, validate on the latest labelled cut, retrain on all labelled cuts and score the
    subscribers at the end of the data (see the module's docstring). ``threshold``: how the threshold of
    ``flagged`` is chosen (``THRESHOLD_RULES``)."""
    if threshold not in THRESHOLD_RULES:
        raise ValueError(f"threshold must be one of {', '.join(THRESHOLD_RULES)}, got {threshold!r}")
    win = window or ChurnWindow()
    data = data.normalised()
    tz = data.catalog.operator.timezone
    act = activity(data.usage, tz, data.subscribers)
    cuts = plan_cuts(act, win, step_days=step_days, max_train_cuts=max_train_cuts)
    fraud = fraud_lines(data.fraud_cases, data.subscribers).implode()
    # a fraud line goes quiet when it is caught and suspended: that is no churn to learn from
    train_all = pl.concat([_frame(data, act, c, win, labelled=True) for c in cuts.train], how="diagonal_relaxed")
    valid_all = _frame(data, act, cuts.validation, win, labelled=True)
    train = train_all.filter(~pl.col("msisdn").is_in(fraud))
    valid = valid_all.filter(~pl.col("msisdn").is_in(fraud))
    currency = data.catalog.operator.currency
    model = _train(train, options, progress, STEP_VALIDATION, currency)
    rule: dict[str, Any] = {"rule": threshold, "out_of_fold": model.threshold}
    p_valid = model.predict_proba(valid, source="validation cut")
    if threshold == "recent_cut":
        checked = _checked_share(train, cuts, options, progress, currency)
        if checked is not None:  # the rule applied one cut earlier: no validation label chose it
            rule["share_checked"] = checked
            model.threshold = share_threshold(p_valid, checked)
            rule["validated"] = "share that maximised F1 on the latest training cut, applied at the validation cut"
        else:
            rule["validated"] = ("out-of-fold threshold of the validation model (one training cut: the share rule "
                                 "has no earlier cut to be checked on)")
    metrics = model.evaluate(valid, source="validation cut")
    rule["validation"] = {k: getattr(metrics, k) for k in ("threshold", "f1", "precision", "recall")}
    final = _train(pl.concat([train, valid], how="diagonal_relaxed"), options, progress, STEP_FINAL, currency)
    scoring = _frame(data, act, cuts.scoring, win, labelled=False)
    if threshold == "recent_cut" and valid.height:
        share = best_f1_share(_labels(model, valid), p_valid)
        eligible_now = scoring.filter(~pl.col("msisdn").is_in(fraud))
        if eligible_now.height:
            final.threshold = share_threshold(final.predict_proba(eligible_now, source="churn features"), share)
            rule["share"] = share
    rule["threshold"] = final.threshold
    final.meta["threshold"] = rule
    # a line's status as of the end of the scored period (the start of the scoring cut), not as of today
    status_as_of = cut_instant(cuts.scoring, tz)
    skips = retention_skips(data.subscribers, data.fraud_cases, status_as_of, data.status_history)
    skipped = scoring.select("msisdn").join(skips, on="msisdn", how="inner")
    scoring = scoring.join(skipped, on="msisdn", how="anti")
    fees = {p.id: Money.of(p.monthly_fee, currency).to_minor() for p in data.catalog.plans}
    scores = score_frame(final, scoring, currency=currency, fees_minor=fees)
    by_reason = dict(skipped.group_by("reason").len().iter_rows())
    counts = {
        "rows_train": train.height,
        "positives_train": int(train[LABEL].sum()),
        "rows_validation": valid.height,
        "positives_validation": int(valid[LABEL].sum()),
        "rows_fraud_not_trained": train_all.height - train.height + valid_all.height - valid.height,
        "skipped": {r: int(by_reason.get(r, 0)) for r in SKIP_REASONS},
        "threshold": rule,
    }
    return ChurnWarning(final, win, cuts, metrics, scores, currency, counts, status_as_of=status_as_of,
                        status_from=STATUS_FROM[0] if data.status_history is not None else STATUS_FROM[1])


def _checked_share(train: pl.DataFrame, cuts: Cuts, options: TrainOptions | None, progress: Progress | None,
                   currency: str) -> float | None:
    """The share to flag that maximised F1 on the latest training cut, scored by a model trained on the earlier
    training cuts; None when there is one training cut, or too few churners before the latest to train on."""
    if len(cuts.train) < 2:
        return None
    latest = pl.col("cut") == cuts.train[-1].isoformat()
    earlier, last = train.filter(~latest), train.filter(latest)
    if int(earlier[LABEL].sum()) < 2 or int(last[LABEL].sum()) < 1 or last.height == 0:
        return None
    check = _train(earlier, options, progress, STEP_THRESHOLD, currency)
    return best_f1_share(_labels(check, last), check.predict_proba(last, source="churn features"))


def score_frame(
    model: TabularModel, features: pl.DataFrame, *, currency: str, fees_minor: dict[str, int] | None = None
) -> pl.DataFrame:
    """Probability, flag, three reasons (en, zh), monthly revenue and expected value for each row.

    Monthly revenue: the plan's fee (``fees_minor``: plan_id → minor units) plus the usage charges a month
    when the features have them, in minor units.
    """
    scored = model.score(features, top=3, source="churn features")
    unit = 10 ** minor_units(currency)
    fees = fees_minor or {}
    plans = features["plan_id"].to_list() if "plan_id" in features.columns else [None] * features.height
    usage = (features["usage_charges_per_month"].fill_null(0.0).to_list() if "usage_charges_per_month" in features.columns
             else [0.0] * features.height)
    revenue = [fees.get(str(p), 0) + int((Decimal(repr(u)) * unit).to_integral_value()) for p, u in zip(plans, usage, strict=True)]
    rows: dict[str, list[Any]] = {"msisdn": features["msisdn"].to_list(), "probability": [s.probability for s in scored],
                                  "flagged": [s.flagged for s in scored]}
    for k in range(3):
        rows[f"reason_{k + 1}_en"] = [s.reasons[k].en if len(s.reasons) > k else None for s in scored]
        rows[f"reason_{k + 1}_zh"] = [s.reasons[k].zh if len(s.reasons) > k else None for s in scored]
    out = pl.DataFrame(rows, schema_overrides={f"reason_{k + 1}_{lang}": pl.String for k in range(3) for lang in ("en", "zh")})
    extra = [c for c in ("plan_id", "language", "region") if c in features.columns]
    out = pl.concat([features.select(extra), out], how="horizontal") if extra else out
    return out.with_columns(
        pl.Series("monthly_revenue_minor", revenue, dtype=pl.Int64),
        (pl.col("probability") * pl.Series(revenue, dtype=pl.Float64)).round(0).cast(pl.Int64).alias("expected_value_minor"),
        pl.lit(currency).alias("currency"),
    ).select(
        "msisdn", *extra, "probability", "flagged", "monthly_revenue_minor", "expected_value_minor", "currency",
        *(f"reason_{k + 1}_{lang}" for k in range(3) for lang in ("en", "zh")),
    )


# The order of the retention list: the highest expected value first; equal values, the likelier leaver first,
# by the probability as the list shows it (so that a list read back from its export ranks as it was made).
RETENTION_ORDER = ("expected_value_minor", "probability")
PROBABILITY_PLACES = 4


def rank_retention(scores: pl.DataFrame, *, tie_break: str = "msisdn") -> pl.DataFrame:
    """The retention list in its order (``RETENTION_ORDER``, the probability to ``PROBABILITY_PLACES`` places as
    shown, then ``tie_break`` ascending), with a 1-based ``rank``.

    ``scores``: rows of ``score_frame`` (or read back by ``retention_from_export``; a ``rank`` they carry is
    replaced). A row without an expected value (a list scored before it was kept) comes after every row with
    one, by probability. ``tie_break``: the column that orders rows equal in both, ``msisdn`` by default; a
    reader that must not show the order of the numbers passes a column of their pseudonyms."""
    value, probability = RETENTION_ORDER
    ranked = scores.drop("rank", strict=False).sort(
        [pl.col(value), pl.col(probability).round(PROBABILITY_PLACES), pl.col(tie_break)],
        descending=[True, True, False], nulls_last=True, maintain_order=True)
    return ranked.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))


def _minor_of(col: str, digits: int) -> pl.Expr:
    """A major-unit decimal string as ``retention_csv`` writes it → integer minor units; anything else → null
    (never a rounded guess)."""
    text = pl.col(col).cast(pl.String).str.strip_chars()
    shape = r"^\d+$" if digits == 0 else rf"^\d+(\.\d{{1,{digits}}})?$"
    exact = pl.when(text.str.contains(shape)).then(text)
    return exact.cast(pl.Decimal(38, digits)).to_physical().cast(pl.Int64)


def retention_from_export(exported: pl.DataFrame) -> pl.DataFrame:
    """The retention list as ``retention_csv`` exported it (the outbox CSV, the lake's ``retention`` dataset), read
    back into ``score_frame``'s columns: ``probability`` as a float, ``expected_value_minor`` and
    ``monthly_revenue_minor`` in minor units (null where the list has no such figure), so that
    ``rank_retention`` ranks it as the list was ranked when it was made. Other columns are kept as they are."""
    named = exported["currency"].drop_nulls() if "currency" in exported.columns else pl.Series([], dtype=pl.String)
    cur = str(named[0]) if named.len() else None
    d = minor_units(cur) if cur else 0
    figures: list[pl.Expr] = [pl.col("probability").cast(pl.Float64)]
    for major, minor in (("expected_value", "expected_value_minor"), ("monthly_revenue", "monthly_revenue_minor")):
        if minor in exported.columns:
            figures.append(pl.col(minor).cast(pl.Int64))
        elif major in exported.columns and cur is not None:
            figures.append(_minor_of(major, d).alias(minor))
        else:
            figures.append(pl.lit(None, dtype=pl.Int64).alias(minor))
    return exported.with_columns(figures)


def retention_csv(ranked: pl.DataFrame) -> pl.DataFrame:
    """The retention list as exported: amounts in major units as decimal strings, probability rounded."""
    cur = str(ranked["currency"][0]) if ranked.height else "CNY"
    d = minor_units(cur)

    def major(col: str) -> pl.Expr:  # exact: integer minor units written as a decimal string (never negative)
        whole = (pl.col(col) // 10**d).cast(pl.String)
        return pl.concat_str(whole, pl.lit("."), (pl.col(col) % 10**d).cast(pl.String).str.zfill(d)) if d else whole

    front = [c for c in ("rank", "msisdn", "plan_id", "language", "region") if c in ranked.columns]
    return ranked.select(
        *front,
        pl.col("probability").round(PROBABILITY_PLACES),
        "flagged",
        major("monthly_revenue_minor").alias("monthly_revenue"),
        major("expected_value_minor").alias("expected_value"),
        "currency",
        *(f"reason_{k + 1}_{lang}" for k in range(3) for lang in ("en", "zh")),
    )


# How `fairtel churn retention --json` types the columns of the exported list (read back as text): as
# `fairtel churn warn --json` and the API give them. Amounts stay decimal strings (exact); the rest is text.
_RECORD_TYPES: dict[str, pl.DataType] = {"rank": pl.Int64(), "probability": pl.Float64(), "flagged": pl.Boolean()}
_RECORD_SHAPES = {"rank": "an integer", "probability": "a number", "flagged": "true or false"}


def retention_records(exported: pl.DataFrame, *, source: str = "retention list") -> list[dict[str, Any]]:
    """The rows of the retention list as ``retention_csv`` exported it and a reader read it back as text, typed
    for JSON: ``rank`` an integer, ``probability`` a number, ``flagged`` a boolean (``true``/``false``), amounts
    (``monthly_revenue``, ``expected_value``) decimal strings as written, other columns text; an empty cell is
    null. A cell that is not of its column's type is refused, naming the row (the file's line) and column."""
    problems: list[Problem] = []
    columns: list[pl.Series] = []
    for name in exported.columns:
        text = exported.get_column(name).cast(pl.String).str.strip_chars()
        text = pl.select(pl.when(text != "").then(text).alias(name)).to_series()
        dtype = _RECORD_TYPES.get(name)
        if dtype is None:
            columns.append(text)
            continue
        if dtype == pl.Boolean():
            typed = text.str.to_lowercase().replace_strict({"true": True, "false": False}, default=None,
                                                           return_dtype=pl.Boolean)
        else:
            typed = text.cast(dtype, strict=False)
        for row in (text.is_not_null() & typed.is_null()).arg_true().to_list():
            problems.append(Problem(source, row + 2, name, f"{text[row]!r} is not {_RECORD_SHAPES[name]}"))
        columns.append(typed)
    if problems:
        raise InvalidInputError(problems, what=source)
    return pl.DataFrame(columns).to_dicts() if columns else []
