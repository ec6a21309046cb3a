"""“Why this charge”: a rated line told back in words, in both of the operator's languages.

Every fact comes from the line itself (the rule, rate, zone, band, allowance and consent verdict rating
recorded), so the sentence can always be checked against the catalog and the usage record behind it.
"""

from __future__ import annotations

from typing import Any

from fairtel.api._paging import money_text


def quantity_text(value: int | None, unit: str | None) -> tuple[str, str]:
    """(en, zh) spelling of a quantity."""
    if value is None:
        return "", ""
    if unit == "second":
        m, s = divmod(int(value), 60)
        return (f"{m} min {s:02d} s", f"{m}分{s:02d}秒") if m else (f"{s} s", f"{s}秒")
    if unit == "byte":
        mb = int(value) / 1_000_000
        return f"{mb:,.2f} MB", f"{mb:,.2f} MB"
    if unit == "message":
        return f"{value} message{'s' if value != 1 else ''}", f"{value}条"
    return str(value), str(value)


_KIND = {"voice": ("call", "通话"), "sms": ("SMS", "短信"), "data": ("data", "流量"), "vas": ("value-added service", "增值业务")}
_DIR = {"out": ("outgoing", "主叫"), "in": ("incoming", "被叫")}


def explain_line(row: dict[str, Any]) -> dict[str, str]:
    """{"en": ..., "zh": ...} for one rated line (a dict with RATED_COLUMNS keys)."""
    kind = str(row.get("kind") or "")
    amount = money_text(row.get("amount_minor"), row.get("currency")) or "0"
    currency = row.get("currency") or ""
    rule = row.get("rule_id") or "?"
    if kind == "vas":
        sub = row.get("subscription_id")
        verdict = row.get("verdict") or "unknown"
        if sub and (row.get("amount_minor") or 0) > 0:
            return {
                "en": f"Value-added charge of {amount} {currency} under your confirmed subscription {sub} (rule {rule}, consent check: {verdict}).",
                "zh": f"增值业务费用 {amount} {currency}，依据您已确认的订购 {sub}（规则 {rule}，同意校验：{verdict}）。",
            }
        return {
            "en": f"Not billed: no confirmed subscription covers this value-added charge (consent check: {verdict}).",
            "zh": f"未计费：没有已确认的订购可支持此增值业务扣费（同意校验：{verdict}）。",
        }
    k_en, k_zh = _KIND.get(kind, (kind, kind))
    d_en, d_zh = _DIR.get(str(row.get("direction") or ""), ("", ""))
    q_en, q_zh = quantity_text(row.get("quantity"), row.get("unit"))
    zone = row.get("zone") or "-"
    where_en = f" to zone {zone}" if kind in ("voice", "sms") else ""
    where_zh = f"（{zone}区）" if kind in ("voice", "sms") else ""
    if row.get("roaming_country"):
        where_en += f", roaming in {row['roaming_country']} ({row.get('roaming_zone') or '-'})"
        where_zh += f"，在{row['roaming_country']}漫游（{row.get('roaming_zone') or '-'}）"
    band = row.get("band")
    en = [f"{q_en} {d_en} {k_en}{where_en}".replace("  ", " ").strip() + (f", {band} band" if band else "") + "."]
    zh = [f"{d_zh}{k_zh}{q_zh}{where_zh}" + (f"，{band}时段" if band else "") + "。"]
    used = row.get("allowance_used") or 0
    if row.get("allowance_id") and used:
        u_en, u_zh = quantity_text(used, row.get("unit"))
        en.append(f"{u_en} came from your allowance {row['allowance_id']}.")
        zh.append(f"其中{u_zh}由套餐内额度 {row['allowance_id']} 抵扣。")
    charged = row.get("charged_quantity") or 0
    if (row.get("amount_minor") or 0) > 0:
        c_en, c_zh = quantity_text(charged, row.get("unit"))
        en.append(f"{c_en} charged {amount} {currency} by rule {rule} (rate {row.get('rate_id') or '-'}).")
        zh.append(f"按规则 {rule}（费率 {row.get('rate_id') or '-'}）对{c_zh}计费 {amount} {currency}。")
    else:
        en.append(f"No charge (rule {rule}).")
        zh.append(f"不收费（规则 {rule}）。")
    if row.get("capped"):
        en.append("A price cap lowered the amount.")
        zh.append("费用已按封顶规则降低。")
    if row.get("throttled"):
        en.append("Past the high-speed threshold: speed reduced, no extra charge.")
        zh.append("已超过高速流量阈值：限速，不额外收费。")
    return {"en": " ".join(en), "zh": "".join(zh)}
