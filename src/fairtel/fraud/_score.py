"""The supervised model on the operator's own usage: per-line features → probabilities with reasons → cases.

The loop an operator runs: ``fraud detect`` opens rule cases, analysts confirm or dismiss them, ``fraud
features --out`` exports one row per line and period with the outcome as label (``feature_table`` +
``label_from_cases``), ``fraud train`` learns from it, and ``fraud score`` applies the model to a period's
features (``score_lines``): every line at or above the threshold becomes a ``model`` case in the same queue,
with the features that raised its score most as reasons in English and Chinese.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from fairtel.core.time import require_aware
from fairtel.fraud._cases import CaseQueue, CaseStatus, Detector, FraudCase, Reason, case_id
from fairtel.fraud._detectors import exempt_numbers
from fairtel.learn import Scored, TabularModel

ID_COLUMN = "msisdn"
PERIOD_COLUMN = "period"
LABEL_COLUMN = "fraud"
# Per-line columns that are keys or instants rather than behaviour: never model inputs (the ages derived
# from them, line_age_days and premium_line_age_days, are).
NOT_FEATURES = frozenset({ID_COLUMN, PERIOD_COLUMN, "first_at", "premium_first_at", "premium_last_at", "activated_at",
                          "holder_since"})


def feature_table(lines: pl.DataFrame, *, period: str) -> pl.DataFrame:
    """One row per line of ``FraudFeatures.lines``: ``msisdn``, ``period``, then every numeric feature."""
    numeric = [c for c, t in lines.schema.items() if c not in NOT_FEATURES and (t.is_numeric() or t == pl.Boolean)]
    return lines.select(
        pl.col(ID_COLUMN).cast(pl.String),
        pl.lit(period, dtype=pl.String).alias(PERIOD_COLUMN),
        *(pl.col(c).cast(pl.Float64) for c in numeric),
    )


def label_from_cases(table: pl.DataFrame, queue: CaseQueue, *, unreviewed: int | None = 0,
                     holding_from: Mapping[str, datetime] | None = None) -> pl.DataFrame:
    """Add the ``fraud`` label from the case queue: 1 where a case on the line in that period was confirmed,
    0 where its cases were all dismissed as false alarms, null where a case is still open (not yet known), and
    ``unreviewed`` (0 by default: presumed normal; None: unknown) for lines without any case. ``holding_from``
    (msisdn → when the current holding began: ``holding_starts``, the activation or a later owner change): a case
    opened before it is an earlier holder's of the number, or the previous customer's of the line, and labels
    nothing (the features are the current holder's alone)."""
    outcome: dict[tuple[str, str], int | None] = {}
    since = holding_from or {}
    for c in queue.cases():
        if c.subject_kind != "line":
            continue
        start = since.get(c.subject)
        if start is not None and c.opened_at < start:
            continue
        key = (c.subject, c.period)
        if c.status is CaseStatus.CONFIRMED:
            outcome[key] = 1
        elif c.status is CaseStatus.OPEN:
            if outcome.get(key) != 1:
                outcome[key] = None
        elif key not in outcome:
            outcome[key] = 0
    keys = zip(table.get_column(ID_COLUMN).to_list(), table.get_column(PERIOD_COLUMN).to_list(), strict=True)
    labels = [outcome.get(k, unreviewed) for k in keys]
    return table.with_columns(pl.Series(LABEL_COLUMN, labels, dtype=pl.Int64))


@dataclass(frozen=True, slots=True)
class LineScore:
    """One line's probability of fraud in one period, with the features that raised it most."""

    msisdn: str
    period: str
    probability: float
    flagged: bool
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"msisdn": self.msisdn, "period": self.period, "probability": round(self.probability, 6),
                "flagged": self.flagged, "reasons": [r.to_dict() for r in self.reasons]}


def _reason(scored_reason: Any) -> Reason:
    try:
        value: float | None = float(scored_reason.value)
    except ValueError:
        value = None
    if value is not None and not math.isfinite(value):
        value = None
    return Reason(scored_reason.feature, value, None, scored_reason.en, scored_reason.zh)


def score_lines(
    model: TabularModel,
    table: pl.DataFrame,
    *,
    period: str,
    now: datetime,
    threshold: float | None = None,
    top: int = 3,
    exempt: Collection[str] = (),
    explain_all: bool = False,
    id_key: bytes | None = None,
) -> tuple[list[LineScore], list[FraudCase]]:
    """Score every line of ``table`` (``feature_table``'s layout, or any table with the model's columns and
    ``msisdn``); lines at or above ``threshold`` (default: the model's own, chosen for F1 on out-of-fold
    scores when it was trained) become ``model`` cases, highest probability first. ``exempt`` lines are
    scored but open no case. Reasons are worked out for the lines at or above the threshold (the costly part
    of scoring), or for every line with ``explain_all``."""
    now = require_aware(now, "now")
    cut = model.threshold if threshold is None else threshold
    if table.height == 0:
        return [], []
    ids = table.get_column(ID_COLUMN).cast(pl.String).to_list()
    no_case = exempt_numbers(exempt)
    scored: list[Scored] = model.score(table, top=top, source=f"features {period}",
                                       explain_from=None if explain_all else cut)
    out: list[LineScore] = []
    cases: list[FraudCase] = []
    for msisdn, s in zip(ids, scored, strict=True):
        reasons = tuple(_reason(r) for r in s.reasons)
        flagged = s.probability >= cut and msisdn not in no_case
        out.append(LineScore(msisdn, period, s.probability, flagged, reasons))
        if not flagged:
            continue
        evidence: dict[str, Any] = {
            "probability": round(s.probability, 6),
            "threshold": round(cut, 6),
            "model_trained_at": model.meta.get("trained_at"),
            "model_data_hash": model.meta.get("data_hash"),
            **{r.code: r.value for r in reasons},
        }
        cases.append(FraudCase(
            case_id=case_id(Detector.MODEL, msisdn, period, id_key), detector=Detector.MODEL, subject=msisdn, period=period,
            score=round(s.probability, 6), evidence=evidence, reasons=reasons, opened_at=now,
        ))
    out.sort(key=lambda r: (-r.probability, r.msisdn))
    cases.sort(key=lambda c: (-c.score, c.subject))
    return out, cases


def flagged_only(scores: Iterable[LineScore]) -> list[LineScore]:
    return [s for s in scores if s.flagged]
