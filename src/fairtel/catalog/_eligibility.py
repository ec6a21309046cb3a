"""Who may take up a plan (``[plans.eligibility]``): on sale or withdrawn, a sale window, an age range, the
channels it is sold through. Rating never reads it (a plan's holders are billed on it whatever it says); plan
advice does, so that a plan is only advised to a subscriber who could order it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fairtel.core.contracts import ConsentChannel, Language
from fairtel.core.time import require_aware

SALES_CHANNELS: tuple[str, ...] = tuple(c.value for c in ConsentChannel)
"""The channels a plan may be sold through: those the operator takes orders on (as consent events name them)."""

MAX_AGE = 150


class Ineligible(StrEnum):
    """Why a plan may not be taken up. Stable codes: advice output and its explanations carry them."""

    WITHDRAWN = "withdrawn"  # on_sale = false: closed to new orders
    NOT_YET_ON_SALE = "not_yet_on_sale"  # before sale_from
    SALE_ENDED = "sale_ended"  # at or after sale_until
    CHANNEL = "channel"  # sold only through other channels
    AGE_UNKNOWN = "age_unknown"  # an age range, and the subscriber's age is not known
    UNDER_AGE = "under_min_age"
    OVER_AGE = "over_max_age"


@dataclass(frozen=True, slots=True)
class Refusal:
    """One reason a plan may not be taken up: a stable ``code`` and the reason in both languages. The text
    names the plan's rule, never the subscriber's age or anything it was told from."""

    code: str
    zh: str
    en: str

    def in_language(self, language: Language | str) -> str:
        return self.zh if str(language) == Language.ZH else self.en


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="minutes") if at.second == 0 and at.microsecond == 0 else at.isoformat()


@dataclass(frozen=True, slots=True)
class Eligibility:
    """A plan's conditions of sale. The default (no ``[plans.eligibility]``) is a plan anyone may order anywhere.

    ``on_sale`` false: withdrawn (its holders keep it); ``sale_from`` / ``sale_until``: on sale in
    ``[sale_from, sale_until)``; ``min_age`` / ``max_age``: whole years on the day of the order, both included;
    ``channels``: sold only through these (``SALES_CHANNELS``), ``None`` through every channel.
    """

    on_sale: bool = True
    sale_from: datetime | None = None
    sale_until: datetime | None = None
    min_age: int | None = None
    max_age: int | None = None
    channels: frozenset[str] | None = None

    @property
    def by_age(self) -> bool:
        """Whether the plan is for some ages only (then a subscriber's age decides)."""
        return self.min_age is not None or self.max_age is not None

    @property
    def restricted(self) -> bool:
        return self != Eligibility()

    def sale_refusals(self, *, at: datetime, channel: str | None = None) -> tuple[Refusal, ...]:
        """Why nobody may order the plan at ``at`` through ``channel`` (``None``: no channel named, so a plan
        sold only through some channels is refused); empty when it is on sale there."""
        require_aware(at, "at")
        out: list[Refusal] = []
        if not self.on_sale:
            out.append(Refusal(Ineligible.WITHDRAWN, "已停售，不再受理新办", "withdrawn from sale: closed to new orders"))
        if self.sale_from is not None and at < self.sale_from:
            t = _stamp(self.sale_from)
            out.append(Refusal(Ineligible.NOT_YET_ON_SALE, f"{t} 起才开始销售", f"on sale only from {t}"))
        if self.sale_until is not None and at >= self.sale_until:
            t = _stamp(self.sale_until)
            out.append(Refusal(Ineligible.SALE_ENDED, f"已于 {t} 停止销售", f"sale ended {t}"))
        if self.channels is not None and channel not in self.channels:
            listed = ", ".join(sorted(self.channels))
            zh_why = "本次建议未指明渠道" if channel is None else f"不含 {channel}"
            en_why = "the advice names no channel" if channel is None else f"not through {channel}"
            out.append(Refusal(Ineligible.CHANNEL, f"仅限 {listed} 渠道办理（{zh_why}）",
                               f"sold only through {listed} ({en_why})"))
        return tuple(out)

    def age_refusals(self, age: int | None) -> tuple[Refusal, ...]:
        """Why a subscriber of ``age`` (whole years; ``None``: not known) may not order the plan; empty when the
        plan has no age range or the age is in it. An unknown age is refused: the plan is not for everyone."""
        if not self.by_age:
            return ()
        zh_range, en_range = self._age_range()
        if age is None:
            return (Refusal(Ineligible.AGE_UNKNOWN, f"仅限{zh_range}用户办理，用户年龄未知",
                            f"only for subscribers aged {en_range}; the subscriber's age is not known"),)
        if self.min_age is not None and age < self.min_age:
            return (Refusal(Ineligible.UNDER_AGE, f"仅限{zh_range}用户办理", f"only for subscribers aged {en_range}"),)
        if self.max_age is not None and age > self.max_age:
            return (Refusal(Ineligible.OVER_AGE, f"仅限{zh_range}用户办理", f"only for subscribers aged {en_range}"),)
        return ()

    def refusals(self, *, at: datetime, age: int | None = None, channel: str | None = None) -> tuple[Refusal, ...]:
        """Every reason the plan may not be ordered at ``at`` through ``channel`` by a subscriber of ``age``."""
        return (*self.sale_refusals(at=at, channel=channel), *self.age_refusals(age))

    def describe(self) -> str:
        """Who may order the plan, in a line (``anyone`` for the default): what ``fairtel catalog show`` prints."""
        if not self.restricted:
            return "anyone"
        parts: list[str] = [] if self.on_sale else ["withdrawn from sale"]
        if self.sale_from is not None or self.sale_until is not None:
            lo = _stamp(self.sale_from) if self.sale_from is not None else "…"
            hi = _stamp(self.sale_until) if self.sale_until is not None else "…"
            parts.append(f"on sale {lo} to {hi}")
        if self.by_age:
            parts.append(f"aged {self._age_range()[1]}")
        if self.channels is not None:
            parts.append("through " + ", ".join(sorted(self.channels)))
        return "; ".join(parts)

    def as_json(self) -> dict[str, object]:
        """The conditions as ``[plans.eligibility]`` states them (instants as ISO 8601, channels sorted)."""
        return {
            "on_sale": self.on_sale,
            "sale_from": None if self.sale_from is None else self.sale_from.isoformat(),
            "sale_until": None if self.sale_until is None else self.sale_until.isoformat(),
            "min_age": self.min_age,
            "max_age": self.max_age,
            "channels": None if self.channels is None else sorted(self.channels),
        }

    def _age_range(self) -> tuple[str, str]:
        lo, hi = self.min_age, self.max_age
        if lo is not None and hi is not None:
            return f" {lo} 至 {hi} 周岁", f"{lo} to {hi}"
        if lo is not None:
            return f" {lo} 周岁及以上", f"{lo} or over"
        return f" {hi} 周岁及以下", f"{hi} or under"
