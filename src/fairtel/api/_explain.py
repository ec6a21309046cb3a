"""“Why this charge”: a rated line told back in words, in both of the operator's languages.

Every fact comes from the line itself (the rule, rate, zone, band, allowance and consent verdict rating
recorded), so the sentence can always be checked against the catalog and the usage record behind it. With
the catalog, zones, bands, rules, allowances and offers are called by their names in each language (the rule
id is kept beside its name); without it, by their ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fairtel.api._paging import money_text
from fairtel.billing._statement import refused_why
from fairtel.catalog import Catalog
from fairtel.rating._explain import VERDICT_WORDS, Refund, refund_words


def quantity_text(value: int | None, unit: str | None) -> tuple[str, str]:
    """(en, zh) spelling of a quantity."""
    if value is None:
        return "", ""
    if unit == "second":
        m, s = divmod(int(value), 60)
        return (f"{m} min {s:02d} s", f"{m} 分 {s:02d} 秒") if m else (f"{s} s", f"{s} 秒")
    if unit == "byte":  # MiB of 1024² bytes, as the catalog prices data and the statement counts and names it
        mib = int(value) / 1024**2
        return f"{mib:,.2f} MiB", f"{mib:,.2f} MiB"
    if unit == "message":
        return f"{value} message{'s' if value != 1 else ''}", f"{value} 条"
    if unit == "item":  # a value-added service counts its charges
        return f"{value} charge{'s' if value != 1 else ''}", f"{value} 笔"
    return str(value), str(value)


_KIND = {"voice": ("call", "通话"), "sms": ("SMS", "短信"), "data": ("data", "流量"), "vas": ("value-added service", "增值业务")}
_DIR = {"out": ("outgoing", "主叫"), "in": ("incoming", "被叫")}
# a message is sent or received (发送/接收), as the statement words it, not made or answered like a call
_SMS_DIR = {"out": ("sent", "发送"), "in": ("received", "接收")}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _zh_cat(*parts: str) -> str:
    """Chinese text put together with a space wherever a letter or digit meets a Chinese character at a join
    (docs/rating.md "Words": ``短信 1 条``, ``在 JP 漫游``), as the statement and ``fairtel explain`` write; the
    catalog's names are kept as they are written."""
    out = ""
    for part in parts:
        if out and part and ((out[-1].isascii() and out[-1].isalnum() and _CJK.match(part[0]))
                             or (_CJK.match(out[-1]) and part[0].isascii() and part[0].isalnum())):
            out += " "
        out += part
    return out


def _money_zh(amount: str, currency: str) -> str:
    """``0.72 元`` for yuan, as the statement and the explanation word amounts in Chinese; else ``9.50 GBP``."""
    return f"{amount} 元" if currency == "CNY" else f"{amount} {currency}"


# the consent gate's verdicts in words, as the rating explanation says them: (en, zh)
_VERDICT = {code: (en, zh) for code, (zh, en) in VERDICT_WORDS.items()}


def _names(catalog: Catalog | None, what: str, key: Any) -> tuple[str, str] | None:
    """(en, zh) name of a catalog entry, or None (no catalog, no such entry, or no name)."""
    if catalog is None or not key:
        return None
    name = catalog.name_of(what, str(key))
    return None if name is None else (name.en, name.zh)


def _label(catalog: Catalog | None, what: str, key: Any) -> tuple[str, str]:
    """(en, zh): the entry's name, or its id when the catalog has none."""
    return _names(catalog, what, key) or (str(key or "-"), str(key or "-"))


def _rule(catalog: Catalog | None, rule_id: Any) -> tuple[str, str]:
    """(en, zh) of a rule: “Domestic calls (basic-39/voice-domestic)”, or the id alone."""
    rule = str(rule_id or "?")
    named = _names(catalog, "rule", rule)
    return (f"“{named[0]}” ({rule})", f"“{named[1]}”（{rule}）") if named else (rule, rule)


def explain_line(row: dict[str, Any], catalog: Catalog | None = None, *, refunds: Sequence[Refund] = ()) -> dict[str, str]:
    """{"en": ..., "zh": ...} for one rated line (a dict with RATED_COLUMNS keys); names come from ``catalog``.
    ``refunds``: those posted for the line's record since (``store.record_refunds``), said after it: the consent
    verdict is the one rating stored, and a refund is how a charge found later not to be owed is told."""
    kind = str(row.get("kind") or "")
    amount = money_text(row.get("amount_minor"), row.get("currency")) or "0"
    currency = row.get("currency") or ""
    rule_en, rule_zh = _rule(catalog, row.get("rule_id"))
    if kind == "vas":
        sub = row.get("subscription_id")
        verdict = str(row.get("verdict") or "unknown")
        v_en, v_zh = _VERDICT.get(verdict, (verdict, verdict))
        offer_id = str(row.get("rule_id") or "").split("/", 1)[-1]
        o_en, o_zh = _label(catalog, "offer", offer_id)
        if sub and (row.get("amount_minor") or 0) > 0:
            out = {
                "en": f"Value-added charge of {amount} {currency} for {o_en} under your subscription {sub}, confirmed when charged (rule {rule_en}, consent check: {v_en}).",
                "zh": f"增值业务“{o_zh}”费用 {_money_zh(amount, currency)}，扣费时依据您已确认的订购 {sub}（规则 {rule_zh}，同意校验：{v_zh}）。",
            }
            if refunds:  # found afterwards not to be owed: refunded
                tz = None if catalog is None else catalog.tz
                out["en"] += " Since found not to be owed: " + "; ".join(refund_words(r, "en", tz) for r in refunds) + "."
                out["zh"] += "此后核实不应收取：" + "；".join(refund_words(r, "zh", tz) for r in refunds) + "。"
            return out
        if verdict == "consented":  # an offer the plan includes: consented, at nothing
            return {"en": f"No charge: {o_en} is included in your plan (consent check: {v_en}).",
                    "zh": f"不收费：“{o_zh}”已含在您的套餐内（同意校验：{v_zh}）。"}
        # each refusal for what it is (a duplicate, a price mismatch, a suspended provider ...), as the statement says it
        return {
            "en": f"Not billed: {refused_why(verdict, 'en')} (value-added charge for {o_en}; consent check: {v_en}).",
            "zh": f"未计费：{refused_why(verdict, 'zh')}（“{o_zh}”增值业务扣费；同意校验：{v_zh}）。",
        }
    k_en, k_zh = _KIND.get(kind, (kind, kind))
    d_en, d_zh = (_SMS_DIR if kind == "sms" else _DIR).get(str(row.get("direction") or ""), ("", ""))
    q_en, q_zh = quantity_text(row.get("quantity"), row.get("unit"))
    z_en, z_zh = _label(catalog, "zone", row.get("zone"))
    # an incoming call or message comes from its zone (the other party's), an outgoing one goes to it
    where_en = (f" from zone “{z_en}”" if row.get("direction") == "in" else f" to zone “{z_en}”") if kind in ("voice", "sms") else ""
    where_zh = f"（{z_zh}）" if kind in ("voice", "sms") else ""
    if row.get("roaming_country"):
        r_en, r_zh = _label(catalog, "roaming zone", row.get("roaming_zone"))
        where_en += f", roaming in {row['roaming_country']} ({r_en})"
        where_zh += f"，在 {row['roaming_country']} 漫游（{r_zh}）"
    band = row.get("band")
    b_en, b_zh = _label(catalog, "band", band)
    head = f"{k_en} {d_en}{where_en}" if kind == "sms" else f"{q_en} {d_en} {k_en}{where_en}"  # an SMS sent to zone …
    en = [head.replace("  ", " ").strip() + (f", {b_en.lower()} band" if band else "") + "."]
    zh = [_zh_cat(d_zh, k_zh, q_zh, where_zh) + (_zh_cat("，", b_zh, "时段") if band else "") + "。"]
    used = row.get("allowance_used") or 0
    if row.get("allowance_id") and used:
        u_en, u_zh = quantity_text(used, row.get("unit"))
        a_en, a_zh = _label(catalog, "allowance", row["allowance_id"])
        en.append(f"{u_en} came from your allowance “{a_en}”.")
        zh.append(f"其中 {u_zh} 由套餐内额度“{a_zh}”抵扣。")
    charged = row.get("charged_quantity") or 0
    rate_en, rate_zh = _label(catalog, "rate", row.get("rate_id"))
    if (row.get("amount_minor") or 0) > 0:
        c_en, c_zh = quantity_text(charged, row.get("unit"))
        en.append(f"{c_en} charged {amount} {currency} by rule {rule_en} at {rate_en}.")
        zh.append(_zh_cat("按规则", rule_zh, "，以", rate_zh, "对", c_zh, "计费 ", _money_zh(amount, currency), "。"))
    else:
        en.append(f"No charge (rule {rule_en}).")
        zh.append(_zh_cat("不收费（规则", rule_zh, "）。"))
    if row.get("capped"):
        en.append("A price cap lowered the amount.")
        zh.append("费用已按封顶规则降低。")
    if row.get("throttled"):
        en.append("Past the high-speed threshold: speed reduced, no extra charge.")
        zh.append("已超过高速流量阈值：限速，不额外收费。")
    return {"en": " ".join(en), "zh": "".join(zh)}
