"""Slot extraction for the conversation layer: which month, which number, which country, which offer.

Each helper takes one message (Chinese, English or mixed) and returns a normalised value or ``None``:

- :func:`extract_month` → ``"YYYY-MM"`` relative to a given ``today`` ("上个月", "10月", "last month",
  "October 2026"); a month named without a year is the most recent one not in the future, since people ask
  about bills that exist;
- :func:`extract_msisdn` → the 13-digit msisdn ``86`` + 11-digit mobile number;
- :func:`extract_country` → ISO 3166-1 alpha-2 for common destinations named in Chinese or English;
- :func:`extract_offer` → the offer id a message names, by id or by an alias.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date

from fairtel.core.countries import CALLING_CODES
from fairtel.rating._countries import COUNTRY_NAMES as ISO_COUNTRY_NAMES

# -- month ------------------------------------------------------------------------------------------------
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_MONTH_CONTEXT = re.compile(r"\b(?:in|for|of|from|during|since|until)\s+$")
_EN_COUNTS = {"one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "twelve": 12}
_ZH_MONTH_NUM = r"(?:(?<!\d)(?:1[0-2]|0?[1-9])|十[一二]?|[一二两三四五六七八九])"  # "15月" is no month

# A bare 上月 / 下月 (without 个) is also the tail of other words: 查一下月租 is "look up the monthly fee",
# 早上月租扣了 "this morning the monthly fee was taken"; those are not a month.
_ZH_COMPOUND = r"(?![租费費度结結卡包])"
_ZH_RELATIVE = [
    (re.compile(r"上上(?:个|個)?月"), -2),
    (re.compile(r"(?<!上)上一?(?:个|個)月|(?<![上早晚马路网线以])上一?月" + _ZH_COMPOUND), -1),
    (re.compile(r"(?:本|这|這|当|當)(?:个|個)?月"), 0),
    (re.compile(r"(?<![一])下一?(?:个|個)月|(?<![一])下一?月" + _ZH_COMPOUND), 1),
]
_ZH_N_MONTHS_AGO = re.compile(r"(\d{1,2}|[一二两三四五六七八九十]+)(?:个|個)月(?:以)?前")
_ZH_DATED = re.compile(
    rf"(?:(?<!\d)(\d{{4}}|\d{{2}})年|(去年|今年|前年))?\s*({_ZH_MONTH_NUM})\s*月(?!\s*(?:以前|前|内))"
)
# a year of this century (1234.5 is an amount, not May 1234), not followed by a currency or more decimals
_ISO_MONTH = re.compile(r"(?<![\d.])(20\d{2})[-/.年](0?[1-9]|1[0-2])(?![\d.])(?!\s*(?:元|块|塊|yuan|rmb|cny|hkd|usd))",
                        re.IGNORECASE)
_SLASH_MONTH = re.compile(r"(?<!\d)(0?[1-9]|1[0-2])/(\d{4})(?!\d)")
_EN_RELATIVE = [
    (re.compile(r"\b(?:the\s+)?month\s+before\s+last\b"), -2),
    (re.compile(r"\b(?:last|previous|past|prior)\s+month\b"), -1),
    (re.compile(r"\b(?:this|current|the\s+present)\s+month\b"), 0),
    (re.compile(r"\bnext\s+month\b"), 1),
]
_EN_N_MONTHS_AGO = re.compile(r"\b(\d{1,2}|one|a|two|three|four|five|six|twelve)\s+months?\s+ago\b")
_EN_NAMED = re.compile(
    r"\b(last\s+|this\s+)?(" + "|".join(sorted(_EN_MONTHS, key=len, reverse=True)) + r")\b\.?(?:,?\s*(\d{4}))?"
)


def _shift(today: date, months: int) -> str:
    index = today.year * 12 + (today.month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _zh_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_ZH_DIGITS[text[1]] if len(text) > 1 else 0)
    if len(text) == 2 and text[1] == "十":
        return _ZH_DIGITS[text[0]] * 10
    if len(text) == 3 and text[1] == "十":
        return _ZH_DIGITS[text[0]] * 10 + _ZH_DIGITS[text[2]]
    return _ZH_DIGITS[text]


def _most_recent(today: date, month: int) -> str:
    year = today.year if month <= today.month else today.year - 1
    return f"{year:04d}-{month:02d}"


def extract_month(text: str, *, today: date) -> str | None:
    """The billing month a message refers to, as ``YYYY-MM``; ``None`` when it names none."""
    t = unicodedata.normalize("NFKC", text).lower()
    m = _ISO_MONTH.search(t)
    if m:
        return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    m = _SLASH_MONTH.search(t)
    if m:
        return f"{int(m.group(2)):04d}-{int(m.group(1)):02d}"
    for pattern, delta in _ZH_RELATIVE:
        if pattern.search(t):
            return _shift(today, delta)
    m = _ZH_N_MONTHS_AGO.search(t)
    if m:
        return _shift(today, -_zh_number(m.group(1)))
    m = _ZH_DATED.search(t)
    if m:
        month = _zh_number(m.group(3))
        if m.group(1):
            year = int(m.group(1))
            return f"{year + 2000 if year < 100 else year:04d}-{month:02d}"  # "25年9月" is 2025
        if m.group(2):
            offset = {"今年": 0, "去年": 1, "前年": 2}[m.group(2)]
            return f"{today.year - offset:04d}-{month:02d}"
        return _most_recent(today, month)
    for pattern, delta in _EN_RELATIVE:
        if pattern.search(t):
            return _shift(today, delta)
    m = _EN_N_MONTHS_AGO.search(t)
    if m:
        n = m.group(1)
        return _shift(today, -(int(n) if n.isdigit() else _EN_COUNTS[n]))
    for m in _EN_NAMED.finditer(t):
        name = m.group(2)
        if name in ("may", "mar") and not (m.group(1) or m.group(3)) and not _MONTH_CONTEXT.search(t[: m.start()]):
            continue  # "may I ..." is a verb first: a month only with a year, "last"/"this" or "in/for/of"
        month = _EN_MONTHS[name]
        if m.group(3):
            return f"{int(m.group(3)):04d}-{month:02d}"
        if m.group(1) and m.group(1).strip() == "this":
            return f"{today.year:04d}-{month:02d}"
        if m.group(1) and m.group(1).strip() == "last" and month >= today.month:
            return f"{today.year - 1:04d}-{month:02d}"
        return _most_recent(today, month)
    return None


def month_offset(text: str) -> int | None:
    """How many months from now the month a message names is, when it names it relative to now ("上个月" -1, "last
    month" -1, "两个月前" -2, "next month" 1); None when it names one by its number or name, or none."""
    t = unicodedata.normalize("NFKC", text).lower()
    if _ISO_MONTH.search(t) or _SLASH_MONTH.search(t):
        return None
    for pattern, delta in _ZH_RELATIVE:
        if pattern.search(t):
            return delta
    m = _ZH_N_MONTHS_AGO.search(t)
    if m:
        return -_zh_number(m.group(1))
    if _ZH_DATED.search(t):
        return None
    for pattern, delta in _EN_RELATIVE:
        if pattern.search(t):
            return delta
    m = _EN_N_MONTHS_AGO.search(t)
    if m:
        n = m.group(1)
        return -(int(n) if n.isdigit() else _EN_COUNTS[n])
    return None


def shift_month(period: str, months: int) -> str:
    """The billing month ``months`` after ``period`` (``YYYY-MM``; negative: before it)."""
    year, month = (int(x) for x in period.split("-"))
    return _shift(date(year, month, 1), months)


# -- phone number -----------------------------------------------------------------------------------------
_MOBILE = re.compile(r"(?<![\d])(?:\+?\s*86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")


def extract_msisdn(text: str) -> str | None:
    """The first mobile number in a message as a 13-digit msisdn ("8613800138000"), with or without +86,
    spaces or dashes between the groups ("138 0013 8000")."""
    m = _MOBILE.search(unicodedata.normalize("NFKC", text))
    return f"86{m.group(1)}{m.group(2)}{m.group(3)}" if m else None


def extract_msisdns(text: str) -> list[str]:
    return [f"86{m.group(1)}{m.group(2)}{m.group(3)}" for m in _MOBILE.finditer(unicodedata.normalize("NFKC", text))]


# -- country ----------------------------------------------------------------------------------------------
# Every country and region a subscriber may name: the common names and cities below, then the Chinese and English
# name of every ISO 3166-1 country (``rating.COUNTRY_NAMES``, as statements name them); the home country is no
# destination. The first name of each is its Chinese name, as said back.
_ALIASES: Mapping[str, tuple[str, ...]] = {
    "HK": ("香港", "hong kong", "hongkong", "hk"),
    "MO": ("澳门", "澳門", "macau", "macao"),
    "TW": ("台湾", "臺灣", "台灣", "taiwan"),
    "JP": ("日本", "japan", "tokyo", "东京"),
    "KR": ("韩国", "韓國", "南韩", "south korea", "korea", "seoul", "首尔"),
    "SG": ("新加坡", "singapore"),
    "TH": ("泰国", "thailand", "bangkok", "曼谷"),
    "MY": ("马来西亚", "malaysia", "吉隆坡", "kuala lumpur"),
    "VN": ("越南", "vietnam", "viet nam"),
    "ID": ("印度尼西亚", "印尼", "indonesia", "巴厘岛", "bali"),
    "PH": ("菲律宾", "philippines"),
    "IN": ("印度", "india"),
    "US": ("美国", "united states", "usa", "u.s.", "america", "new york", "纽约"),
    "CA": ("加拿大", "canada"),
    "GB": ("英国", "united kingdom", "britain", "england", "uk", "london", "伦敦"),
    "DE": ("德国", "germany"),
    "FR": ("法国", "france", "paris", "巴黎"),
    "IT": ("意大利", "italy"),
    "ES": ("西班牙", "spain"),
    "NL": ("荷兰", "netherlands", "holland"),
    "CH": ("瑞士", "switzerland"),
    "RU": ("俄罗斯", "russia"),
    "AU": ("澳大利亚", "澳洲", "australia"),
    "NZ": ("新西兰", "new zealand"),
    "AE": ("阿联酋", "迪拜", "united arab emirates", "uae", "dubai"),
    "TR": ("土耳其", "turkey", "türkiye"),
    "EG": ("埃及", "egypt"),
    "BR": ("巴西", "brazil"),
}

# Chinese names that are also words or places at home, left out as names of a country on their own ("中非合作" is no
# trip to the Central African Republic); "蒙古" is Mongolia, "内蒙古" is not.
_NOT_NAMES = frozenset({"中非", "中国"})
_NOT_AFTER = {"蒙古": "内"}


def _all_country_names() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for code, (zh, en) in ISO_COUNTRY_NAMES.items():
        if code == "CN":
            continue
        names = list(_ALIASES.get(code, ()))
        for name in (zh, zh.removeprefix("中国"), en.lower(), en.lower().replace("&", "and")):
            if name and name not in names and name not in _NOT_NAMES:
                names.append(name)
        out[code] = tuple(names)
    for code, aliases in _ALIASES.items():
        out.setdefault(code, aliases)
    return out


COUNTRY_NAMES: Mapping[str, tuple[str, ...]] = _all_country_names()

# The international dialling code (ITU-T E.164) of each country the assistant names: a call from home to a country
# is priced by the destination zone its numbers fall in, which the catalog tells by prefix.
DIALLING_CODES: Mapping[str, str] = {code: dial for code, dial in CALLING_CODES.items() if code != "CN"}


def _country_patterns() -> list[tuple[re.Pattern[str], str]]:
    pairs = sorted(((name, code) for code, names in COUNTRY_NAMES.items() for name in names), key=lambda p: -len(p[0]))
    out = []
    for name, code in pairs:
        if re.search(r"[a-z]", name):
            out.append((re.compile(r"(?<![a-z])" + re.escape(name) + r"(?![a-z])"), code))
        elif name in _NOT_AFTER:
            out.append((re.compile(f"(?<!{_NOT_AFTER[name]})" + re.escape(name)), code))
        else:
            out.append((re.compile(re.escape(name)), code))
    return out


_COUNTRIES = _country_patterns()
_US_UPPER = re.compile(r"(?<![A-Za-z])US(?![A-Za-z])")


def extract_country(text: str) -> str | None:
    """The first destination named in a message, as ISO 3166-1 alpha-2 ("去日本" → "JP", "in the US" → "US")."""
    found = extract_countries(text)
    return found[0] if found else None


def extract_countries(text: str) -> list[str]:
    """Every destination named, in order of appearance, each once."""
    norm = unicodedata.normalize("NFKC", text)
    low = norm.lower()
    hits: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, code in _COUNTRIES:  # longest names first, so "澳门" is not read as "澳" of "澳洲"
        for m in pattern.finditer(low):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            hits.append((m.start(), m.end(), code))
    for m in _US_UPPER.finditer(norm):  # "US" in capitals is the country; "us" in lower case is a pronoun
        if not any(a < m.end() and m.start() < b for a, b in taken):
            hits.append((m.start(), m.end(), "US"))
    out: list[str] = []
    for _, _, code in sorted(hits):
        if code not in out:
            out.append(code)
    return out


# -- offer ------------------------------------------------------------------------------------------------
DEMO_OFFER_ALIASES: Mapping[str, tuple[str, ...]] = {
    "vas-music-10": ("音乐", "music", "sp-melody"),
    "vas-video-15": ("视频", "video", "streaming", "sp-streamly"),
    "vas-news-5": ("新闻", "news", "早报", "sp-dailynews"),
    "vas-game-30": ("游戏", "game", "gaming", "sp-playzone"),
    "vas-horoscope-6": ("星座", "运势", "horoscope", "sp-luckystar"),
    "vas-wallpaper-3": ("壁纸", "wallpaper", "sp-pixelart"),
    "vas-ringtone-2": ("彩铃", "铃声", "ringtone", "ring tone"),
    "vas-cloud-8": ("云盘", "云存储", "cloud", "sp-cloudbox"),
}


def extract_offer(text: str, aliases: Mapping[str, Sequence[str]] | None = None) -> str | None:
    """The offer a message names: its id ("vas-music-10"), or an alias ("音乐包", "the horoscope thing").

    ``aliases`` maps offer id to names (e.g. built from the operator's catalog); the default knows the demo
    offers. The earliest mention wins; an exact offer id beats an alias."""
    aliases = DEMO_OFFER_ALIASES if aliases is None else aliases
    low = unicodedata.normalize("NFKC", text).lower()
    best: tuple[int, int, str] | None = None  # (priority, position, offer)
    for offer, names in aliases.items():
        pos = low.find(offer.lower())
        if pos >= 0 and (best is None or (0, pos) < best[:2]):
            best = (0, pos, offer)
        for name in names:
            n = name.lower()
            if re.search(r"[a-z]", n):
                m = re.search(r"(?<![a-z])" + re.escape(n) + r"(?![a-z])", low)
                pos = m.start() if m else -1
            else:
                pos = low.find(n)
            if pos >= 0 and (best is None or (1, pos) < best[:2]):
                best = (1, pos, offer)
    return best[2] if best else None
