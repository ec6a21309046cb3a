"""The console's words in both of the operator's languages. A missing key shows itself, not a blank."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "app": ("fairtel console", "fairtel 控制台"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "username": ("Username", "用户名"),
    "password": ("Password", "密码"),
    "login_failed": ("Wrong username or password.", "用户名或密码错误。"),
    "dashboard": ("Dashboard", "仪表盘"),
    "findings": ("Findings", "异常扣费"),
    "desk": ("Complaint desk", "投诉受理台"),
    "retention": ("Retention", "客户挽留"),
    "fraud": ("Fraud cases", "欺诈案件"),
    "audit": ("Access audit", "访问审计"),
    "my_bill": ("My bill", "我的账单"),
    "my_subscriptions": ("My subscriptions", "我的订购"),
    "roaming_cap": ("Roaming cap", "漫游限额"),
    "assistant": ("Assistant", "智能助手"),
    "not_available": ("Not available yet", "暂不可用"),
    "subscribers": ("Active subscribers", "活跃用户"),
    "revenue_at_risk": ("Revenue at risk", "风险收入"),
    "refunded": ("Refunded", "已退款"),
    "complaints_per_million": ("Complaints per million subscribers", "每百万用户投诉量"),
    "findings_by_kind": ("Unexplained-charge findings", "不明扣费发现"),
    "refunds_by_month": ("Refunds by month", "每月退款"),
    "fraud_cases": ("Fraud cases", "欺诈案件"),
    "churn_risk": ("Churn-risk distribution", "流失风险分布"),
    "rating_timeliness": ("Rating timeliness (p95 hours)", "计费及时性（p95 小时）"),
    "nps": ("Net promoter score", "净推荐值"),
    "kind": ("Kind", "类型"),
    "number": ("Number", "号码"),
    "amount": ("Amount", "金额"),
    "status": ("Status", "状态"),
    "detected_at": ("Detected", "发现时间"),
    "actions": ("Actions", "操作"),
    "refund": ("Refund", "退款"),
    "dismiss": ("Dismiss", "驳回"),
    "reason": ("Reason", "原因"),
    "category": ("Category", "类别"),
    "opened_at": ("Opened", "受理时间"),
    "take": ("Handle", "受理"),
    "close": ("Close", "结案"),
    "open_customer": ("Open customer", "查看客户"),
    "customer": ("Customer", "客户"),
    "plan": ("Plan", "套餐"),
    "region": ("Region", "地区"),
    "language": ("Language", "语言"),
    "bills": ("Bills", "账单"),
    "period": ("Period", "账期"),
    "total": ("Total", "合计"),
    "usage": ("Itemised usage", "详单"),
    "why": ("Why this charge", "为何收费"),
    "when": ("When", "时间"),
    "quantity": ("Quantity", "用量"),
    "rule": ("Tariff rule", "资费规则"),
    "offer": ("Offer", "业务"),
    "provider": ("Provider", "服务商"),
    "price": ("Price", "价格"),
    "state": ("State", "状态"),
    "cancel": ("Cancel", "退订"),
    "confirm": ("Confirm", "确认订购"),
    "order": ("Order", "订购"),
    "risk": ("Risk", "风险"),
    "reasons": ("Reasons", "原因"),
    "score": ("Score", "评分"),
    "detector": ("Detector", "检测器"),
    "confirm_fraud": ("Confirm fraud", "确认欺诈"),
    "false_alarm": ("False alarm", "误报"),
    "actor": ("Who", "操作人"),
    "action": ("Action", "操作"),
    "resource": ("Resource", "资源"),
    "subject": ("Subject (pseudonym)", "对象（假名）"),
    "search": ("Search", "搜索"),
    "save": ("Save", "保存"),
    "cap_amount": ("Cap while roaming", "漫游消费上限"),
    "no_cap": ("No cap set.", "未设置上限。"),
    "cap_now": ("Current cap", "当前上限"),
    "ask": ("Ask", "提问"),
    "your_message": ("Your message", "您的问题"),
    "nothing": ("Nothing here yet.", "暂无数据。"),
    "bill_lines": ("Bill lines", "账单明细"),
    "no_bill": ("No bill for this period.", "本账期暂无账单。"),
    "assignment_note": ("You see this customer because you are handling", "您正在处理该客户的"),
    "error": ("Something is not right", "出错了"),
    "back": ("Back", "返回"),
    "masked_note": ("Numbers are masked until you handle the case.", "受理前号码已脱敏。"),
    "pseudonym_note": ("Numbers are shown as keyed pseudonyms.", "号码以加密假名显示。"),
    "cancelled_ok": ("Subscription cancelled.", "已退订。"),
    "saved_ok": ("Saved.", "已保存。"),
    "refunded_ok": ("Refunded.", "已退款。"),
    "dismissed_ok": ("Dismissed.", "已驳回。"),
    "decided_ok": ("Decision recorded.", "已记录决定。"),
    "offers": ("Available offers", "可订购业务"),
    "ordered_ok": ("Ordered: confirm to start the subscription.", "已下单：请确认后生效。"),
    "confirmed_ok": ("Subscription confirmed.", "订购已确认。"),
    # bill-line kinds (billing.LineKind codes) and usage kinds
    "line_plan_fee": ("Monthly plan fee", "套餐月费"),
    "line_voice": ("Calls", "语音通话"),
    "line_sms": ("SMS", "短信"),
    "line_data": ("Data", "上网流量"),
    "line_vas": ("Value-added service", "增值业务"),
    "line_tax": ("Tax", "税费"),
    "line_adjustment": ("Adjustment", "调账"),
}


def line_kind(kind: str | None, lang: str) -> str:
    """A bill line's or usage record's kind in the reader's language; an unknown code shows itself."""
    if not kind:
        return ""
    pair = TEXT.get(f"line_{kind}")
    return kind if pair is None else (pair[1] if lang == "zh" else pair[0])


def translate(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return f"[{key}]"
    return pair[1] if lang == "zh" else pair[0]
