"""Per-row reasons in words: the features that pushed a score up most, phrased in zh and en.

A phrasebook maps a feature name (matched ignoring case, spaces and punctuation) to words for "high" and
"low" values, the feature's name in words and the unit of its values; features without an entry get a generic
phrase from the column's name ("premium night share is high (0.8)" / "premium night share 偏高（0.8）").

The strong words ("many night calls") are for a value outside the usual range of the training rows (at or
beyond their 10th or 90th percentile, when the model keeps them); a value within it that still raised the
score is stated with the typical value beside it ("share of calls at night: 18%, above the typical 15%").
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
    "1 day", "0 days", "2 days").

    ``name_en``/``name_zh``: the feature in words ("share of calls at night" / "夜间通话占比"), used when a
    value within the usual range is stated and when a direction has no words of its own. ``unit``: how
    ``{value}`` is written (``UNITS``): "share" as a percentage, "s" in seconds (minutes from ten minutes on),
    "min" in minutes, "bytes" and "mb" in MB or GB, "yuan" in yuan, "count" as a number without exponent;
    none: the value as it is."""

    high_en: str = ""
    high_zh: str = ""
    low_en: str = ""
    low_zh: str = ""
    category_en: str = ""
    category_zh: str = ""
    name_en: str = ""
    name_zh: str = ""
    unit: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k)}

    @classmethod
    def from_dict(cls, d: Mapping[str, str]) -> Phrase:
        return cls(**{k: str(v) for k, v in d.items() if k in cls.__slots__})


Phrasebook = Mapping[str, Phrase]


def phrase_key(name: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", name.lower())


def phrases_for(features: list[str], phrasebook: Phrasebook) -> dict[str, Phrase]:
    """The entries of a phrasebook that name one of these features, keyed by the feature's own name: the entry
    of exactly that name first (``voccalltype1``, a count, and ``voc_calltype1``, a share, are two entries that
    the loose match would confuse), else the one whose name matches ignoring case and punctuation."""
    book = {phrase_key(k): v for k, v in phrasebook.items()}
    out = {f: phrasebook[f] for f in features if f in phrasebook}
    return out | {f: book[phrase_key(f)] for f in features if f not in out and phrase_key(f) in book}


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


UNITS = frozenset({"", "count", "share", "s", "min", "bytes", "mb", "yuan"})


def column_words(feature: str) -> str:
    """A column's name as words: snake_case and camelCase split, "premium_night_share" → "premium night share"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", feature)
    return re.sub(r"[\s_]+", " ", spaced).strip() or feature


_CJK_LATIN = re.compile(r"(?<=[\u4e00-\u9fff])(?=[A-Za-z])|(?<=[A-Za-z])(?=[\u4e00-\u9fff])")


def space_zh(text: str) -> str:
    """Chinese text with a space between a Chinese character and a Latin letter ("premium night share 偏高")."""
    return _CJK_LATIN.sub(" ", text)


def _plain(v: float) -> str:
    """A number without an exponent: whole numbers as integers, others to 4 significant digits."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    text = f"{v:.4g}"
    if "e" in text:
        return f"{v:.0f}" if abs(v) >= 1 else f"{v:.2g}" if abs(v) >= 1e-4 else "0"
    return text


def _size(megabytes: float) -> str:
    if abs(megabytes) >= 1000:
        return f"{_plain(round(megabytes / 1000, 1))} GB"
    if abs(megabytes) >= 10 or megabytes == 0:
        return f"{_plain(round(megabytes))} MB"
    return f"{_plain(round(megabytes, 1 if abs(megabytes) >= 0.1 else 3))} MB"


def with_unit(value: str, unit: str) -> tuple[str, str]:
    """(en, zh) of a formatted value in its unit (``Phrase.unit``); the value as it is when it is no number."""
    try:
        v = float(value)
    except ValueError:
        return value, value
    if not math.isfinite(v) or unit not in UNITS or not unit:
        return value, value
    if unit == "share":
        pct = _plain(round(v * 100, 1 if abs(v) < 0.1 else 0))
        return f"{pct}%", f"{pct}%"
    if unit == "count":
        n = _plain(round(v, 2))
        return n, n
    if unit == "s" and abs(v) < 600:
        n = _plain(round(v, 1))
        return f"{n} s", f"{n}秒"
    if unit == "s":  # ten minutes or more: in minutes
        n = _plain(round(v / 60, 1))
        return f"{n} min", f"{n}分钟"
    if unit == "min":
        n = _plain(round(v, 1))
        return f"{n} min", f"{n}分钟"
    if unit in {"bytes", "mb"}:
        size = _size(v / 1e6 if unit == "bytes" else v)
        return size, size
    n = _plain(round(v, 2))  # yuan
    return f"{n} yuan", f"{n}元"


def phrase(
    feature: str, value: str, direction: Direction, entry: Phrase | None, *, typical: str | None = None
) -> tuple[str, str]:
    """(en, zh) words for one reason. ``typical``: the training rows' typical (median) value of the feature,
    given when ``value`` is within their usual range: the reason then states both rather than calling the value
    high or low. Without it, the words of the direction (a value outside the usual range, or a model that does
    not know the range)."""
    e = entry or Phrase()
    name_en = e.name_en or column_words(feature)
    name_zh = e.name_zh or column_words(feature)
    if direction is Direction.MISSING:
        return f"{name_en} is missing", space_zh(f"{name_zh}缺失")
    if direction is Direction.CATEGORY:
        en = e.category_en or f"{feature} is {{value}}"
        zh = e.category_zh or f"{feature}为{{value}}"
        return en.replace("{value}", value), zh.replace("{value}", value)
    value_en, value_zh = with_unit(value, e.unit)
    if typical is not None:
        typical_en, typical_zh = with_unit(typical, e.unit)
        side = _side(value, typical)
        if side > 0:
            return (
                f"{name_en}: {value_en}, above the typical {typical_en}",
                space_zh(f"{name_zh}为{value_zh}，高于一般水平（{typical_zh}）"),
            )
        if side < 0:
            return (
                f"{name_en}: {value_en}, below the typical {typical_en}",
                space_zh(f"{name_zh}为{value_zh}，低于一般水平（{typical_zh}）"),
            )
        return f"{name_en}: {value_en}, the typical value", space_zh(f"{name_zh}为{value_zh}，与一般水平相同")
    if direction is Direction.HIGH:
        en = e.high_en or f"{name_en} is high ({{value}})"
        zh = e.high_zh or f"{name_zh}偏高（{{value}}）"
    else:
        en = e.low_en or f"{name_en} is low ({{value}})"
        zh = e.low_zh or f"{name_zh}偏低（{{value}}）"
    return en.replace("{value}", value_en).replace("{s}", _plural_s(value)), space_zh(zh.replace("{value}", value_zh))


def _side(value: str, typical: str) -> int:
    try:
        v, t = float(value), float(typical)
    except ValueError:
        return 0
    return (v > t) - (v < t)


def _plural_s(value: str) -> str:
    """The English plural ending after ``value``: none after one (or minus one), "s" after any other."""
    return "" if value.strip().lstrip("+-") == "1" else "s"
