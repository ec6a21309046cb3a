"""The access audit's actions (``subject.verb`` codes, as the API and the CLI write them) in words: the audit page
shows the words and keeps the code beside them, which is what an auditor searches by. Its resources and the reasons
fairtel writes itself read in the reader's language too (``resource_text``, ``reason_text``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fairtel.api._error_words import ROLE_WORDS

AUDIT_ACTIONS: dict[str, tuple[str, str]] = {  # code: (en, zh)
    "access.denied": ("Access refused", "访问被拒绝"),
    "adjustment.credit": ("Credit posted", "录入退款/减免"),
    "adjustment.list": ("Adjustments listed", "查看调账列表"),
    "advice.export": ("Plan advice exported", "导出套餐建议"),
    "advice.list": ("Plan advice listed", "查看套餐建议列表"),
    "api_key.create": ("API key created", "创建 API 密钥"),
    "api_key.revoke": ("API key revoked", "吊销 API 密钥"),
    "assignment.list": ("Handled customers listed", "查看正在处理的客户"),
    "assignment.release": ("Customer released", "结束处理客户"),
    "assignment.start": ("Customer taken in hand", "开始处理客户"),
    "audit.search": ("Access audit searched", "查询访问审计"),
    "bill.list": ("Bills listed", "查看账单列表"),
    "bill.read": ("Bill read", "查看账单"),
    "chat.line_read": ("Conversation line read", "查看会话号码"),
    "chat.message": ("Assistant message", "智能助手对话"),
    "chat.session": ("Assistant session", "智能助手会话"),
    "complaint.acknowledge": ("Complaint acknowledged", "确认受理投诉"),
    "complaint.close": ("Complaint closed", "投诉结案"),
    "complaint.create": ("Complaint recorded", "登记投诉"),
    "complaint.escalate": ("Complaint escalated", "投诉升级"),
    "complaint.history": ("Complaint history read", "查看投诉记录"),
    "complaint.list": ("Complaints listed", "查看投诉列表"),
    "complaint.reopen": ("Complaint reopened", "投诉重新打开"),
    "complaint.resolve": ("Complaint resolved", "投诉已解决"),
    "complaint.take": ("Complaint taken", "受理投诉"),
    "finding.dismiss": ("Finding dismissed", "驳回异常扣费"),
    "finding.list": ("Findings listed", "查看异常扣费列表"),
    "finding.read": ("Finding read", "查看异常扣费"),
    "finding.refund": ("Finding refunded", "异常扣费退款"),
    "finding.resolve": ("Finding resolved", "异常扣费已处理"),
    "fraud_case.decide": ("Fraud case decided", "欺诈案件处理"),
    "fraud_case.list": ("Fraud cases listed", "查看欺诈案件列表"),
    "fraud_case.read": ("Fraud case read", "查看欺诈案件"),
    "fraud_case.reveal_number": ("Fraud case's number shown", "查看欺诈案件号码"),
    "fraud_features.export": ("Fraud features exported", "导出欺诈特征"),
    "fraud_score.list": ("Fraud scores listed", "查看欺诈评分列表"),
    "held_usage.list": ("Held usage listed", "查看暂挂话单列表"),
    "held_usage.release": ("Held usage released", "放行暂挂话单"),
    "held_usage.write_off": ("Held usage written off", "核销暂挂话单"),
    "home.adopt_key": ("Home keyed by a new secret key", "启用新的数据密钥"),
    "home.backup": ("Backup made", "数据备份"),
    "kpi.read": ("Indicators read", "查看服务指标"),
    "line.suspend": ("Line suspended", "号码停机"),
    "login.failed": ("Login failed", "登录失败"),
    "login.rate_limited": ("Login refused: too many attempts", "登录被限制（尝试过多）"),
    "login.succeeded": ("Logged in", "登录成功"),
    "loyalty.redeem": ("Loyalty points redeemed", "积分兑换"),
    "marketing.read": ("Marketing choice read", "查看营销偏好"),
    "marketing.set": ("Marketing choice set", "设置营销偏好"),
    "merchant.lift": ("Provider's suspension lifted", "解除服务商暂停"),
    "merchant.suspend": ("Provider suspended", "暂停服务商"),
    "retention.apply": ("Retention periods applied", "执行数据保留期限"),
    "retention.export": ("Retention list exported", "导出挽留名单"),
    "retention.list": ("Retention list read", "查看挽留名单"),
    "roaming_cap.read": ("Roaming cap read", "查看漫游限额"),
    "roaming_cap.set": ("Roaming cap set", "设置漫游限额"),
    "subscriber.erase": ("Subscriber's data erased", "删除用户数据"),
    "subscriber.export": ("Subscriber's data exported", "导出用户数据"),
    "subscriber.list": ("Subscribers listed", "查看用户列表"),
    "subscriber.read": ("Subscriber read", "查看用户资料"),
    "subscription.cancel": ("Subscription cancelled", "退订业务"),
    "subscription.code_resent": ("Confirmation code sent again", "重发验证码"),
    "subscription.confirm": ("Subscription confirmed", "确认订购"),
    "subscription.list": ("Subscriptions listed", "查看订购列表"),
    "subscription.order": ("Offer ordered", "订购业务"),
    "survey.answer": ("Survey answered", "满意度调查回复"),
    "survey.detractors": ("Detractors listed", "查看不满意用户名单"),
    "survey.due": ("Surveys due listed", "查看待发调查名单"),
    "ticket.close": ("Ticket closed", "工单结案"),
    "ticket.list": ("Tickets listed", "查看工单列表"),
    "ticket.open": ("Ticket opened", "创建工单"),
    "ticket.note": ("Ticket note added", "工单添加备注"),
    "ticket.resolve": ("Ticket resolved", "工单已解决"),
    "ticket.take": ("Ticket taken", "受理工单"),
    "ticket.transcript": ("Ticket conversation read", "查看工单会话"),
    "usage.read": ("Usage read", "查看详单"),
    "user.create": ("Login created", "创建登录账号"),
    "user.disable": ("Login disabled", "停用登录账号"),
    "user.enable": ("Login enabled", "启用登录账号"),
    "user.list": ("Logins listed", "查看登录账号列表"),
}


def action_text(code: str | None, lang: str) -> str:
    """An audit action in the reader's language; an action not listed shows as its code."""
    if not code:
        return ""
    pair = AUDIT_ACTIONS.get(code)
    return code if pair is None else pair[1] if lang == "zh" else pair[0]


# What an audit row is about (its ``resource``): a kind of record (``findings``), one record (``finding/<id>``), or
# the route of a request refused before it named one (``GET /api/v1/findings``, shown as it is). (en, zh)
AUDIT_RESOURCES: dict[str, tuple[str, str]] = {
    "access_audit": ("access audit", "访问审计"), "api_key": ("API key", "API 密钥"),
    "assignments": ("customers handled", "正在处理的客户"), "bill": ("bill", "账单"), "bills": ("bills", "账单列表"),
    "chat": ("assistant chat", "智能助手会话"), "complaint": ("complaint", "投诉"), "complaints": ("complaints", "投诉列表"),
    "conversation": ("conversation", "会话"), "data_export": ("data export", "数据导出"), "finding": ("finding", "异常扣费"),
    "findings": ("findings", "异常扣费列表"), "fraud_case": ("fraud case", "欺诈案件"), "fraud_cases": ("fraud cases", "欺诈案件列表"),
    "held_usage": ("held usage", "暂挂话单"), "home": ("home", "系统"), "kpis": ("indicators", "服务指标"),
    "loyalty": ("loyalty points", "积分"), "marketing": ("marketing choice", "营销偏好"), "merchant": ("provider", "服务商"),
    "retention": ("retention list", "挽留名单"), "roaming_cap": ("roaming cap", "漫游限额"), "subscriber": ("subscriber", "用户资料"),
    "subscribers": ("subscribers", "用户列表"), "subscription": ("subscription", "订购"), "subscriptions": ("subscriptions", "订购列表"),
    "survey": ("survey", "满意度调查"), "ticket": ("ticket", "工单"), "tickets": ("tickets", "工单列表"), "usage": ("usage", "详单"),
    "user": ("login", "登录账号"), "users": ("logins", "登录账号列表"),
}
_ROUTE = re.compile(r"(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*")


def resource_text(resource: str | None, lang: str) -> str:
    """An audit row's resource in the reader's language: in Chinese, the kind of record in words and the record's id
    as written (``finding/fnd_1`` → 异常扣费 fnd_1); a route, and a kind not listed, as written. In English as
    written (the words are the code's own)."""
    if not resource:
        return ""
    if lang != "zh" or _ROUTE.fullmatch(resource):
        return resource
    kind, sep, rest = resource.partition("/")
    pair = AUDIT_RESOURCES.get(kind)
    if pair is None:
        return resource
    return f"{pair[1]} {rest}" if sep else pair[1]


_VIEWS_ZH = {"plain": "明文", "masked": "掩码", "pseudonymised": "假名", "none": "无"}
_REFUSALS_ZH = {"permission_denied": "无权限", "assignment_required": "未在处理该客户", "not_found": "未找到",
                "not_authenticated": "未登录", "line_changed_hands": "号码已更换机主"}
_CASES_ZH = {"complaint": "投诉", "ticket": "工单", "chat": "会话"}


def _refusal(code: str) -> str:
    words = _REFUSALS_ZH.get(code)
    return f"{words}（{code}）" if words else code


# The reasons fairtel writes itself (an agent's or a decision's own words are shown as written), in Chinese: the
# English pattern and the Chinese with its values put back in order, or a function of the match.
REASONS_ZH: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple((re.compile(p, re.S), f) for p, f in (
    (r"own data", lambda m: "本人数据"),
    (r"own chat", lambda m: "本人会话"),
    (r"own request for a new confirmation code", lambda m: "本人申请重发验证码"),
    (r"user administration", lambda m: "账号管理"),
    (r"role (\w+)", lambda m: f"角色：{_role(m[1])}"),
    (r"for (\S+)", lambda m: f"供 {m[1]} 使用"),
    (r"released", lambda m: "已结束处理"),
    (r"(complaint|ticket|chat) (\S+)", lambda m: f"{_CASES_ZH[m[1]]} {m[2]}"),
    (r"findings queue \((\d+) rows?\)", lambda m: f"异常扣费队列（{m[1]} 条）"),
    (r"findings queue", lambda m: "异常扣费队列"),
    (r"fraud queue \((\d+) rows?\)", lambda m: f"欺诈案件队列（{m[1]} 条）"),
    (r"dashboard \(aggregates\)", lambda m: "仪表盘（汇总数据）"),
    (r"list of (\d+), shown (\w+)", lambda m: f"列表 {m[1]} 条，号码显示为{_VIEWS_ZH.get(m[2], m[2])}"),
    (r"the agent's own assignments", lambda m: "客服本人正在处理的客户"),
    (r"named by the decided case", lambda m: "已处理案件涉及的号码"),
    (r"recorded by agent: the filing agent handles the customer", lambda m: "客服代为登记：登记的客服即处理该客户"),
    (r"taken while handled by (.+)", lambda m: f"受理时该客户正由 {m[1]} 处理"),
    (r"refused: (\w+), answered (\w+)", lambda m: f"已拒绝：{_refusal(m[1])}，答复为 {m[2]}"),
    (r"refused: (\w+)", lambda m: f"已拒绝：{_refusal(m[1])}"),
    # a login's outcome, then where it came from
    (r"succeeded; from (.+)", lambda m: f"成功；来自 {m[1]}"),
    (r"refused: wrong username or password, or the login is disabled; from (.+)",
     lambda m: f"已拒绝：用户名或密码错误，或账号已停用；来自 {m[1]}"),
    (r"refused: the login was made before the line's current activation \(line_changed_hands\); from (.+)",
     lambda m: f"已拒绝：此登录账号开通于号码更换机主之前（line_changed_hands）；来自 {m[1]}"),
    (r"refused unchecked: too many attempts(?: \(retry after (\d+) s\))?(?:; (\d+) more refused so from this client since the last such row)?; from (.+)",
     lambda m: "未核验即拒绝：尝试次数过多" + (f"（{m[1]} 秒后可重试）" if m[1] else "")
     + (f"；自上一条此类记录以来，该来源另有 {m[2]} 次被拒绝" if m[2] else "") + f"；来自 {m[3]}"),
))
_FAILED = re.compile(r"(.*?) ?\(failed: (\w+)\)|failed: (\w+)", re.S)
_VIA = re.compile(r"(.*?) ?\(?via api_key (\S+?)\)?", re.S)


def _role(role: str) -> str:
    return ROLE_WORDS.get(role, (role, role))[1]


def reason_text(reason: str | None, lang: str) -> str:
    """An audit row's reason in the reader's language: in Chinese, the reasons fairtel writes itself in words
    (``REASONS_ZH``), what the request failed with and the API key it came through after them; words a person typed
    (a note, a decision) as written."""
    if not reason:
        return ""
    if lang != "zh":
        return reason
    via = _VIA.fullmatch(reason)
    if via is not None:
        inner = reason_text(via[1], lang) if via[1] else ""
        return f"{inner}（经 API 密钥 {via[2]}）" if inner else f"经 API 密钥 {via[2]}"
    failed = _FAILED.fullmatch(reason)
    if failed is not None:
        if failed[3]:
            return f"失败：{failed[3]}"
        return f"{reason_text(failed[1], lang)}（失败：{failed[2]}）"
    for pattern, words in REASONS_ZH:
        found = pattern.fullmatch(reason)
        if found is not None:
            return words(found)
    return reason
