"""What the assistant says, in Chinese and English, and how it writes amounts and quantities.

Templates only: every figure put into them is a field of the facts the data port returned.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fairtel.billing import line_text
from fairtel.care._chat_port import Text
from fairtel.catalog import Catalog
from fairtel.core.money import Money

GIB = 1024**3
MIB = 1024**2

_T: dict[str, tuple[str, str]] = {
    # -- conversation ----------------------------------------------------------------------------------
    "greeting": (
        "您好！我是智能客服，可以帮您查询话费账单、解释扣费、查剩余流量和通话、报障、查积分、国际漫游资费、"
        "查询和退订增值业务、推荐套餐、受理投诉或转人工。请问有什么可以帮您？",
        "Hello! I can look up your bill, explain a charge, tell you the data and minutes left, take a fault "
        "report, show your loyalty points, give roaming prices, list or cancel value-added services, advise "
        "a plan, record a complaint or put you through to an agent. How can I help?",
    ),
    "thanks": ("不客气，还有其他问题随时问我。", "You're welcome. Ask me anything else any time."),
    "out_of_scope": (
        "抱歉，这个问题我帮不上忙。我只能回答与您的号码、账单、流量、业务和服务相关的问题。",
        "Sorry, I can't help with that. I can only answer questions about your line, bills, usage, services "
        "and support.",
    ),
    "ask_msisdn": ("请问您要查询哪个号码？", "Which number is this about?"),
    "unknown_line": ("没有找到号码 {msisdn}，请核对后再试。", "I can't find the number {msisdn}. Please check it."),
    "not_own_line": (
        "抱歉，出于隐私保护，我只能查询您当前咨询所用号码的信息，无法查询 {other}。如需了解该号码，请用该号码登录后再咨询。",
        "Sorry, to protect privacy I can only answer about the line you are contacting us from, not about {other}. "
        "To ask about that line, please sign in with it.",
    ),
    "not_own_lines": (
        "抱歉，出于隐私保护，我只能查询您本人账户名下号码的信息，无法查询 {other}。",
        "Sorry, to protect privacy I can only answer about the lines on your own account, not about {other}.",
    ),
    "not_customer_line": (
        "抱歉，出于隐私保护，我只能查询该客户名下号码的信息，无法查询 {other}。",
        "Sorry, to protect privacy I can only answer about this customer's own lines, not about {other}.",
    ),
    "about_line": ("（以下是号码 {msisdn} 的信息）", "(About the line {msisdn}.) "),
    "ask_month": ("请问您要查询哪个月的账单？（例如：上个月、9月）", "Which month? (for example: last month, September)"),
    "anything_else": ("好的。还有什么可以帮您？", "OK. Anything else I can help with?"),
    "reask": ("抱歉，我没听明白。", "Sorry, I didn't get that. "),
    "cancelled_action": ("好的，已取消，没有做任何更改。", "OK, I've left everything as it was."),
    "confirm_hint": ("请回复“确认”或“取消”。", "Please reply yes or no."),
    "error": ("抱歉，暂时无法完成：{reason}", "Sorry, I couldn't do that: {reason}"),
    # -- bill ------------------------------------------------------------------------------------------
    "bill_none": ("{period} 没有找到您的账单或消费记录。", "I found no bill and no charges for {period}."),
    "bill_head_issued": (
        "您 {msisdn} 在 {period} 的账单（账单号 {bill_id}）合计 {total}，明细：",
        "Your bill for {msisdn} in {period} (bill {bill_id}) comes to {total}:",
    ),
    "bill_head_provisional": (
        "您 {msisdn} 在 {period} 的费用（账单尚未出账，按已计费的话单和月租统计）合计 {total}，明细：",
        "Your charges for {msisdn} in {period} (not billed yet: the rated usage and the plan fee) come to "
        "{total}:",
    ),
    # a bill that leaves the line in credit: named as the statement names it (本期结余 / credit balance), a positive sum
    "bill_head_issued_credit": (
        "您 {msisdn} 在 {period} 的账单（账单号 {bill_id}）本期结余 {credit}，明细：",
        "Your bill for {msisdn} in {period} (bill {bill_id}) leaves a credit balance of {credit}:",
    ),
    "bill_head_provisional_credit": (
        "您 {msisdn} 在 {period} 的费用（账单尚未出账，按已计费的话单和月租统计）本期结余 {credit}，明细：",
        "Your charges for {msisdn} in {period} (not billed yet: the rated usage and the plan fee) leave a credit "
        "balance of {credit}:",
    ),
    "bill_item": ("  · {what}：{amount}", "  · {what}: {amount}"),
    "bill_this_line_only": ("以上是本号码（{msisdn}）的账单，不含您名下其他号码；其他号码的账单请用该号码登录查询。",
                            "This is the bill of this line ({msisdn}) only, not of the account's other lines: ask about "
                            "another line from that line's own login."),
    "bill_more": ("想了解某一笔费用，可以问我“这笔费用是怎么来的”。", "Ask me \"why was I charged this\" about any item."),
    "bill_not_rated": (
        "（{period} 还没有已计费的通话、短信或流量记录，以上只有月租和待入账的调账/退款。）",
        "(No calls, texts or data of {period} are rated yet: this is the plan fee and the adjustments still to be billed.)",
    ),
    "bill_held": (
        "另有 {held} 是号码停机后产生的用量，暂缓计费，不在上述合计内；经核实确为本人使用后才会收取。",
        "Another {held} of usage made after the line's suspension is held: not billed and not in this total; it is "
        "charged only once confirmed as yours.",
    ),
    # -- charges ---------------------------------------------------------------------------------------
    "charges_none": ("{period} 没有收费的记录。", "There are no charged records in {period}."),
    "charges_none_day": ("{day} 没有收费记录。", "There was no charge on {day}. "),
    "charges_choose": (
        "{period} 有这些收费，请问您想了解哪一笔？（回复序号）",
        "These are the charges in {period}. Which one do you mean? (reply with its number)",
    ),
    "charge_row": ("  {n}. {when} {what} {amount}", "  {n}. {when} {what} {amount}"),
    "charge_more": ("  ……共 {count} 笔，以上是金额最大的 {shown} 笔。", "  ... {count} in all; these are the {shown} largest."),
    "charge_vas_consented": (
        "{when} 的 {amount} 是增值业务“{offer}”的费用（订购号 {sub}）。订购记录显示您于 {confirmed} 通过短信二次确认订购，"
        "扣费时订购有效，当前状态：{state}。",
        "The {amount} on {when} is for the value-added service \"{offer}\" (subscription {sub}). The records show "
        "you confirmed it with the code sent by SMS on {confirmed}, so it was chargeable; its state now: {state}.",
    ),
    "charge_vas_cancel_hint": ("如需退订，可以对我说“退订{offer}”。", " To stop it, say \"cancel {offer}\"."),
    "charge_vas_consented_refunded": (
        "{when} 的 {amount} 是增值业务“{offer}”的费用（订购号 {sub}），计费时按您于 {confirmed} 确认的订购收取；"
        "此后核实这笔扣费不应收取，{refunds}。订购当前状态：{state}。",
        "The {amount} on {when} is for the value-added service \"{offer}\" (subscription {sub}), charged under the "
        "order you confirmed on {confirmed}; it was found afterwards that it should not have been charged, and "
        "{refunds}. The subscription's state now: {state}.",
    ),
    "charge_vas_refused": (
        "{when} 的“{offer}”扣费 {amount} 不应向您收取：{why}（核验结果：{verdict}），已作为异常扣费处理。",
        "The {amount} charge for \"{offer}\" on {when} should not have been made: {why} (check: {verdict}). It is "
        "treated as an unexplained charge.",
    ),
    "charge_vas_refused_refunded": (
        "{when} 的“{offer}”扣费 {amount} 不应向您收取：{why}（核验结果：{verdict}）。{refunds}。",
        "The {amount} charge for \"{offer}\" on {when} should not have been made: {why} (check: {verdict}). It has been "
        "{refunds}.",
    ),
    "charge_refunds_sep": ("；", "; "),
    "charge_vas_blocked": (
        "{when} 服务商对增值业务“{offer}”发起了扣费{attempted}，但{why}（核验结果：{verdict}），"
        "这笔扣费已被拦截，没有计入您的账单，您无需支付。",
        "On {when} the provider of the value-added service \"{offer}\" tried to charge you{attempted}, but {why} (check: "
        "{verdict}): the charge was blocked and not billed, so you pay nothing for it.",
    ),
    "charge_refused_unknown": ("没有有效的订购确认", "there is no valid confirmation"),
    "charge_attempted": ("（{amount}）", " {amount}"),
    "charge_blocked_tag": ("已拦截，未收费", "blocked, not billed"),
    "charge_held_tag": ("暂缓计费，未收费", "held, not billed"),
    "charge_usage_held": (
        "{when} 的这笔{what}用量（{amount}）发生在号码停机之后，暂缓计费，没有计入账单，经核实确为本人使用后才会收取。"
        "它由计费规则 {rule} 计价：",
        "The usage of {amount} for {what} on {when} was made after the line's suspension: it is held, not billed, and "
        "charged only once confirmed as yours. It was priced by rule {rule}:",
    ),
    "charge_usage_after_bill": (
        "{when} 的这笔{what}用量（{amount}）在 {period} 账单出账后才计费，不在该期账单上，将计入下期账单。"
        "它由计费规则 {rule} 计价：",
        "The usage of {amount} for {what} on {when} was rated after your {period} bill was issued: it is not on that "
        "bill, and is charged on your next bill. It was priced by rule {rule}:",
    ),
    "complaint_offer": ("需要我为您登记投诉吗？", " Shall I record a complaint?"),
    "complaint_already": ("您的投诉 {complaint} 已登记。", " Your complaint {complaint} is recorded."),
    "charge_usage": (  # the amount its bill charged (of a month not billed yet, as rated so far)
        "{when} 的这笔{what}费用 {amount}，由计费规则 {rule} 计算：",
        "The charge of {amount} for {what} on {when} was priced by rule {rule}:",
    ),
    "charge_allowance": (
        "它超出了套餐内资源 {allowance}，超出部分按标准资费收费。",
        "It went past your plan's allowance {allowance}; what is beyond it is charged at the standard rate.",
    ),
    # -- usage left ------------------------------------------------------------------------------------
    "usage_head": ("截至目前，您 {msisdn} 本月（{period}）套餐余量：", "What is left of your plan this month ({period}) on {msisdn}:"),
    "usage_row": ("  · {what}：已用 {used}，剩余 {left}（共 {total}）", "  · {what}: used {used}, {left} left of {total}"),
    "usage_head_past": ("您 {msisdn} 在 {period} 的套餐用量：", "Your plan's usage in {period} on {msisdn}:"),
    "usage_row_past": ("  · {what}：已用 {used}，未用 {left}（共 {total}）", "  · {what}: used {used}, {left} unused of {total}"),
    "usage_future": (
        "{period} 还没有开始，没有用量。以下是本月（{current}）的情况。\n",
        "{period} hasn't started yet, so there is no usage for it. This month ({current}):\n",
    ),
    "usage_unlimited": (
        "  · {what}：已用 {used}，不限量；超过 {threshold} 后降速",
        "  · {what}: used {used}, unlimited; slowed down after {threshold}",
    ),
    "usage_unlimited_plain": ("  · {what}：已用 {used}，不限量", "  · {what}: used {used}, unlimited"),
    "usage_none": (
        "您的套餐（{plan}）不含流量或通话等套餐内资源，按使用量计费。",
        "Your plan ({plan}) has no allowances: usage is paid as you go.",
    ),
    # -- fault -----------------------------------------------------------------------------------------
    "fault_ask_type": (
        "很抱歉给您带来不便。请问是什么问题：没有信号、上网慢、通话掉线，还是无法使用？",
        "Sorry about that. What is the problem: no signal, slow data, dropped calls, or no service at all?",
    ),
    "fault_ask_location": ("请问问题出现在什么地方？（城市、街道或小区）", "Where does it happen? (city, street or area)"),
    "fault_ask_since": ("请问从什么时候开始的？", "Since when has this been happening?"),
    # a reply that answered the other question of the two: noted, before the one it did not answer is asked again
    "fault_noted_since": ("好的，开始时间：{since}。", "Noted: since {since}. "),
    "fault_need_address": (
        "需要具体地址，工程师才能找到您说的“{place}”。",
        "I need the address, so that an engineer can find your \"{place}\". ",
    ),
    "fault_noted_place": ("好的，地点：{location}。", "Noted: at {location}. "),
    # what a fault ticket says of the report, in the conversation's language (the agents read it on the ticket)
    "fault_summary": (
        "{problem}，地点：{location}，开始时间：{since}（于对话 {chat} 中报告）",
        "{problem} at {location} since {since} (reported in chat {chat})",
    ),
    "fault_opened": (
        "已为您创建故障单 {ticket}：{problem}，地点：{location}，开始时间：{since}。工程师会尽快处理，"
        "处理进展会短信通知您。",
        "I've opened trouble ticket {ticket}: {problem}, where: {location}, started: {since}. An engineer will "
        "look into it and you'll get a text message on progress.",
    ),
    # -- loyalty ---------------------------------------------------------------------------------------
    "points_balance": ("您 {msisdn} 当前积分余额 {balance} 分。", "Your loyalty balance on {msisdn} is {balance} points."),
    "points_entry": ("  · {when} {sign}{points} {reason}", "  · {when} {sign}{points} {reason}"),
    "points_recent": ("最近的积分记录：", "Recent entries:"),
    "points_ask_amount": ("请问您要兑换多少积分？", "How many points would you like to redeem?"),
    "points_short": (
        "您的积分余额为 {balance} 分，不足以兑换 {points} 分。",
        "Your balance is {balance} points, not enough to redeem {points}.",
    ),
    "points_confirm": (
        "将从您的积分中扣除 {points} 分（当前余额 {balance} 分），确认兑换吗？",
        "I'll redeem {points} points (your balance is {balance}). Shall I go ahead?",
    ),
    "points_reason": ("聊天中兑换", "redeemed in chat"),  # the ledger entry of a redemption booked in chat
    "points_done": ("已兑换 {points} 分，剩余积分 {balance} 分。", "Done: {points} points redeemed, {balance} points left."),
    # -- roaming ---------------------------------------------------------------------------------------
    "roam_ask_country": ("请问您要去哪个国家或地区？", "Which country or region are you travelling to?"),
    "roam_head": ("在{country}属于“{zone}”，漫游资费如下：", "{country} is in \"{zone}\". Roaming prices:"),
    "roam_rate": ("  · {what}：{price}/{per}", "  · {what}: {price} per {per}"),
    "roam_rate_cap": ("  · {what}：{price}/{per}，每天最多收 {cap}", "  · {what}: {price} per {per}, at most {cap} a day"),
    "roam_free": ("  · {what}：免费", "  · {what}: free"),
    "roam_cap": (
        "您设置的每月漫游消费上限为 {cap}：本月漫游费用达到上限的 80% 和 100% 时会短信提醒您，超出上限的漫游费用将退还给您。",
        "Your monthly roaming spending cap is {cap}: we text you when this month's roaming charges reach 80 % and 100 % "
        "of it, and roaming charges beyond it are refunded to you.",
    ),
    "roam_default_cap": (
        "您还没有设置漫游消费上限，默认按 {cap} 提醒。",
        "You haven't set a roaming spending cap; alerts use the default of {cap}.",
    ),
    "roam_no_cap": ("您还没有设置漫游消费上限。", "You haven't set a roaming spending cap."),
    "roam_change_cap": (
        "如需修改上限，可以在 App 或网上营业厅的“漫游上限”中设置，或拨打客服热线。",
        "To change the cap, set it under \"roaming cap\" in the app or the web self-service, or call customer "
        "care.",
    ),
    "roam_change_cap_chat": (
        "如需修改上限，可以直接告诉我，例如“把漫游上限设为 200 元”。",
        "To change the cap, just tell me, for example \"set my roaming cap to 200\".",
    ),
    "cap_ask_amount": ("请问要把每月漫游消费上限设为多少元？", "What should your monthly roaming spending cap be?"),
    "cap_confirm": (
        "确认将您的每月漫游消费上限设为 {cap}吗？设置后，本月漫游费用达到上限的 80% 和 100% 时会短信提醒您，超出上限的漫游费用将退还给您。",
        "Set your monthly roaming spending cap to {cap}? We will text you when this month's roaming charges reach 80 % and "
        "100 % of it, and roaming charges beyond it are refunded to you.",
    ),
    "cap_done": ("已将您的每月漫游消费上限设为 {cap}。", "Done: your monthly roaming spending cap is now {cap}."),
    "cap_removed": ("已取消您的每月漫游消费上限。", "Your monthly roaming spending cap is removed."),
    "cap_none_to_remove": (
        "您还没有设置漫游消费上限，无需取消。",
        "You haven't set a roaming spending cap, so there is none to remove.",
    ),
    "cap_remove_confirm": (
        "确认取消您的每月漫游消费上限吗？取消后不再按您设置的上限短信提醒，超出原上限的漫游费用也不再退还。",
        "Remove your monthly roaming spending cap? You will no longer get texts at a cap of your own, and roaming charges "
        "beyond it are no longer refunded.",
    ),
    "cap_out_of_range": ("漫游消费上限需在 0 到 {most} 元之间。", "The roaming cap must be between 0 and {most}."),
    "cap_not_here": (
        "抱歉，暂时无法在对话中修改漫游上限，请在 App 或网上营业厅的“漫游上限”中设置，或拨打客服热线。",
        "Sorry, I can't change the roaming cap here yet: set it under \"roaming cap\" in the app or the web "
        "self-service, or call customer care.",
    ),
    "roam_switch": (
        "我这里没有国际漫游的开关，无法为您开通或关闭漫游：漫游功能由运营商开通，请拨打客服热线或到营业厅办理。",
        "I have no roaming switch, so I can't turn international roaming on or off for you: the operator does that; call "
        "customer care or visit a store.",
    ),
    "roam_switch_zone": ("您的套餐在{country}可以漫游，按“{zone}”的资费计费。", "Your plan can roam in {country}, priced as \"{zone}\"."),
    "roam_switch_unknown": ("目录中没有{country}的漫游资费。", "The catalog has no roaming prices for {country}."),
    "roam_switch_ask": ("出行前可以问我目的地的漫游资费。", "Ask me about a destination's roaming prices before you travel."),
    "roam_unknown": ("抱歉，目录中没有 {country} 的漫游资费。", "Sorry, the catalog has no roaming prices for {country}."),
    "call_head": (
        "从国内拨打{country}（+{code}，属于“{zone}”）的资费：",
        "Calling {country} from home (+{code}, in \"{zone}\"):",
    ),
    "call_roaming_note": (
        "以上是在国内拨打的价格；人在{country}漫游时资费不同，可以问我“在{country}漫游怎么收费”。",
        "These are the prices from home; roaming in {country} is priced differently: ask me \"roaming in {country}\".",
    ),
    "call_unknown": ("抱歉，目录中没有拨打 {country} 的资费。", "Sorry, the catalog has no prices for calls to {country}."),
    # -- VAS -------------------------------------------------------------------------------------------
    "vas_none": ("您目前没有订购任何增值业务。", "You have no value-added services."),
    "vas_head": ("您目前的增值业务：", "Your value-added services:"),
    "vas_row": ("  {n}. {name}（{provider}）{price}，状态：{state}", "  {n}. {name} ({provider}) {price}, {state}"),
    "vas_ask_which": ("请问要退订哪一项？（回复序号或业务名称）", "Which one should I cancel? (reply with its number or name)"),
    "vas_not_found": ("您没有有效的“{offer}”订购。", "You have no active \"{offer}\" subscription."),
    "vas_confirm": (
        "确认退订“{name}”（{price}，订购号 {sub}）吗？退订后立即停止收费。",
        "Cancel \"{name}\" ({price}, subscription {sub})? Charges stop at once.",
    ),
    "vas_done": ("已为您退订“{name}”，从现在起不再收费。", "\"{name}\" is cancelled; you won't be charged for it again."),
    # -- plan advice -----------------------------------------------------------------------------------
    "advice_unavailable": (
        "抱歉，套餐推荐功能暂未开放。您当前的套餐是“{plan}”。",
        "Sorry, plan advice isn't available yet. Your current plan is \"{plan}\".",
    ),
    "plan_pending": (
        "您已办理套餐变更：自 {since} 起改为“{plan}”（次月生效），本月仍按“{current}”计费。",
        "Your change to \"{plan}\" takes effect on {since} (from the next billing period); this month is still "
        "billed under \"{current}\".",
    ),
    "advice_same": ("根据您的用量，当前套餐“{plan}”已经是最划算的。", "Going by your usage, your plan \"{plan}\" is already the best value."),
    "advice": (
        "根据您的用量，换成“{plan}”每月可以节省约 {saving}。",
        "Going by your usage, \"{plan}\" would save you about {saving} a month.",
    ),
    # -- complaint, agent ------------------------------------------------------------------------------
    "complaint_ask": (
        "很抱歉让您不满意。请简单说说是什么问题（例如：不明扣费、账单错误、网络质量、服务态度、诈骗、隐私）？",
        "I'm sorry. Tell me briefly what it is about (for example: an unexplained charge, a billing error, "
        "network quality, staff attitude, fraud, privacy)?",
    ),
    "complaint_done": (
        "已为您登记投诉 {complaint}（类别：{category}），我们会在 {hours} 小时内联系您。",
        "I've recorded complaint {complaint} (category: {category}). We'll contact you within {hours} hours.",
    ),
    "complaint_declined": ("好的，不为您登记投诉。还有什么可以帮您？", "OK, I won't record a complaint. Anything else I can help with?"),
    "complaint_status_head": ("您最近的投诉：", "Your latest complaints:"),
    "complaint_status_row": ("  · {complaint}（{category}，{opened} 登记）：{status}{more}",
                             "  · {complaint} ({category}, recorded {opened}): {status}{more}"),
    "complaint_status_due": ("，预计 {due} 前处理完毕", "; to be resolved by {due}"),
    "complaint_status_settled": ("（{at}）", " ({at})"),
    "complaint_status_tail": (
        "如对处理结果不满意，可以对我说“我要投诉”，或转人工。",
        "If you are not satisfied with how it was handled, tell me \"I want to complain\" or ask for an agent.",
    ),
    "complaint_status_none": (
        "您目前没有登记过投诉。如需投诉，请告诉我是什么问题。",
        "You have no complaints on record. To make one, tell me what it is about.",
    ),
    "complaint_status_not_here": (
        "抱歉，暂时无法在对话中查询投诉进度，请在 App 的“我的投诉”中查看，或转人工。",
        "Sorry, I can't look up your complaints here: see \"my complaints\" in the app, or ask for an agent.",
    ),
    "complaint_status_overdue": (
        "，已超过承诺的处理时限（原定 {due} 前），已升级加急处理，非常抱歉让您久等",
        "; it is overdue (it was due by {due}) and has been escalated. We are sorry for the wait",
    ),
    "complaint_status_refund": ("，处理结果：已为您退款 {amount}", "; outcome: {amount} refunded to you"),
    "complaint_status_no_refund": ("，处理结果未涉及退款", "; the outcome involved no refund"),
    "complaint_status_reopen_tail": (
        "如对处理结果不满意，可以对我说“我对处理结果不满意”，我可以为您重新开启投诉；也可以转人工。",
        "If you are not satisfied with the outcome, tell me \"I'm not satisfied with the outcome\" and I can reopen the "
        "complaint, or ask for an agent.",
    ),
    "complaint_reopen_offer": (
        "您的投诉 {complaint}（{category}，{opened} 登记）已于 {at} 处理完毕{outcome}。确认要重新开启这件投诉吗？重新开启后我们会重新处理，并在 {hours} 小时内联系您。",
        "Your complaint {complaint} ({category}, recorded {opened}) was resolved on {at}{outcome}. Shall I reopen it? "
        "It will be handled again and we'll contact you within {hours} hours.",
    ),
    "complaint_reopen_done": (
        "已为您重新开启投诉 {complaint}，我们会重新处理，预计 {due} 前处理完毕。",
        "Complaint {complaint} is reopened: it will be handled again, to be resolved by {due}.",
    ),
    "complaint_reopen_none": (
        "您目前没有已处理完毕、可以重新开启的投诉。",
        "You have no resolved complaint that can be reopened.",
    ),
    "complaint_reopen_closed": (
        "您的投诉 {complaint} 已结案，无法在对话中重新开启；如仍有问题，可以对我说“我要投诉”登记新的投诉，或转人工。",
        "Complaint {complaint} is closed and can't be reopened here; to take it further, tell me \"I want to complain\" "
        "to record a new one, or ask for an agent.",
    ),
    "complaint_about_charge": ("（涉及 {what}）", " (about {what})"),
    # a refund asked for about a charge: whether one is due, by the consent gate's verdict
    "refund_not_due_blocked": (
        "既然没有扣费，也就没有需要退还的费用。",
        " As nothing was billed, there is nothing to refund.",
    ),
    "refund_consented": (
        "按订购记录，扣费时您已确认订购，这笔费用不属于未经同意的扣费，是否退还将由专人核实。",
        " By the consent record you had confirmed the service when it was charged, so it is not an unconsented charge; "
        "whether it is refunded is for an agent to check.",
    ),
    "refund_due": ("这笔费用应退还给您。", " It is due back to you."),
    "refund_cancelled_none": (
        "已退订的“{name}”在最近几个月没有扣费记录。",
        "There is no charge of the cancelled \"{name}\" in the last few months. ",
    ),
    # value-added charges the consent gate blocked in a month, told beside what the month was charged
    "blocked_beside": (
        "另有一笔 {when}“{offer}”{attempted}的扣费因{why}已拦截，未扣费。",
        " There was also a charge of \"{offer}\"{attempted} on {when}: blocked because {why}, not billed.",
    ),
    # -- refunds ---------------------------------------------------------------------------------------
    "refund_head": ("您最近的退款和调账：", "Your latest refunds and adjustments:"),
    "refund_row_pending": (
        "  · {created} 登记的{kind} {amount}（{reason}）：尚未到账，将在 {carried} 账单中抵扣",
        "  · {kind} of {amount} recorded {created} ({reason}): not applied yet; it will be on your {carried} bill",
    ),
    "refund_row_done": (
        "  · {created} 登记的{kind} {amount}（{reason}）：已在 {carried} 账单（账单号 {bill_id}）中抵扣",
        "  · {kind} of {amount} recorded {created} ({reason}): applied on your {carried} bill ({bill_id})",
    ),
    "refund_row_debit_pending": (
        "  · {created} 登记的{kind} {amount}（{reason}）：将计入 {carried} 账单",
        "  · {kind} of {amount} recorded {created} ({reason}): it will be on your {carried} bill",
    ),
    "refund_row_debit_done": (
        "  · {created} 登记的{kind} {amount}（{reason}）：已计入 {carried} 账单（账单号 {bill_id}）",
        "  · {kind} of {amount} recorded {created} ({reason}): charged on your {carried} bill ({bill_id})",
    ),
    "refund_none": (
        "您目前没有退款或调账记录。如认为有费用应当退还，可以告诉我是哪一笔，或对我说“我要投诉”。",
        "You have no refunds or adjustments on record. If you think a charge should be refunded, tell me which one, or "
        "say \"I want to complain\".",
    ),
    "refund_none_amount": ("没有找到 {amount} 的退款记录。", "I found no refund of {amount}. "),
    "refund_not_here": (
        "抱歉，暂时无法在对话中查询退款，请查看账单中的“调整”项，或转人工。",
        "Sorry, I can't look up refunds here: see the adjustments on your bill, or ask for an agent.",
    ),
    "bill_pending_credit": (
        "另有{kind} {amount}尚未入账，将在 {carried} 账单中抵扣。",
        "A further {kind} of {amount} is pending: it will be on your {carried} bill.",
    ),
    # -- tickets ---------------------------------------------------------------------------------------
    "ticket_status_head": ("您最近的工单：", "Your latest tickets:"),
    "ticket_status_row": ("  · {ticket}（{category}，{opened} 提交）：{status}{more}",
                          "  · {ticket} ({category}, opened {opened}): {status}{more}"),
    "ticket_status_resolved": ("（{at}）", " ({at})"),
    "ticket_status_tail": (
        "如问题仍未解决，可以告诉我具体情况重新报障，或转人工。",
        "If the problem is still there, tell me about it to report it again, or ask for an agent.",
    ),
    "ticket_status_none": (
        "您目前没有报障或工单记录。如需报障，请告诉我遇到了什么问题。",
        "You have no fault reports or tickets on record. To report a fault, tell me what is wrong.",
    ),
    "ticket_status_not_here": (
        "抱歉，暂时无法在对话中查询工单进度，请转人工查询。",
        "Sorry, I can't look up your tickets here: please ask for an agent.",
    ),
    # -- plan fee, roaming spend -----------------------------------------------------------------------
    "fee_explain": (
        "{period} 的 {amount}是套餐月费：您的套餐“{plan}”月费 {monthly}，本月在网 {days} 天，按整月收取。",
        "The {amount} in {period} is the plan fee: your plan \"{plan}\" costs {monthly} a month, and the line was in "
        "service all {days} days of the month, so the whole fee is charged.",
    ),
    "fee_explain_prorated": (
        "{period} 的 {amount}是套餐月费：您的套餐“{plan}”月费 {monthly}，本月在网 {days} 天（共 {period_days} 天），"
        "按天折算收取 {amount}。",
        "The {amount} in {period} is the plan fee: your plan \"{plan}\" costs {monthly} a month; the line was in service "
        "{days} of the month's {period_days} days, so {amount} is charged for those days.",
    ),
    "fee_explain_holder": (
        "{period} 的 {amount}是套餐月费：您的套餐“{plan}”月费 {monthly}。该号码于 {since} 过户到您名下，本月由您使用 "
        "{days} 天（共 {period_days} 天），按天折算收取 {amount}；过户前的天数不向您收取。",
        "The {amount} in {period} is the plan fee: your plan \"{plan}\" costs {monthly} a month. The line moved to you "
        "on {since}, so you are charged for the {days} of the month's {period_days} days it has been yours: {amount}. "
        "The days before the transfer are not charged to you.",
    ),
    "fee_explain_item": ("{period} 的 {amount}是{what}。", "The {amount} in {period} is the {what}."),
    "fee_only": ("{period} 只有套餐月费 {amount}，没有通话、短信、流量或增值业务等其他收费。",
                 "In {period} there is only the plan fee of {amount}: no other charges (calls, texts, data, services)."),
    "fee_others": ("{period} 除套餐月费外，还有以下费用：{others}。想了解其中某一笔，可以告诉我。",
                   "Besides the plan fee, {period} has: {others}. Ask me about any of them."),
    "fee_row": ("套餐月费 {amount}", "plan fee {amount}"),
    "adjustment_explain": (
        "{period} 账单上的 {amount}是{kind}（{reason}）。",
        "The {amount} on your {period} bill is a {kind} ({reason}).",
    ),
    # an amount named with more decimals than the bill's currency has: no charge can be of it (never rounded to one)
    "amount_too_precise_whole": (
        "您的账单以 {currency} 计价，{currency} 金额没有小数，{period} 没有 {amount} 的收费。",
        "Your bills are in {currency}, which has no decimals: there is no charge of {amount} in {period}. ",
    ),
    "amount_too_precise": (
        "您的账单以 {currency} 计价，{currency} 金额最多 {digits} 位小数，{period} 没有 {amount} 的收费。",
        "Your bills are in {currency}, which has at most {digits} decimals: there is no charge of {amount} in {period}. ",
    ),
    "charges_none_amount": ("{period} 没有 {amount} 的收费记录。", "There is no charge of {amount} in {period}. "),
    "roam_spend_head": (
        "{period} 您在{country}的漫游费用共 {total}：", "Your roaming charges in {country} in {period} come to {total}:",
    ),
    "roam_spend_head_all": ("{period} 您的漫游费用共 {total}：", "Your roaming charges in {period} come to {total}:"),
    "roam_spend_row": ("  · {what}：{amount}（{count} 笔）", "  · {what}: {amount} ({count} charges)"),
    "roam_spend_none": ("{period} 没有您在{country}的漫游收费记录。", "There are no roaming charges in {country} in {period}."),
    "roam_spend_none_all": ("{period} 没有您的漫游收费记录。", "There are no roaming charges in {period}."),
    "roam_spend_more": ("想了解某一类费用，可以问我，例如“为什么漫游流量扣了这么多”。",
                        "Ask me about any of them, for example \"why was roaming data so expensive\"."),
    "agent_done": (
        "正在为您转接人工客服，工单号 {ref}。客服会看到我们的对话，无需重复说明。",
        "I'm putting you through to an agent (reference {ref}). They will see our conversation, so you won't "
        "need to repeat yourself.",
    ),
}

CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "unexplained_charge": ("不明扣费", "unexplained charge"),
    "malicious_charge": ("恶意扣费", "malicious charging"),
    "roaming": ("国际漫游", "international roaming"),
    "billing_error": ("账单错误", "billing error"),
    "network_quality": ("网络质量", "network quality"),
    "service_attitude": ("服务态度", "service attitude"),
    "fraud": ("诈骗", "fraud"),
    "privacy": ("隐私", "privacy"),
    "price": ("资费", "price"),
    "other": ("其他", "other"),
}
COMPLAINT_STATUS_NAMES: dict[str, tuple[str, str]] = {  # the lifecycle, as a subscriber is told it
    "opened": ("已登记，等待受理", "recorded, waiting to be taken up"),
    "acknowledged": ("已受理，正在处理", "taken up, being handled"),
    "resolved": ("已处理完毕", "resolved"),
    "closed": ("已结案", "closed"),
    "reopened": ("已重新打开，等待处理", "reopened, waiting to be handled"),
}
PROBLEM_NAMES: dict[str, tuple[str, str]] = {
    "no_signal": ("没有信号", "no signal"),
    "slow_data": ("上网慢", "slow data"),
    "dropped_calls": ("通话掉线", "dropped calls"),
    "no_service": ("无法使用", "no service"),
    "other": ("其他问题", "another problem"),
}
TICKET_CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    **PROBLEM_NAMES,
    "agent_handoff": ("转人工咨询", "hand-off to an agent"),
}
KIND_NAMES: dict[str, tuple[str, str]] = {
    "plan_fee": ("套餐月租", "plan fee"),
    "voice": ("通话", "calls"),
    "sms": ("短信", "SMS"),
    "data": ("流量", "data"),
    "vas": ("增值业务", "value-added services"),
    "roaming": ("漫游", "roaming"),
    "adjustment": ("调账/退款", "adjustments and refunds"),
    "tax": ("税费", "tax"),
}
ADJUSTMENT_NAMES: dict[str, tuple[str, str]] = {
    "refund": ("退款", "refund"),
    "credit": ("减免", "credit"),
    "debit": ("补收", "debit"),
}
TICKET_STATUS_NAMES: dict[str, tuple[str, str]] = {
    "open": ("已受理，等待处理", "received, waiting to be taken up"),
    "in_progress": ("处理中", "being worked on"),
    "resolved": ("已处理", "resolved"),
    "closed": ("已关闭", "closed"),
}
VERDICT_NAMES: dict[str, tuple[str, str]] = {  # the consent gate's verdicts, as a subscriber is told them
    "consented": ("订购已确认", "confirmed subscription"),
    "no_subscription": ("无订购记录", "no subscription"),
    "not_confirmed": ("订购未确认", "not confirmed"),
    "after_cancellation": ("退订后扣费", "after cancellation"),
    "price_mismatch": ("价格与业务不符", "price differs from the offer"),
    "price_raised": ("确认后资费上调，未再次确认", "price rose after the confirmation"),
    "duplicate_charge": ("重复扣费", "charged twice"),
    "unknown_offer": ("未知业务", "unknown offer"),
    "merchant_suspended": ("服务商已暂停", "provider suspended"),
    "merchant_suspended_late": ("服务商暂停后提交的扣费", "sent after the provider was suspended"),
    "line_closed": ("扣费时号码已销户", "line closed when charged"),
    "line_suspended": ("扣费时号码已停机", "line suspended when charged"),
    "before_activation": ("订购早于本号码入网", "consent given before this line's activation"),
    "previous_holder": ("订购早于号码过户", "consent given before the line's owner change"),
}
# why a value-added charge the consent gate refused is not owed, each verdict for what it is (a charge after the
# cancellation had a confirmation once: it is not said never to have had one)
REFUSAL_WHY: dict[str, tuple[str, str]] = {
    "no_subscription": ("您没有订购该业务", "you have no subscription to it"),
    "not_confirmed": ("扣费前您没有确认这项订购", "you had not confirmed the order before the charge"),
    "after_cancellation": ("扣费时您已退订该业务", "you had cancelled the subscription before it was charged"),
    "price_mismatch": ("扣费金额与该业务的资费不符", "the amount differs from the offer's price"),
    "price_raised": ("您确认订购后资费上调，您没有再次确认", "the price rose after you confirmed and you did not confirm again"),
    "duplicate_charge": ("同一周期已扣过费，属于重复扣费", "it had already been charged for the same period"),
    "unknown_offer": ("该业务不在资费目录中", "the offer is not in the catalog"),
    "merchant_suspended": ("该服务商已被暂停", "the provider was suspended"),
    "merchant_suspended_late": ("该服务商被暂停后才提交这笔扣费", "the provider sent the charge after it was suspended"),
    "line_closed": ("扣费时您的号码已销户", "your line was closed when it was charged"),
    "line_suspended": ("扣费时您的号码处于停机状态", "your line was suspended when it was charged"),
    "before_activation": ("该订购早于本号码入网，是前机主所订", "the order was made before this line was yours, by a previous holder"),
    "previous_holder": ("该订购是号码过户给您之前原机主所订，您没有确认过",
                        "the order was made by the line's previous customer, before it moved to you; you never confirmed it"),
}
STATE_NAMES: dict[str, tuple[str, str]] = {
    "ordered": ("待确认", "waiting for your confirmation"),
    "confirmed": ("已订购", "active"),
    "cancelled": ("已退订", "cancelled"),
    "expired": ("已到期", "expired"),
    "none": ("无", "none"),
}


def bill_item_text(
    kind: str, *, rule_id: str | None, description: str, catalog: Catalog, allowance_id: str | None = None
) -> Text:
    """How the assistant names an issued bill line in each language: the catalog's names of its plan, rule,
    allowance or offer (``国内主叫（套餐内国内主叫 300 分钟）``), never billing's English text."""
    zh, en = (line_text(kind, rule_id=rule_id, catalog=catalog, language=lang, description=description,
                        allowance_id=allowance_id) for lang in ("zh", "en"))
    return Text(zh, en)


_LOYALTY_REASONS: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"^(?:账单积分|bill points)\s*(\d{4}-\d{2})$"), ("账单积分 {0}", "bill points {0}")),
    (re.compile(r"^(?:聊天中兑换|redeemed in chat)$"), ("聊天中兑换", "redeemed in chat")),
)


def loyalty_reason(reason: str, language: str) -> str:
    """A loyalty ledger entry's reason in the reply's language, where the ledger holds a fixed pattern (an operator's
    loyalty file's ``账单积分 YYYY-MM``, a redemption in chat); any other reason as written."""
    for pattern, (zh, en) in _LOYALTY_REASONS:
        m = pattern.match(reason.strip())
        if m:
            return (zh if language == "zh" else en).format(*m.groups())
    return reason


def say(key: str, language: str, **values: Any) -> str:
    zh, en = _T[key]
    return (zh if language == "zh" else en).format(**values)


def name_of(table: dict[str, tuple[str, str]], key: str, language: str) -> str:
    pair = table.get(key)
    if pair is None:
        return key
    return pair[0] if language == "zh" else pair[1]


def money(value: Money, language: str) -> str:
    """``39.00 元`` / ``39.00 CNY``: the amount as held, never re-rounded."""
    if language == "zh" and value.currency == "CNY":
        return f"{value.amount} 元"
    return f"{value.amount} {value.currency}"


def money_minor(minor: int, currency: str, language: str) -> str:
    return money(Money.from_minor(minor, currency), language)


def _two(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def quantity(amount: int, unit: str, language: str) -> str:
    """Seconds as minutes (with seconds when not whole), bytes in powers of 1024 and named so, as the statement
    and the catalog name them: GiB (2 decimals), or MiB under 1 GiB."""
    if unit == "second":
        minutes, seconds = divmod(amount, 60)
        if language == "zh":
            return f"{minutes} 分钟" + (f" {seconds} 秒" if seconds else "")
        return f"{minutes} min" + (f" {seconds} s" if seconds else "")
    if unit == "message":
        return f"{amount} 条" if language == "zh" else f"{amount} SMS"
    if unit == "byte":
        if amount >= GIB:
            return f"{_two(Decimal(amount) / GIB)} GiB"
        return f"{_two(Decimal(amount) / MIB)} MiB"
    return str(amount)
