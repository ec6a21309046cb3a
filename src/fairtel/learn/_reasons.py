"""Per-row reasons in words: the features that pushed a score up most, phrased in zh and en.

A phrasebook maps a feature name (matched ignoring case, spaces and punctuation) to words for "high" and
"low" values; features without an entry get a generic phrase ("<feature> is high").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    HIGH = "high"
    LOW = "low"
    MISSING = "missing"
    CATEGORY = "category"


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words for one feature. ``{value}`` in a text is replaced by the row's value; ``category`` texts by the level.
    ``{s}`` in an English text is the plural ending the value calls for: "" after 1, else "s" ("{value} day{s}":
    "1 day", "0 days", "2 days")."""

    high_en: str = ""
    high_zh: str = ""
    low_en: str = ""
    low_zh: str = ""
    category_en: str = ""
    category_zh: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k)}

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> Phrase:
        return cls(**{k: str(v) for k, v in d.items() if k in cls.__slots__})


Phrasebook = Mapping[str, Phrase]


def phrase_key(name: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", name.lower())


def phrases_for(features: list[str], phrasebook: Phrasebook) -> dict[str, Phrase]:
    """The entries of a phrasebook that name one of these features, keyed by the feature's own name."""
    book = {phrase_key(k): v for k, v in phrasebook.items()}
    return {f: book[phrase_key(f)] for f in features if phrase_key(f) in book}


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    value: str
    direction: Direction
    contribution: float  # log-odds added to this row's score by this feature
    en: str
    zh: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": self.value,
            "direction": self.direction.value,
            "contribution": round(self.contribution, 6),
            "en": self.en,
            "zh": self.zh,
        }


def format_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


def phrase(feature: str, value: str, direction: Direction, entry: Phrase | None) -> tuple[str, str]:
    """(en, zh) words for one reason."""
    e = entry or Phrase()
    if direction is Direction.MISSING:
        return f"{feature} is missing", f"{feature}缺失"
    if direction is Direction.CATEGORY:
        en = e.category_en or f"{feature} is {{value}}"
        zh = e.category_zh or f"{feature}为{{value}}"
    elif direction is Direction.HIGH:
        en = e.high_en or f"{feature} is high ({{value}})"
        zh = e.high_zh or f"{feature}偏高（{{value}}）"
    else:
        en = e.low_en or f"{feature} is low ({{value}})"
        zh = e.low_zh or f"{feature}偏低（{{value}}）"
    return en.replace("{value}", value).replace("{s}", _plural_s(value)), zh.replace("{value}", value)


def _plural_s(value: str) -> str:
    """The English plural ending after ``value``: none after one (or minus one), "s" after any other."""
    return "" if value.strip().lstrip("+-") == "1" else "s"
