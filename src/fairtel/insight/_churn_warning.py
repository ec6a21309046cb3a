"""Churn early warning on the operator's own data: time-based training, validation, scoring and the
retention list.

Cuts (see ``_features`` for the windows and the label), with ``E`` the day after the last day of usage:

- validation cut ``V = E - (lead + label days)``: its label window is the last one the data fully covers;
- training cuts ``V - horizon``, ``V - horizon - step`` …: their label windows end on or before ``V``, so
  the model that is validated never saw a day of the validation labels (time-based validation);
- scoring cut ``E``: the final model, trained on every labelled cut (training cuts and ``V``), scores what
  each subscriber did in the observation window just before ``E``.

The model is the shared tabular scorer (``fairtel.learn``: LightGBM blended with a linear part, calibrated
probabilities, reasons from per-feature contributions), worded with this module's zh/en phrasebook. The
retention list ranks subscribers by expected value: churn probability × monthly revenue (the plan's
monthly fee plus usage charges when rated lines are given): the revenue a call to the subscriber may keep,
so that a team with calls for only some of them calls first those it stands to lose most by. The one
definition is ``score_frame`` (the figures) and ``rank_retention`` (the order); `fairtel churn warn`, the
console and the API all rank with it, the latter two reading the exported list back (``retention_from_export``).

Lines nobody should call to keep are left out of the list, and counted by reason (``skipped``): a line closed
or suspended at the scoring instant, and a line with an open or confirmed fraud case (``retention_skips``).
The revenue a call may keep is what the line is billed: the caller passes only billable charges (usage held
off the bill is not revenue), and a line whose usage is a fraud case (premium-rate minutes it pumped, calls it
terminated as a SIM box) is not on the list at all, so fraud is never ranked as revenue to retain. The same
fraud lines are kept out of the model's training and validation rows: a line that goes quiet because it was
caught and suspended did not churn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

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
    in_utc,
)
from fairtel.learn import Metrics, Phrase, Progress, TabularModel, TrainOptions, train_model

TASK = "churn-warning"
LABEL = "churned"
ROW_ID = "row_id"
_NOT_FEATURES = ("msisdn", "cut")


def _p(high_en: str, high_zh: str, low_en: str = "", low_zh: str = "") -> Phrase:
    return Phrase(high_en, high_zh, low_en, low_zh)


CHURN_WARNING_PHRASES: dict[str, Phrase] = {
    "events_per_day": _p("very active ({value} use{s} a day)", "使用频繁（每天 {value} 次）",
                         "little use ({value} use{s} a day)", "使用很少（每天 {value} 次）"),
    "voice_out_per_day": _p("many calls made ({value} a day)", "主叫通话多（每天 {value} 次）",
                            "few calls made ({value} a day)", "主叫通话少（每天 {value} 次）"),
    "voice_in_per_day": _p("many calls received ({value} a day)", "被叫通话多（每天 {value} 次）",
                           "few calls received ({value} a day)", "被叫通话少（每天 {value} 次）"),
    "minutes_per_day": _p("many call minutes ({value} a day)", "通话时长多（每天 {value} 分钟）",
                          "few call minutes ({value} a day)", "通话时长少（每天 {value} 分钟）"),
    "sms_out_per_day": _p("many messages sent ({value} a day)", "短信多（每天 {value} 条）",
                          "few messages sent ({value} a day)", "短信少（每天 {value} 条）"),
    "data_n_per_day": _p("frequent data sessions ({value} a day)", "上网频繁（每天 {value} 次）",
                         "few data sessions ({value} a day)", "上网次数少（每天 {value} 次）"),
    "data_mb_per_day": _p("heavy data use ({value} MB a day)", "流量用得多（每天 {value} MB）",
                          "light data use ({value} MB a day)", "流量用得少（每天 {value} MB）"),
    "events_trend": _p("use growing week by week ({value})", "使用量逐周上升（{value}）",
                       "use falling week by week ({value})", "使用量逐周下降（{value}）"),
    "voice_out_trend": _p("calls made growing ({value})", "主叫次数上升（{value}）",
                          "calls made falling week by week ({value})", "主叫次数逐周下降（{value}）"),
    "minutes_trend": _p("call minutes growing ({value})", "通话时长上升（{value}）",
                        "call minutes falling week by week ({value})", "通话时长逐周下降（{value}）"),
    "data_mb_trend": _p("data use growing ({value})", "流量上升（{value}）",
                        "data use falling week by week ({value})", "流量逐周下降（{value}）"),
    "last_week_vs_mean": _p("last week busier than usual ({value}×)", "上周比平时活跃（{value} 倍）",
                            "last week quieter than usual ({value}× the usual)", "上周明显少于平时（平时的 {value} 倍）"),
    "active_days_share": _p("uses the line almost every day ({value})", "几乎每天使用（{value}）",
                            "used on few days ({value} of days)", "使用天数少（{value}）"),
    "days_since_last_use": _p("no use for {value} day{s}", "已 {value} 天未使用", "used very recently", "最近仍在使用"),
    "days_since_last_call": _p("no call made for {value} day{s}", "已 {value} 天未主叫", "called recently", "最近有主叫"),
    "days_since_last_data": _p("no data used for {value} day{s}", "已 {value} 天未上网", "used data recently", "最近有上网"),
    "distinct_peers": _p("calls or texts many people ({value})", "联系人多（{value} 个）",
                         "contacts few people ({value})", "联系人少（{value} 个）"),
    "peers_trend": _p("more people contacted lately ({value}×)", "近期联系人增多（{value} 倍）",
                      "fewer people contacted lately ({value}×)", "近期联系人减少（{value} 倍）"),
    "intl_share": _p("many international calls ({value})", "国际通话占比高（{value}）"),
    "roaming_days": _p("travelled abroad ({value} day{s})", "近期出境漫游（{value} 天）"),
    "tenure_months": _p("long-standing customer ({value} month{s})", "在网时间长（{value} 个月）",
                        "recent customer ({value} month{s})", "在网时间短（{value} 个月）"),
    "monthly_fee": _p("high monthly fee ({value})", "月租较高（{value}）", "low monthly fee ({value})", "月租较低（{value}）"),
    "usage_charges_per_month": _p("high usage charges ({value} a month)", "通信费用较高（每月 {value}）",
                                  "low usage charges ({value} a month)", "通信费用较低（每月 {value}）"),
    "complaints": _p("complained recently ({value} time{s})", "近期投诉（{value} 次）"),
    "complaints_price": _p("complained about price ({value})", "投诉资费贵（{value} 次）"),
    "complaints_network": _p("complained about the network ({value})", "投诉网络质量（{value} 次）"),
    "complaints_billing": _p("complained about a bill ({value})", "投诉账单问题（{value} 次）"),
    "complaints_service": _p("complained about service ({value})", "投诉服务（{value} 次）"),
    "complaints_vas": _p("complained about value-added charges ({value})", "投诉增值业务扣费（{value} 次）"),
    "days_since_complaint": _p("last complaint {value} day{s} ago", "上次投诉在 {value} 天前",
                               "complained in the last few days ({value} day{s} ago)", "几天前刚投诉过（{value} 天前）"),
    "last_complaint": Phrase(category_en="last complaint was about {value}", category_zh="最近一次投诉：{value}"),
    "vas_cancelled": _p("cancelled value-added services ({value})", "退订了增值业务（{value} 个）"),
    "vas_confirmed": _p("subscribed to value-added services ({value})", "新订增值业务（{value} 个）"),
    "vas_active": _p("holds value-added services ({value})", "在用增值业务（{value} 个）",
                     "no value-added services", "没有在用的增值业务"),
    "plan_id": Phrase(category_en="plan {value}", category_zh="套餐：{value}"),
    "region": Phrase(category_en="region {value}", category_zh="地区：{value}"),
    "language": Phrase(category_en="language {value}", category_zh="语言：{value}"),
}


class ChurnWarningError(InvalidInputError):
    code = "churn_data_too_short"


@dataclass(frozen=True)
class ChurnData:
    """The operator's data for the warning (all frames; nothing is read from disk here).

    ``usage``: clean usage; ``subscribers``: msisdn, plan_id, activated_at (aware), language?, region?, and
    the line's state when known: status? (``active`` | ``suspended`` | ``closed``), suspended_at?, closed_at?
    (aware); ``complaints``: msisdn, at, category; ``consent``: msisdn, event, at; ``charges``: rated lines
    the subscribers are billed for (msisdn, started_at, amount_minor; usage held off the bill left out);
    ``fraud_cases``: msisdn, status (``open`` | ``confirmed`` | ``false_alarm``) of the fraud cases about our
    lines (``fraud_case_lines``); ``catalog`` gives the clock, the currency and the plans' monthly fees.
    """

    usage: pl.DataFrame | pl.LazyFrame
    subscribers: pl.DataFrame
    catalog: Catalog
    complaints: pl.DataFrame | None = None
    consent: pl.DataFrame | None = None
    charges: pl.DataFrame | None = None
    fraud_cases: pl.DataFrame | None = None

    def normalised(self) -> ChurnData:
        """The same data with every timestamp in UTC (time zones checked)."""
        def opt(frame: pl.DataFrame | None, col: str) -> pl.DataFrame | None:
            return None if frame is None or frame.height == 0 else in_utc(frame, col)

        subs = in_utc(self.subscribers.with_columns(pl.col("msisdn").cast(pl.String)), "activated_at")
        for col in ("suspended_at", "closed_at"):
            if col in subs.columns:
                subs = (subs.with_columns(pl.col(col).cast(pl.Datetime("us", "UTC"))) if subs.schema[col] == pl.Null
                        else in_utc(subs, col))
        return ChurnData(
            self.usage, subs, self.catalog, opt(self.complaints, "at"), opt(self.consent, "at"),
            opt(self.charges, "started_at"), self.fraud_cases,
        )


@dataclass(frozen=True, slots=True)
class Cuts:
    train: tuple[date, ...]
    validation: date
    scoring: date


@dataclass
class ChurnWarning:
    """``scores``: one row per subscriber eligible at the scoring cut and not skipped (``retention_skips``; how
    many were, by reason, in ``counts['skipped']``), ranked by expected value."""

    model: TabularModel
    window: ChurnWindow
    cuts: Cuts
    validation: Metrics
    scores: pl.DataFrame
    currency: str
    counts: dict[str, Any] = field(default_factory=dict)

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
    """The frame ``ChurnData.fraud_cases`` takes (msisdn, status, detector, case_id), from fraud cases as the
    fraud queue holds them (``fairtel.fraud.CaseQueue`` or its ``cases()``): only cases about one of our lines
    (``subject_kind`` ``line``); a case about an outside number names no line of ours."""
    rows = [(str(c.subject), str(getattr(c.status, "value", c.status)), str(getattr(c.detector, "value", c.detector)),
             str(c.case_id)) for c in cases if getattr(c, "subject_kind", "line") == "line"]
    return pl.DataFrame(rows, schema={"msisdn": pl.String, "status": pl.String, "detector": pl.String,
                                      "case_id": pl.String}, orient="row")


def fraud_lines(fraud_cases: pl.DataFrame | None) -> pl.Series:
    """msisdn of the lines with an open or confirmed fraud case (``FRAUD_CASES_HELD``)."""
    if fraud_cases is None or fraud_cases.height == 0:
        return pl.Series("msisdn", [], dtype=pl.String)
    held = fraud_cases.filter(pl.col("status").cast(pl.String).str.to_lowercase().is_in(FRAUD_CASES_HELD))
    return held.get_column("msisdn").cast(pl.String).unique().sort()


def retention_skips(subscribers: pl.DataFrame, fraud_cases: pl.DataFrame | None, at: datetime) -> pl.DataFrame:
    """msisdn and ``reason`` (one of ``SKIP_REASONS``) of each line to leave out of a retention list scored at
    the instant ``at``: ``closed`` or ``suspended`` when the line was so at ``at`` (a status whose time stamp,
    ``closed_at`` or ``suspended_at``, is after ``at`` did not hold then; one without a time stamp is taken as
    holding), else ``fraud_case`` when the line has an open or confirmed fraud case. Lines without a reason
    are not in the frame."""
    subs = subscribers.select(pl.col("msisdn").cast(pl.String),
                              *(c for c in ("status", "suspended_at", "closed_at") if c in subscribers.columns))
    reason: Any = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    if "status" in subs.columns:
        status = pl.col("status").cast(pl.String).str.strip_chars().str.to_lowercase()

        def held(col: str) -> pl.Expr:
            return (pl.col(col).is_null() | (pl.col(col) <= pl.lit(at))) if col in subs.columns else pl.lit(True)

        reason = (reason.when((status == "closed") & held("closed_at")).then(pl.lit("closed"))
                  .when((status == "suspended") & held("suspended_at")).then(pl.lit("suspended")))
    fraud = fraud_lines(fraud_cases)
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


def _train(frame: pl.DataFrame, options: TrainOptions | None, progress: Progress | None, step: str) -> TabularModel:
    return train_model(frame, label=LABEL, id_column=ROW_ID, exclude=_NOT_FEATURES, options=options, task=TASK,
                       phrasebook=CHURN_WARNING_PHRASES, source="churn features", progress=progress, step=step)


# The two fits report their folds as two steps: one name would count both against the total of one.
STEP_VALIDATION = "training folds (validation model)"
STEP_FINAL = "training folds (final model)"


def churn_early_warning(
    data: ChurnData,
    *,
    window: ChurnWindow | None = None,
    options: TrainOptions | None = None,
    step_days: int = 7,
    max_train_cuts: int = 3,
    progress: Progress | None = None,
) -> ChurnWarning:
    """Train on earlier cuts, validate on the latest labelled cut, retrain on all labelled cuts and score the
    subscribers at the end of the data (see the module's docstring)."""
    win = window or ChurnWindow()
    data = data.normalised()
    tz = data.catalog.operator.timezone
    act = activity(data.usage, tz)
    cuts = plan_cuts(act, win, step_days=step_days, max_train_cuts=max_train_cuts)
    fraud = fraud_lines(data.fraud_cases).implode()
    # a fraud line goes quiet when it is caught and suspended: that is no churn to learn from
    train_all = pl.concat([_frame(data, act, c, win, labelled=True) for c in cuts.train], how="diagonal_relaxed")
    valid_all = _frame(data, act, cuts.validation, win, labelled=True)
    train = train_all.filter(~pl.col("msisdn").is_in(fraud))
    valid = valid_all.filter(~pl.col("msisdn").is_in(fraud))
    model = _train(train, options, progress, STEP_VALIDATION)
    metrics = model.evaluate(valid, source="validation cut")
    final = _train(pl.concat([train, valid], how="diagonal_relaxed"), options, progress, STEP_FINAL)
    scoring = _frame(data, act, cuts.scoring, win, labelled=False)
    skips = retention_skips(data.subscribers, data.fraud_cases, cut_instant(cuts.scoring, tz))
    skipped = scoring.select("msisdn").join(skips, on="msisdn", how="inner")
    scoring = scoring.join(skipped, on="msisdn", how="anti")
    currency = data.catalog.operator.currency
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
    }
    return ChurnWarning(final, win, cuts, metrics, scores, currency, counts)


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
