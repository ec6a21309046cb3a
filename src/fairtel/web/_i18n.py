"""The console's words in both of the operator's languages. A missing key shows itself, not a blank."""

from __future__ import annotations

import re

from fairtel.api._error_words import CHINESE, problem_in
from fairtel.rating._explain import VERDICT_WORDS

LANGUAGES = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "app": ("fairtel console", "fairtel 控制台"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "username": ("Username", "用户名"),
    "password": ("Password", "密码"),
    "login_failed": ("Wrong username or password.", "用户名或密码错误。"),
    "login_limited": ("Too many login attempts. Try again in {s} s.", "登录尝试次数过多，请 {s} 秒后再试。"),
    # a subscriber login made before the line's current activation (``line_changed_hands``): the password was right
    "login_changed_hands": ("This login was made before the number changed hands (or was closed and activated again), so it no "
                            "longer opens the line. Ask the operator's administrator for a new login.",
                            "该号码已更换机主（或销户后重新启用），此登录账号开通于此之前，已不能再使用。请联系运营商管理员为您开通新的登录账号。"),
    # a session not used for the idle timeout (``web._session``) ended: the next request comes to the login page
    "session_idle": ("You were logged out after {m} minutes without use. Log in again to go on.",
                     "您已 {m} 分钟未操作，为保护您的账户已自动退出，请重新登录。"),
    "retry_in": ("Too many requests. Try again in {s} s.", "请求过于频繁，请 {s} 秒后再试。"),
    "dashboard": ("Dashboard", "仪表盘"),
    "findings": ("Findings", "异常扣费"),
    "desk": ("Complaint desk", "投诉受理台"),
    "retention": ("Retention", "客户挽留"),
    "fraud": ("Fraud cases", "欺诈案件"),
    "audit": ("Access audit", "访问审计"),
    "my_bill": ("My bill", "我的账单"),
    "my_subscriptions": ("My subscriptions", "我的订购"),
    "subscriptions": ("Subscriptions", "订购业务"),
    "roaming_cap": ("Roaming cap", "漫游限额"),
    "assistant": ("Assistant", "智能助手"),
    "not_available": ("Not available yet", "暂不可用"),
    "subscribers": ("Lines in service this month", "本月在网用户"),
    "revenue_at_risk": ("Revenue at risk", "风险收入"),
    "refunded": ("Refunded", "已退款"),
    "complaints_per_million": ("Complaints per million subscribers", "每百万用户投诉量"),
    "findings_by_kind": ("Unexplained-charge findings", "不明扣费发现"),
    "refunds_by_month": ("Refunds by month", "每月退款"),
    "fraud_cases": ("Fraud cases", "欺诈案件"),
    "churn_risk": ("Churn-risk distribution", "流失风险分布"),
    "rating_timeliness": ("Rated within 15 min of arrival (%)", "到达后15分钟内完成计费（%）"),
    "nps": ("Net promoter score", "净推荐值"),
    "sla_attainment": ("Complaints resolved in time (%)", "投诉按时办结率（%）"),
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
    "opened_at": ("Opened", "提交时间"),
    "take": ("Handle", "受理"),
    "close": ("Close", "结案"),
    "open_customer": ("Open customer", "查看客户"),
    "customer": ("Customer", "客户"),
    "plan": ("Plan", "套餐"),
    "plan_pending": ("Changes to {plan} from {day} (the next billing period; this one is billed under the plan above)",
                     "{day} 起变更为 {plan}（次月生效，本月仍按上述套餐计费）"),
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
    "cap_removed_ok": ("The cap is removed: roaming spending is no longer limited.", "已取消上限：漫游消费不再受限制。"),
    "remove_cap": ("Remove the cap", "取消上限"),
    "role_none": ("no such login", "无此账号"),  # the role the audit gives a login attempt under a name no login has
    "refunded_ok": ("Refunded.", "已退款。"),
    "not_billed_ok": ("Never billed: nothing to refund, the finding is closed.", "该笔费用未计入账单，无需退款，已关闭。"),
    "refunded_before_ok": ("Already refunded: the finding is closed with that refund.", "此前已退款，已按该笔退款关闭。"),
    "dismissed_ok": ("Dismissed.", "已驳回。"),
    "decided_ok": ("Decision recorded.", "已记录决定。"),
    "decided_suspended_ok": ("Decision recorded; the line is suspended.", "已记录决定，该号码已停机。"),
    "decided_not_suspended_ok": ("Decision recorded; the line was not suspended (already suspended, closed or not registered).",
                                 "已记录决定；该号码未停机（已停机、已销户或未登记）。"),
    "decision_note": ("Why (a number in it is kept as its pseudonym)", "理由（其中的号码以假名保存）"),
    "suspend_line": ("Suspend the line", "停机"),
    "resolved_ok": ("Complaint resolved.", "投诉已解决。"),
    "closed_ok": ("Complaint closed.", "投诉已结案。"),
    "reopened_ok": ("Complaint reopened.", "投诉已重新打开。"),
    "lifecycle": ("Stage", "进度"),
    "due_at": ("Resolve by", "处理时限"),
    "overdue": ("overdue", "已超时"),
    "escalation": ("Escalated to", "已升级至"),
    "escalation_1": ("supervisor", "主管"),
    "escalation_2": ("manager", "经理"),
    "resolve": ("Resolve", "解决"),
    "reopen": ("Reopen", "重新打开"),
    "note": ("Note", "备注"),
    "history": ("History", "处理记录"),
    "offers": ("Available offers", "可订购业务"),
    "ordered_ok": ("Ordered: confirm to start the subscription, with the code sent to your phone by SMS.",
                   "已下单：请输入短信验证码确认订购，确认后生效。"),
    "confirmed_ok": ("Subscription confirmed.", "订购已确认。"),
    "order_cancelled_ok": ("Order cancelled: it was never confirmed, nothing is charged.", "订单已取消，未确认的订购不收费。"),
    "already_subscribed_ok": ("You already have this offer: nothing was ordered. To order it anew, cancel it first.",
                              "您已订购该业务，无需重复订购；如需重新订购请先退订。"),
    # the subscriber's subscriptions page: states worded as the assistant words them, and the second step
    "sub_state_confirmed": ("confirmed", "已订购"),
    "sub_state_cancelled": ("cancelled", "已退订"),
    "sub_state_order_cancelled": ("order cancelled", "已取消"),
    "cancel_order": ("Cancel order", "取消订购"),
    "per_monthly": ("month", "月"),
    "per_per_use": ("use", "次"),
    "held": ("subscribed", "已订购"),
    "confirm_step": ("Confirm your order", "二次确认：请核对订购信息"),
    "terms_billing": ("Billing", "扣费方式"),
    "terms_cancel": ("How to cancel", "如何退订"),
    "billing_monthly": ("Charged to your phone bill every month once you confirm, until you cancel.",
                        "确认后每月从话费中扣除，直至您退订。"),
    "billing_per_use": ("Charged to your phone bill for each use once you confirm, until you cancel.",
                        "确认后每次使用从话费中扣除，直至您退订。"),
    "how_to_cancel": ("At any time on this page (Cancel), or by calling customer care. Until you confirm, nothing is charged.",
                      "可随时在本页点击“退订”，或致电客服办理。确认订购前不收取任何费用。"),
    "code_sent": ("We sent a 6-digit code to your phone by SMS, with these terms. Enter it to confirm the order.",
                  "我们已通过短信将 6 位验证码及以上资费发送至您的手机，请输入验证码确认订购。"),
    "confirm_no_code": ("Confirm only if you agree to the terms above.", "请在同意以上资费后确认订购。"),
    "confirm_code": ("Code from the SMS", "短信验证码"),
    "resend_code": ("Send a new code", "重新发送验证码"),
    "code_resent_ok": ("A new code is on its way by SMS; the previous one no longer works. A code is valid for 10 minutes.",
                       "新的验证码已通过短信发送，之前的验证码已失效。验证码 10 分钟内有效。"),
    # bill-line kinds (billing.LineKind codes) and usage kinds
    "line_plan_fee": ("Monthly plan fee", "套餐月费"),
    "line_voice": ("Calls", "语音通话"),
    "line_sms": ("SMS", "短信"),
    "line_data": ("Data", "上网流量"),
    "line_vas": ("Value-added service", "增值业务"),
    "line_tax": ("Tax", "税费"),
    "line_adjustment": ("Adjustment", "调账"),
    "record": ("record", "话单"),
    "usage_total": ("Usage charges", "详单费用合计"),
    "usage_shown": ("Showing records {a}–{b} of {n}; the total is of all {n}.", "显示第 {a}–{b} 条，共 {n} 条；合计为全部 {n} 条。"),
    # my bill: an issued period's lines are those its bill was issued from; what changed since is told apart
    "usage_as_billed": ("The lines this bill was issued from. Corrections since are carried into the next bill.",
                        "以下是本期账单出账时的详单；此后的更正计入下期账单。"),
    "usage_not_billed_yet": ("This period is not billed yet: the lines as rated so far.", "本期尚未出账：以下是目前已计费的详单。"),
    "corrections_next_bill": ("Corrections carried into your next bill", "计入下期账单的更正"),
    "corrections_total": ("Net of the corrections", "更正合计"),
    "billed_amount": ("On this bill", "本期账单"),
    "amount_now": ("Now", "更正后"),
    "next_bill_amount": ("On your next bill", "下期账单"),
    "not_on_bill": ("Not on this bill", "不在本期账单上"),
    "not_on_bill_intro": ("Usage rated after this bill was issued, held off it or not billed: never in this bill's total.",
                          "出账后才计费、暂缓计费或不计费的用量，不计入本期账单金额。"),
    "status_after_bill": ("on your next bill", "计入下期账单"),
    "status_held": ("held, not billed", "暂缓计费"),
    "status_not_billed": ("not billed", "不计费"),
    "page_previous": ("Previous", "上一页"),
    "page_next": ("Next", "下一页"),
    "related": ("Subscribers who called back", "回拨的用户"),
    "allowance": ("Allowance", "套餐内额度"),
    # trouble tickets: hand-offs from the assistant and fault reports
    "tickets": ("Tickets", "工单"),
    "ticket": ("Ticket", "工单"),
    "tickets_unsettled": ("Open and in progress", "待处理和处理中"),
    "priority": ("Priority", "优先级"),
    "urgent": ("urgent", "紧急"),
    "normal": ("normal", "普通"),
    "open_ticket": ("Open ticket", "查看工单"),
    "chat": ("Chat", "会话"),
    "reported": ("Reported", "用户描述"),
    "conversation": ("The conversation with the assistant", "与智能客服的对话"),
    "turn_subscriber": ("Customer", "客户"),
    "turn_assistant": ("Assistant", "智能客服"),
    "ticket_resolved_ok": ("Ticket resolved.", "工单已解决。"),
    "ticket_closed_ok": ("Ticket closed.", "工单已关闭。"),
    # a subscriber's own complaints and fault reports, in their words (not the desk's)
    "my_complaints": ("My complaints", "我的投诉"),
    "my_tickets": ("My fault reports", "我的报障"),
    "my_complaint_ref": ("Reference", "投诉编号"),
    "my_submitted": ("Submitted", "提交时间"),
    "my_said": ("What you told us", "您反映的问题"),
    "my_stage": ("Where it stands", "处理进度"),
    "my_outcome": ("Outcome", "处理结果"),
    "my_due": ("We answer by {day}.", "我们将于 {day} 前答复您。"),
    "my_resolved_on": ("Resolved on {day}.", "已于 {day} 处理完毕。"),
    "my_closed_on": ("Closed on {day}.", "已于 {day} 办结。"),
    "my_credited": ("A refund was granted: it is taken off your next bill.", "已为您办理退款，将在下期账单中抵扣。"),
    "my_reopen": ("Not satisfied? Ask us to look again", "对处理结果不满意？请我们重新处理"),
    "my_reopen_why": ("What is still wrong (optional)", "仍未解决的问题（可选）"),
    "my_reopen_send": ("Reopen", "重新处理"),
    "reopened_mine_ok": ("Your complaint is reopened: we will look at it again.", "您的投诉已重新提交，我们会再次处理。"),
    "my_no_complaints": ("You have made no complaints.", "您还没有投诉记录。"),
    "my_no_tickets": ("You have reported no faults.", "您还没有故障报修记录。"),
    "my_fault": ("Fault", "故障类型"),
    "my_where": ("Region", "所在地区"),
    "my_fixed_on": ("on {day}", "{day}"),
    "my_tickets_hint": ("Report a fault to the assistant; it is listed here with its progress.",
                        "可通过智能助手报修故障，处理进度会显示在这里。"),
    # stages of the subscriber's complaint (its lifecycle) and fault report (its ticket status), as they read them
    "cstage_opened": ("submitted, waiting to be taken", "已提交，待受理"),
    "cstage_acknowledged": ("being handled", "已受理，处理中"),
    "cstage_reopened": ("reopened, waiting to be taken", "已重新提交，待受理"),
    "cstage_resolved": ("resolved", "已处理完毕"),
    "cstage_closed": ("closed", "已办结"),
    "tstage_open": ("received, waiting for an engineer", "已受理，等待处理"),
    "tstage_in_progress": ("being fixed", "正在处理"),
    "tstage_resolved": ("fixed", "已修复"),
    "tstage_closed": ("closed", "已关闭"),
    # my bill: the months to pick, and a month with no bill told apart from one not billed yet
    "bill_periods": ("Bills issued", "已出账单"),
    "pick_month": ("Another month", "其他月份"),
    "show": ("Show", "查看"),
    "no_bill_month": ("There is no bill for {period}.", "{period} 没有账单。"),
    "not_billed_yet": ("{period} is not billed yet.", "{period} 尚未出账。"),
    "usage_no_bill": ("There is no bill for this month: the lines below were rated for it.", "该月没有账单：以下是该月已计费的详单。"),
    "cap_amount_unit": ("Monthly roaming spending cap ({cur})", "每月漫游消费上限（{cur}）"),
    # what reading a page takes: a way past the header, the header's menu and the language links named
    "skip_to_main": ("Skip to content", "跳到正文"),
    "main_menu": ("Main menu", "主菜单"),
    "pager_bottom": ("pages, at the end", "翻页（底部）"),
    # the second step of an order refused: said on the step, beside the code
    "code_format": ("6 digits", "6 位数字"),
    "code_wait": ("A new code can be sent in {s} s.", "{s} 秒后可重新发送验证码。"),
    "code_expired": ("The code has expired: send a new code, then enter it.", "验证码已过期，请重新发送验证码后输入。"),
    "code_spent": ("Too many wrong codes: this code no longer works. Send a new code.", "验证码错误次数过多，已失效，请重新发送验证码。"),
    "code_key_replaced": ("This code can no longer be checked: send a new code.", "该验证码已无法验证，请重新发送验证码。"),
    "resend_limit": ("No more new codes can be sent for this order: cancel it and order again.",
                     "该订单已多次重发验证码，请取消订单后重新订购。"),
    "confirm_refused": ("Your order is not confirmed yet.", "订购尚未确认。"),
    "login_problem": ("Check the username and password.", "请核对用户名和密码。"),
    "input_invalid_intro": ("Some of what was entered cannot be used: see below.", "部分填写内容有误，请见下方说明。"),
}

# An error page's title, by the error's code: what failed, not only that something did. A code not listed gets the
# general title (``error``).
ERROR_TITLES: dict[str, tuple[str, str]] = {  # code: (en, zh)
    "input_invalid": ("Input not accepted", "输入有误"),
    "not_found": ("Not found", "未找到"),
    "page_not_found": ("No such page", "页面不存在"),
    "method_not_allowed": ("Not a page", "无法直接打开"),
    "permission_denied": ("Not allowed", "无权访问"),
    "assignment_required": ("Not handling this customer", "未受理该客户"),
    "not_authenticated": ("Logged out", "登录已失效"),
    "line_changed_hands": ("Number changed hands", "号码已更换机主"),
    "rate_limited": ("Too many requests", "请求过于频繁"),
    "conflict": ("Could not be done", "无法完成操作"),
    "time_invalid": ("Period not accepted", "账期格式有误"),
    "not_available": ("Not available yet", "暂不可用"),
}


def error_title(code: str | None, lang: str) -> str:
    """An error page's title in the reader's language: what failed, by the error's code."""
    pair = ERROR_TITLES.get(code or "")
    if pair is None:
        return translate("error", lang)
    return pair[1] if lang == "zh" else pair[0]

# Stable codes the console shows (finding kinds, fraud detectors, states, directions, roles, complaint
# categories): (en, zh). A code not listed shows as itself, with spaces for underscores in English.
CODES: dict[str, tuple[str, str]] = {
    # findings (assurance.FindingKind)
    "unconsented_charge": ("unconsented charge", "未经同意扣费"),
    "charge_after_cancellation": ("charge after cancellation", "退订后扣费"),
    "duplicate_charge": ("duplicate charge", "重复扣费"),
    "price_mismatch": ("price mismatch", "价格不符"),
    "unknown_offer_charge": ("unknown offer", "未知业务扣费"),
    "machine_speed_confirmation": ("machine-speed confirmation", "异常快速确认"),
    "replayed_evidence": ("replayed evidence", "重复使用的确认凭证"),
    "bill_shock": ("bill shock", "账单突增"),
    "usage_past_cap": ("usage past the cap", "超出消费上限"),
    "roaming_without_welcome": ("roaming without welcome SMS", "漫游未发提醒"),
    "merchant_suspended_charge": ("charge by a suspended provider", "已暂停业务的服务商扣费"),
    "premium_callback": ("call back to a one-ring number", "回拨响一声号码"),
    "irsf_fraud": ("fraud on a stolen or cloned SIM", "SIM 卡被盗用产生的欺诈费用"),
    "one_ring_roaming_charge": ("one-ring call charged while roaming", "漫游时被收费的响一声来电"),
    # fraud detectors (fraud.Detector)
    "simbox": ("SIM box", "SIM 卡池"),
    "wangiri": ("Wangiri", "响一声诈骗"),
    "irsf": ("IRSF", "国际收入分成欺诈"),
    "scam": ("scam calls", "诈骗电话"),
    "model": ("fraud model", "欺诈模型"),
    # states of findings, cases, complaints and subscriptions
    "open": ("open", "待处理"),
    "confirmed": ("confirmed", "已确认"),
    "resolved": ("resolved", "已解决"),
    "dismissed": ("dismissed", "已驳回"),
    "false_alarm": ("false alarm", "误报"),
    "closed": ("closed", "已结案"),
    "in_progress": ("in progress", "处理中"),
    # a complaint's lifecycle, worded after the actions: "受理" (take) moves an opened complaint to acknowledged
    "opened": ("opened", "待受理"),
    "acknowledged": ("acknowledged", "已受理"),
    "reopened": ("reopened", "已重新打开"),
    "ordered": ("ordered", "待确认"),
    "cancelled": ("cancelled", "已退订"),
    "expired": ("expired", "已到期"),
    "active": ("active", "在用"),
    "suspended": ("suspended", "停机"),
    # directions
    "out": ("outgoing", "主叫"),
    "in": ("incoming", "被叫"),
    "sms_out": ("sent", "发送"),  # a message's direction, as the statement words it
    "sms_in": ("received", "接收"),
    # complaint categories
    "unexplained_charge": ("unexplained charge", "不明扣费"),
    "billing": ("billing", "账单"),
    "billing_error": ("billing error", "账单错误"),
    "network_quality": ("network quality", "网络质量"),
    "service_attitude": ("service attitude", "服务态度"),
    "fraud": ("fraud", "诈骗"),
    "privacy": ("privacy", "隐私"),
    "price": ("price", "资费"),
    "network": ("network", "网络"),
    "bill shock": ("bill shock", "账单突增"),
    "other": ("other", "其他"),
    # what an agent's assignment to a customer rests on
    "complaint": ("complaint", "投诉"),
    "ticket": ("ticket", "工单"),
    # tickets: kinds and fault categories (care's problem names)
    "handoff": ("hand-off from chat", "智能客服转人工"),
    "fault": ("fault report", "故障报修"),
    "agent_handoff": ("hand-off from chat", "智能客服转人工"),
    "no_signal": ("no signal", "没有信号"),
    "slow_data": ("slow data", "上网慢"),
    "dropped_calls": ("dropped calls", "通话掉线"),
    "no_service": ("no service", "无法使用"),
    # roles
    "subscriber": ("subscriber", "用户"),
    "agent": ("agent", "客服"),
    "analyst": ("analyst", "分析师"),
    "fraud_analyst": ("fraud analyst", "反欺诈分析师"),
    "admin": ("admin", "管理员"),
    # languages
    "zh": ("Chinese", "中文"),
    "en": ("English", "英文"),
}

# the consent gate's verdicts (a finding's evidence), in the words the rating explanation uses for them; a code
# the table above words already (a finding kind of the same name) keeps its words
for _code, (_zh, _en) in VERDICT_WORDS.items():
    CODES.setdefault(_code, (_en, _zh))

# The API's notes for what is not available yet (fixed sentences), in Chinese.
NOTES_ZH: dict[str, str] = {
    "no complaints or no active subscribers yet": "暂无投诉或在用用户",
    "charge assurance has not run yet (fairtel assure)": "扣费稽核尚未运行（fairtel assure）",
    "no refunds yet": "暂无退款",
    "fraud detection has not raised cases yet": "欺诈检测尚未产生案件",
    "no survey answers yet": "暂无满意度调查结果",
    "no complaint due yet": "暂无已到期的投诉",
    "this retention list has no expected values (it was scored without monthly revenue): ranked by churn risk alone; `fairtel churn warn` writes one ranked by expected value":
        "此挽留名单没有预期价值（评分时没有月收入）：仅按流失风险排序；`fairtel churn warn` 会生成按预期价值排序的名单",
    "churn scoring has not run yet": "流失评分尚未运行",
    "churn scoring has not run yet: no retention list": "流失评分尚未运行：暂无挽留名单",
    "rating has not run yet": "计费尚未运行",
    "rating has not run yet: no rated lines in the lake": "计费尚未运行：暂无已计费话单",
    "rated lines do not record when they were rated (rated_at)": "已计费话单未记录计费时间（rated_at），无法统计",
    "no file was rated online yet (fairtel watch --rate)": "尚无文件经在线计费（fairtel watch --rate）",
    "billing has not run yet: no bills have been issued": "尚未出账：暂无账单",
    "lines rated after the bill was issued are not on it: they are charged on the next bill":
        "出账后才计费的用量不在本期账单上，将计入下期账单",
}


# What an error page says under its code, in Chinese: the code stays as it is (a stable name to quote to
# support), the sentence is the reader's. English pages show the error's own message, which names the thing.
ERRORS_ZH: dict[str, str] = {
    "already_subscribed": "您已订购该业务，如需重新订购请先退订。",
    "not_found": "未找到该记录，或您无权查看。",
    "not_available": "该功能所需的数据尚未生成，暂不可用。",
    "conflict": "该操作与当前状态不符（可能已由他人处理），请刷新页面后查看。",
    "permission_denied": "您无权执行此操作，或表单已过期，请刷新页面后重试。",
    "assignment_required": "请先受理该客户的投诉或工单：客服仅在处理期间可查看客户资料。",
    "not_authenticated": "登录已失效，请重新登录。",
    "line_changed_hands": "该号码已更换机主（或销户后重新启用），此登录账号开通于此之前，已不能再使用：请联系管理员开通新的登录账号。",
    "input_invalid": "输入有误，请检查后重试。",
    "currency_mismatch": "币种不一致，无法处理。",
    "line_not_in_service": "该号码已停机或销户，无法办理。",
    "assistant_unavailable": "智能助手暂不可用。",
    "catalog_missing": "资费目录尚未加载，暂不可用。",
    "finding_resolution_invalid": "该异常扣费无法按此方式处理（可能已处理或尚未出账）。",
    "fraud_case_transition": "该欺诈案件已有决定，无法再次处理。",
    "database_unavailable": "数据库暂时无法连接，请稍后再试。",
    "request_too_large": "提交的内容过长。",
    "time_invalid": "账期或时间格式有误：账期应写作 YYYY-MM（例如 2026-09）。",
    "method_not_allowed": "该地址不能直接打开，请使用页面上的按钮或链接。",
    "page_not_found": "没有这个页面，请从导航栏进入。",
}
ERROR_ZH_OTHER = "请求未能完成，请稍后再试或联系管理员。"

# Why a finding was resolved, as refunds and the consent gate word it (assurance), in Chinese; a reason an
# agent typed shows as typed.
RESOLUTION_REASONS_ZH: dict[str, str] = {
    "charge without a confirmed order": "未经用户确认订购的扣费",
    "charge after the subscription ended": "退订后的扣费",
    "charge after the line was closed": "销户后的扣费",
    "charge while the line was suspended": "停机期间的扣费",
    "charge under the previous customer's subscription after the line changed owner": "号码过户后仍按原机主的订购扣费",
    "charged twice for the same period": "同一周期重复扣费",
    "monthly fee charged again after re-subscribing in the same month": "当月退订后再次订购同一业务，当月不重复收取月功能费",
    "charged more than the catalog price": "超出资费标准的扣费",
    "charge for an offer not in the catalog": "不明业务扣费",
    "usage charged after the spending cap": "超出消费上限后的费用",
    "confirmation not made by the subscriber": "订购确认并非用户本人操作",
    "confirmation evidence reused from another order": "订购确认凭证取自其他订单",
    "refused by the consent gate before billing": "计费时已被同意校验拦截，未计入账单",
    "call back to a one-ring scam number charged at premium rates": "回拨“响一声”诈骗号码产生的高额费用",
    "fraudulent calls made on a stolen or cloned SIM": "手机卡被盗用或复制后产生的欺诈通话费用",
    "call back to a one-ring scam number": "回拨“响一声”诈骗号码产生的费用",
    "one-ring scam call received while roaming": "漫游期间接听“响一声”诈骗来电产生的费用",
}
RESOLUTION_OUTCOMES_ZH: dict[str, str] = {"refunded": "已退款", "not_billed": "未计费", "dismissed": "已驳回"}  # before the colon
RESOLUTION_OUTCOMES_EN: dict[str, str] = {"refunded": "refunded", "not_billed": "not billed", "dismissed": "dismissed"}


# China's provincial-level divisions: the register's region codes (pinyin, as ``synth`` and operators' files write
# them) → (en, zh). A region not listed shows as written.
REGIONS: dict[str, tuple[str, str]] = {
    "beijing": ("Beijing", "北京"), "tianjin": ("Tianjin", "天津"), "shanghai": ("Shanghai", "上海"), "chongqing": ("Chongqing", "重庆"),
    "hebei": ("Hebei", "河北"), "shanxi": ("Shanxi", "山西"), "liaoning": ("Liaoning", "辽宁"), "jilin": ("Jilin", "吉林"),
    "heilongjiang": ("Heilongjiang", "黑龙江"), "jiangsu": ("Jiangsu", "江苏"), "zhejiang": ("Zhejiang", "浙江"), "anhui": ("Anhui", "安徽"),
    "fujian": ("Fujian", "福建"), "jiangxi": ("Jiangxi", "江西"), "shandong": ("Shandong", "山东"), "henan": ("Henan", "河南"),
    "hubei": ("Hubei", "湖北"), "hunan": ("Hunan", "湖南"), "guangdong": ("Guangdong", "广东"), "hainan": ("Hainan", "海南"),
    "sichuan": ("Sichuan", "四川"), "guizhou": ("Guizhou", "贵州"), "yunnan": ("Yunnan", "云南"), "shaanxi": ("Shaanxi", "陕西"),
    "gansu": ("Gansu", "甘肃"), "qinghai": ("Qinghai", "青海"), "taiwan": ("Taiwan", "台湾"),
    "neimenggu": ("Inner Mongolia", "内蒙古"), "innermongolia": ("Inner Mongolia", "内蒙古"), "guangxi": ("Guangxi", "广西"),
    "xizang": ("Tibet", "西藏"), "tibet": ("Tibet", "西藏"), "ningxia": ("Ningxia", "宁夏"), "xinjiang": ("Xinjiang", "新疆"),
    "hongkong": ("Hong Kong", "香港"), "xianggang": ("Hong Kong", "香港"), "macau": ("Macao", "澳门"), "macao": ("Macao", "澳门"),
    "aomen": ("Macao", "澳门"),
}


def region_text(region: str | None, lang: str) -> str:
    """A subscriber's region in the reader's language (``zhejiang`` → 浙江 / Zhejiang); one not listed as written."""
    if not region:
        return ""
    pair = REGIONS.get("".join(ch for ch in region.lower() if ch.isalpha()))
    return region if pair is None else pair[1] if lang == "zh" else pair[0]


def error_text(code: str, message: str, lang: str) -> str:
    """The sentence an error page shows under the code."""
    if lang != "zh":
        return message
    return ERRORS_ZH.get(code, ERROR_ZH_OTHER)


# The fields a form's problem names (``Problem.field``), in words: (en, zh). A field not listed shows as named.
PROBLEM_FIELDS: dict[str, tuple[str, str]] = {
    "amount": ("Amount", "金额"), "msisdn": ("Number", "号码"), "period": ("Period", "账期"), "text": ("Text", "内容"),
    "category": ("Category", "类别"), "channel": ("Channel", "渠道"), "bill_id": ("Bill", "账单"), "note": ("Note", "备注"),
    "reason": ("Reason", "原因"), "code": ("Code", "验证码"), "message": ("Message", "消息"), "record_id": ("Record", "话单号"),
    "actor": ("Actor", "操作人"), "action": ("Action", "操作"), "offer_id": ("Offer", "业务"),
    "opted_out": ("Marketing choice", "营销偏好"), "since": ("From", "起始日期"), "until": ("To", "截止日期"),
    "status": ("Status", "状态"),
}

# What a problem of the console's own forms says (``Problem.message``, in English), in Chinese: the English pattern,
# the Chinese with its values put back in order. The API's problems (a model's, the amount rule's) are worded by the
# API (``fairtel.api._error_words.PROBLEMS_ZH``: one source); a message neither matches shows as written.
PROBLEM_PATTERNS_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"between (\S+) and (\S+)"), "应在 {0} 到 {1} 之间"),
    (re.compile(r"the customer's number is required"), "请填写客户号码"),
    (re.compile(r"not a subscriber number: write its digits, from the country code \((\d+)\) or as dialled at home \((\d+)\)"),
     "不是有效的用户号码：请填写数字，从国家码写起（如 {0}）或按国内拨号方式（如 {1}）"),
    (re.compile(r"empty message"), "请输入内容"),
    (re.compile(r"not a date: write it as YYYY-MM-DD"), "不是有效的日期，请按 年-月-日（如 2026-11-02）填写"),
    (re.compile(r"choose the bill the credit goes against"), "请选择退款冲抵的账单"),
    (re.compile(r"enter the cap as an amount, e\.g\. 100\.00 \(to remove the cap, use its own button\)"),
     "请填写上限金额，如 100.00（如要取消上限，请点“取消上限”按钮）"),
    # the second step of an order: the code the SMS brought
    (re.compile(r"the code does not match the one sent to your phone"), "验证码不正确，与发送到您手机的验证码不一致，请核对后重新输入"),
    (re.compile(r"the code sent to your phone by SMS is needed to confirm"), "请输入短信中的 6 位验证码"),
)


def problem_field(field: str | None, lang: str) -> str:
    """The field a problem is about, in the reader's language (``amount`` → 金额 / Amount)."""
    if not field:
        return ""
    pair = PROBLEM_FIELDS.get(field.rsplit(".", 1)[-1])
    return field if pair is None else pair[1] if lang == "zh" else pair[0]


def problem_text(message: str, lang: str) -> str:
    """What is wrong with a field, in the reader's language where the console knows the sentence."""
    if lang != "zh":
        return message
    for pattern, zh in PROBLEM_PATTERNS_ZH:
        m = pattern.fullmatch(message)
        if m:
            return zh.format(*m.groups())
    return problem_in(CHINESE, message)


def resolution_text(resolution: str | None, lang: str) -> str:
    """A finding's resolution (``outcome: reason``, as the API gives it) in the reader's language."""
    if not resolution:
        return ""
    head, sep, reason = resolution.partition(": ")
    if lang != "zh":  # the outcome's code in words (``not_billed`` reads "not billed"), the reason as written
        outcome = RESOLUTION_OUTCOMES_EN.get(head) if sep else None
        return resolution if outcome is None else f"{outcome}: {reason}"
    outcome = RESOLUTION_OUTCOMES_ZH.get(head) if sep else None
    if outcome is None:
        return resolution
    return f"{outcome}：{RESOLUTION_REASONS_ZH.get(reason, reason)}"


def code_text(code: str | None, lang: str) -> str:
    """A stable code in the reader's language."""
    if not code:
        return ""
    pair = CODES.get(code)
    if pair is not None:
        return pair[1] if lang == "zh" else pair[0]
    return code if lang == "zh" else code.replace("_", " ")


def chart_label(label: str, lang: str) -> str:
    """A chart label: a code, or ``code (state)`` as the fraud chart has it; months and ranges stay as they are."""
    head, sep, rest = label.partition(" (")
    if sep and rest.endswith(")"):
        return f"{code_text(head, lang)} ({code_text(rest[:-1], lang)})" if lang != "zh" else f"{code_text(head, lang)}（{code_text(rest[:-1], lang)}）"
    return code_text(label, lang) if label in CODES else label


# Notes that carry a value (a date, a count), in Chinese: the pattern of the English note, the Chinese with the
# values put back in the same order.
NOTE_PATTERNS_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0 findings \(last run (\d{4}-\d{2}-\d{2} \d{2}:\d{2})\)"), "0 条发现（上次运行于 {0}）"),
)


def note_text(note: str | None, lang: str) -> str:
    if not note:
        return ""
    if lang != "zh":
        return note
    if note in NOTES_ZH:
        return NOTES_ZH[note]
    for pattern, zh in NOTE_PATTERNS_ZH:
        m = pattern.fullmatch(note)
        if m:
            return zh.format(*m.groups())
    return note


def line_kind(kind: str | None, lang: str) -> str:
    """A bill line's or usage record's kind in the reader's language; an unknown code shows itself."""
    if not kind:
        return ""
    pair = TEXT.get(f"line_{kind}")
    return kind if pair is None else (pair[1] if lang == "zh" else pair[0])


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def text_lang(text: str | None) -> str | None:
    """The language of text people or the assistant wrote (a complaint, a fault report, a chat turn), as the console
    can tell it: ``zh`` when it holds Chinese characters, ``en`` when it holds only Latin words, ``None`` when it
    holds neither (a number, an id)."""
    if not text:
        return None
    if _HAN.search(text):
        return "zh"
    return "en" if _LATIN_WORD.search(text) else None


def translate(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return f"[{key}]"
    return pair[1] if lang == "zh" else pair[0]
