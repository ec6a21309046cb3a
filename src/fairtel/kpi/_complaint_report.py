"""The complaints report an operator files: complaints per million subscribers, by category, in the
regulator's words (zh or en).

Two counts, as the regulator keeps them apart:

- 投诉 (``complaints``): complaints made to the operator, through every channel, opened in the month, each
  once however often it is reopened (as ``complaint_rates`` counts them);
- 申诉 (``appeals``): of them, those lodged with the regulator (channel ``regulator``).

The month's rates divide by the lines in service at some time in the month (:func:`lines_in_service`, as
``fairtel kpi``'s). The operators' published figures are appeal rates over a year to date (China Unicom 2017,
"截至2017年12月，累计申诉率32.4件/百万用户 … 不明扣费申诉率0.78件/百万用户，未发生恶意扣费申诉": 13,500/32.4
and 327/0.78 both give about 4.2亿, one user base, the lines in service at the year's end), so a category's target is
judged on its appeals from January to the end of the month over the lines in service at the month's end
(:func:`lines_in_service_at`), not over every line in service at some time in those months (a base that grows with
churn and makes the rate look better); the month's own rates are shown beside it. A category without a
published figure has no target. Rates are Decimals rounded half-up to 2 places, counts stay integers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from fairtel.care import ComplaintCategory
from fairtel.care._complaints import MALICIOUS_CHARGE, ROAMING, category_label
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.time import require_aware
from fairtel.kpi._service import UNEXPLAINED_CHARGE_REFERENCE, ComplaintFact, per_million

APPEAL_CHANNEL = "regulator"  # a complaint lodged with the regulator: an appeal (申诉)
TOTAL = "total"
LANGUAGES = ("zh", "en")
TARGET_SOURCE = "China Unicom 2017, appeals per million subscribers, January to December"
# What each rate of the report divides by (its JSON says so beside the counts).
DENOMINATORS: Mapping[str, str] = MappingProxyType({
    "subscribers": "lines in service at some time in the month (complaints_per_million, appeals_per_million)",
    "year_subscribers": "lines in service at the end of the month, as operators publish year-to-date rates "
                        "(year_appeals_per_million, judged against target_per_million)",
})
# Appeals per million subscribers over a year to date, as operators publish them (the source above): every
# category, unexplained charges, and malicious charging (none).
APPEAL_TARGETS: Mapping[str, Decimal] = MappingProxyType(
    {
        TOTAL: Decimal("32.4"),
        ComplaintCategory.UNEXPLAINED_CHARGE.value: UNEXPLAINED_CHARGE_REFERENCE,
        MALICIOUS_CHARGE: Decimal("0"),
    }
)
# The regulator's categories first (its two charge categories, then roaming), then the others.
REPORT_ORDER: tuple[str, ...] = (ComplaintCategory.UNEXPLAINED_CHARGE.value, MALICIOUS_CHARGE, ROAMING)
_TOTAL_LABEL = ("合计", "all categories")
_HEADERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "zh": (
            "类别",
            "投诉量",
            "投诉率(件/百万用户)",
            "申诉量",
            "申诉率(件/百万用户)",
            "年累计申诉量",
            "年累计申诉率",
            "目标申诉率",
            "是否达标",
        ),
        "en": (
            "category",
            "complaints",
            "per million",
            "appeals",
            "appeals per million",
            "appeals YTD",
            "appeals YTD per million",
            "target",
            "met",
        ),
    }
)
_MET = MappingProxyType({"zh": {True: "达标", False: "未达标", None: "-"}, "en": {True: "yes", False: "no", None: "-"}})


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    """One category (or ``total``) of the report. ``met``: the year-to-date appeal rate at or under the
    target (None: no target, or no subscribers to divide by)."""

    category: str
    label: str
    complaints: int
    complaints_per_million: Decimal | None
    appeals: int
    appeals_per_million: Decimal | None
    year_appeals: int
    year_appeals_per_million: Decimal | None
    target_per_million: Decimal | None
    met: bool | None

    def to_dict(self) -> dict[str, Any]:
        def text(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "category": self.category,
            "label": self.label,
            "complaints": self.complaints,
            "complaints_per_million": text(self.complaints_per_million),
            "appeals": self.appeals,
            "appeals_per_million": text(self.appeals_per_million),
            "year_appeals": self.year_appeals,
            "year_appeals_per_million": text(self.year_appeals_per_million),
            "target_per_million": text(self.target_per_million),
            "met": self.met,
        }


@dataclass(frozen=True)
class ComplaintReport:
    period: str  # YYYY-MM
    lang: str
    subscribers: int  # lines in service at some time in the month: the month's rates' denominator
    year_subscribers: int  # lines in service at the end of the month: the year-to-date rates' denominator
    categories: tuple[CategoryFigures, ...]
    total: CategoryFigures
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "lang": self.lang,
            "subscribers": self.subscribers,
            "year_subscribers": self.year_subscribers,
            "denominators": dict(DENOMINATORS),
            "appeal_channel": APPEAL_CHANNEL,
            "target_source": TARGET_SOURCE,
            "categories": [c.to_dict() for c in self.categories],
            "total": self.total.to_dict(),
            "notes": list(self.notes),
        }

    def headers(self) -> tuple[str, ...]:
        return _HEADERS[self.lang]

    def rows(self) -> list[list[str]]:
        """The report as a table, in its language: each category, then the total."""
        met = _MET[self.lang]

        def cell(v: Decimal | None) -> str:
            return "-" if v is None else str(v)

        return [
            [
                f.label,
                str(f.complaints),
                cell(f.complaints_per_million),
                str(f.appeals),
                cell(f.appeals_per_million),
                str(f.year_appeals),
                cell(f.year_appeals_per_million),
                cell(f.target_per_million),
                met[f.met],
            ]
            for f in (*self.categories, self.total)
        ]


def _utc(at: datetime, name: str) -> datetime:
    return require_aware(at, name).astimezone(UTC)


def complaint_report(
    complaints: Sequence[ComplaintFact],
    *,
    period: str,
    subscribers: int,
    year_subscribers: int,
    start: datetime,
    end: datetime,
    year_start: datetime,
    lang: str = "zh",
) -> ComplaintReport:
    """The report of the month [start, end) from the complaints opened from ``year_start`` (its January) to
    ``end`` (others given are left out; each complaint counted once), with the lines in service in the month
    (``subscribers``) and at its end (``year_subscribers``, the year-to-date rates' base). Every category is
    listed, the regulator's first, with none when it had none (and a note for one of the regulator's that complaints are not filed
    under yet); a code stored that no category has (a row written under an older code) is listed after them
    under its code."""
    if lang not in LANGUAGES:
        raise InvalidInputError(
            [Problem("report", None, "lang", f"one of {', '.join(LANGUAGES)}, not {lang!r}")], what="complaints report"
        )
    s, e, y = _utc(start, "start"), _utc(end, "end"), _utc(year_start, "year_start")
    month: Counter[str] = Counter()
    month_appeals: Counter[str] = Counter()
    year_appeals: Counter[str] = Counter()
    seen: set[str] = set()
    for c in complaints:
        if c.complaint_id in seen:
            continue
        seen.add(c.complaint_id)
        at = _utc(c.opened_at, "opened_at")
        if not y <= at < e:
            continue
        appeal = c.channel == APPEAL_CHANNEL
        year_appeals[c.category] += appeal
        if s <= at:
            month[c.category] += 1
            month_appeals[c.category] += appeal
    known = list(dict.fromkeys((*REPORT_ORDER, *(c.value for c in ComplaintCategory))))
    stored = sorted((set(month) | set(year_appeals)) - set(known))
    rows = tuple(
        _figures(
            code,
            category_label(code, lang),
            month[code],
            month_appeals[code],
            year_appeals[code],
            subscribers,
            year_subscribers,
        )
        for code in (*known, *stored)
    )
    total = _figures(
        TOTAL,
        _TOTAL_LABEL[LANGUAGES.index(lang)],
        sum(month.values()),
        sum(month_appeals.values()),
        sum(year_appeals.values()),
        subscribers,
        year_subscribers,
    )
    notes: list[str] = []
    if subscribers <= 0:
        notes.append("no subscribers in the month: per-million rates are undefined")
    return ComplaintReport(period, lang, subscribers, year_subscribers, rows, total, notes)


def _figures(
    code: str, label: str, complaints: int, appeals: int, year_appeals: int, subscribers: int, year_subscribers: int
) -> CategoryFigures:
    target = APPEAL_TARGETS.get(code)
    year_rate = per_million(year_appeals, year_subscribers)
    met = None if target is None or year_rate is None else year_rate <= target
    return CategoryFigures(
        code,
        label,
        complaints,
        per_million(complaints, subscribers),
        appeals,
        per_million(appeals, subscribers),
        year_appeals,
        year_rate,
        target,
        met,
    )
