"""The small readers of a conversation turn: yes or no, which item of a list, what kind of fault, since when,
where, what a complaint is about, how many points. Chinese and English; each returns ``None`` when the
message does not say."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_ORD = {
    "first": 1, "one": 1, "1st": 1, "second": 2, "two": 2, "2nd": 2, "third": 3, "three": 3, "3rd": 3,
    "fourth": 4, "four": 4, "4th": 4, "fifth": 5, "five": 5, "5th": 5, "last": -1,
}  # fmt: skip


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


# -- yes / no ---------------------------------------------------------------------------------------------
_ZH_NO = re.compile(r"^(?:不|别|否|没)|不要|不用|算了|先不|不确认|不同意|暂时不")
_ZH_YES = re.compile(r"确认|确定|是的|^是|^好|^对|可以|^行|^嗯|同意|没问题|办理|^要")
_ZH_BARE_CANCEL = re.compile(r"^取消[。.!！]?$")
_EN_NO = re.compile(r"\b(?:no|nope|nah|don'?t|do not|never ?mind|not now|stop|cancel that|wait)\b")
_EN_YES = re.compile(r"\b(?:yes|y|yeah|yep|yup|ok|okay|sure|confirm(?:ed)?|go ahead|do it|please do|correct|right)\b")


# A yes that starts like a no: 没问题 ("no problem"), 没错 ("that's right").
_YES_LIKE_NO = re.compile(r"没问题|没毛病|没错|\bno (?:problem|worries)\b|\bnot a problem\b")


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the message is neither (a new question, say)."""
    t = _norm(text)
    if not t:
        return None
    rest, yes_like = _YES_LIKE_NO.subn(" ", t)
    rest = rest.strip(" ,，、。.!！~～")
    if _ZH_BARE_CANCEL.match(rest) or _ZH_NO.search(rest) or _EN_NO.search(rest):
        return False
    if yes_like or _ZH_YES.search(rest) or _EN_YES.search(rest):
        return True
    return None


_REPLY_WORD = (
    r"(?:好|行|是|对|嗯|恩|可以|确认|确定|同意|没问题|没毛病|没错|不|不用|不要|不需要|不必|算了|没有|没了|否|取消"
    r"|先不用|暂时不用|谢谢|ok|okay|yes|yeah|yep|yup|y|sure|fine|alright|no|nope|nah|not now|never ?mind"
    r"|no problem|thanks|thank you|please)"
)
# one way only to read each message (no word is two others run together), so matching stays linear
_BARE_REPLY = re.compile(rf"{_REPLY_WORD}[的吧啊呀啦了哦呢嘛]*(?:[\s,，、]*{_REPLY_WORD}[的吧啊呀啦了哦呢嘛]*)*[\s。.!！~～]*")


def is_bare_reply(text: str) -> bool:
    """A message that is nothing but yes / no / OK words ("好的", "不用了", "no thanks"): it answers a
    question and asks none. "没信号" or "要转人工" start like one and are requests."""
    return bool(_BARE_REPLY.fullmatch(_norm(text)))


# -- which one of a list ----------------------------------------------------------------------------------
_DIGIT_CHOICE = re.compile(r"^(?:no\.?|#|number|第)?\s*(\d{1,2})\s*(?:个|项|笔|条|号|\.|。)?$")
_ZH_ORDINAL = re.compile(r"第\s*([一二两三四五六七八九十]|\d{1,2})\s*(?:个|项|笔|条)?")
_ZH_LAST = re.compile(r"最后(?:一|1)?(?:个|项|笔|条)")
# "last month", "the first week": an ordinal of a time, never an item of the list
_EN_ORDINAL = re.compile(r"\b(" + "|".join(_EN_ORD) + r")\b(?!\s+(?:month|week|year|time|night|day|bill|period|quarter)s?\b)"
                         r"(?:\s+(?:one|item|charge))?")


def choice(text: str, count: int) -> int | None:
    """The 0-based index a reply picks from a numbered list of ``count`` items ("2", "第二个", "the second")."""
    t = _norm(text)
    m = _DIGIT_CHOICE.match(t)
    n: int | None = None
    if m:
        n = int(m.group(1))
    elif (m := _ZH_ORDINAL.search(t)) is not None:
        g = m.group(1)
        n = int(g) if g.isdigit() else _ZH_NUM[g]
    elif _ZH_LAST.search(t):
        n = count
    elif (m := _EN_ORDINAL.search(t)) is not None and len(t.split()) <= 4:
        n = _EN_ORD[m.group(1)]
        n = count if n == -1 else n
    if n is None or not 1 <= n <= count:
        return None
    return n - 1


# -- faults -----------------------------------------------------------------------------------------------
_PROBLEMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dropped_calls", re.compile(r"掉线|断线|打不通|通话中断|电话断|dropp|drop out|calls? (?:keep )?(?:cut|drop)|cut off")),
    ("slow_data", re.compile(r"网速|上网慢|网络慢|网很慢|网慢|很卡|太卡|加载|slow|speed|lag|buffer")),
    ("no_signal", re.compile(r"没(?:有)?信号|无信号|信号(?:很|特别|太)?(?:差|弱|不好)|no (?:signal|coverage|bars)|(?:weak|bad|poor) (?:signal|coverage)")),
    ("no_service", re.compile(r"无服务|无法使用|用不了|不能用|停机|不能上网|上不了网|no service|can'?t (?:use|connect|call)|cannot (?:use|connect)|not working|no internet")),
)
_SINCE = re.compile(
    r"(今天|昨天|前天|今早|今晚|昨晚|刚才|这几天|这两天|最近|上周|上个?星期|本周|这周|上个?月"
    r"|(?:\d{1,2}|[一二两三四五六七八九十])\s*(?:天|周|个星期|小时|个月)(?:前|以来|了)?"
    r"|\d{1,2}\s*(?:号|日)|\d{1,2}\s*月\s*\d{1,2}\s*(?:号|日)"
    r"|today|yesterday|this morning|this evening|tonight|last night|last week|this week|a while"
    r"|(?:\d{1,2}|a|one|two|three|four|five|six|few|couple of)\s+(?:days?|hours?|weeks?|months?)(?:\s+ago)?"
    r"|since\s+[a-z0-9 ]{2,20}?(?=[,.;!]|$))"
)
_ZH_PLACE = re.compile(
    r"(?:在|于)([\u4e00-\u9fff0-9]{2,16}?)(?=没|无|信号|网|上网|打|通话|经常|总是|一直|老是|从|，|,|。|$)"
    r"|((?:[\u4e00-\u9fff0-9]{1,8}?(?:省|市|区|县|镇|村|路|街|小区|大厦|广场|公园|学校|大学|公司|地铁站))+)"
)
_EN_PLACE = re.compile(
    r"\b(?:at|in|near|around)\s+((?:my |the )?(?!the (?:evening|morning)|night|evening|morning|the last)"
    r"[a-z0-9][a-z0-9 '\-]{1,40}?)(?=\s+(?:since|for|from|today|yesterday|every|all)\b|[,.;!]|$)"
)


def fault_problem(text: str) -> str | None:
    t = _norm(text)
    for code, pattern in _PROBLEMS:
        if pattern.search(t):
            return code
    return None


def _as_written(text: str, start: int, end: int) -> str:
    """The span of the lower-cased form, cut from the message as written (case kept) when lengths agree."""
    original = unicodedata.normalize("NFKC", text).strip()
    low = original.lower()
    return (original if len(low) == len(original) else low)[start:end]


def fault_since(text: str) -> str | None:
    m = _SINCE.search(_norm(text))
    return _strip_since(_as_written(text, m.start(1), m.end(1))) if m else None


def _strip_since(value: str) -> str:
    return re.sub(r"^(?:since|from)\s+|^(?:从|自)", "", value.strip(), flags=re.I)


# "at home", "在家里": no place an engineer can go to (the address is asked for, in either language)
_BARE_HOME = re.compile(
    r"(?:my |our |the )?(?:home|house|place|flat|apartment|room)|(?:我|我们)?家(?:里|中)?(?:[没无]|信号|网|上网|打|通话|$).*"
    r"|屋里|房间(?:里)?"
)


def fault_location(text: str) -> str | None:
    """Where a fault happens, as the message says it ("在北京市朝阳区望京", "at Nanjing Road"); None when it says
    nowhere an engineer can go to (a bare "at home" / "在家里": the city and street are asked for)."""
    t = _norm(text)
    place: str | None = None
    m = _ZH_PLACE.search(t)
    if m:
        g = 1 if m.group(1) else 2
        place = _as_written(text, m.start(g), m.end(g))
    elif (m := _EN_PLACE.search(t)) is not None:
        place = _as_written(text, m.start(1), m.end(1)).strip()
        if _SINCE.fullmatch(place.lower()):
            place = None
    if place is None or _BARE_HOME.fullmatch(place.lower()):
        return None
    return place


# What a reply to "where?" says of a place: an address word ("朝阳区", "3号楼", "Haidian district", "Nanjing Road").
_PLACE_WORDS = re.compile(
    r"省|市|区|县|镇|乡|村|路|街|巷|弄|胡同|小区|大厦|广场|公园|学校|大学|公司|地铁|车站|站|楼|栋|单元|室|号院|苑|商场|医院|机场|家"
    r"|(?<![a-z])(?:near|road|street|avenue|ave|lane|district|city|town|village|county|province"
    r"|building|tower|station|mall|park|school|university|campus|office|airport|hospital|estate|square|plaza|block"
    r"|floor|apartment|flat|home|house|downtown|centre|center)(?![a-z])"
)
_REPLY_CLAUSE = re.compile(r"[，,。;；!！?？、]+")


def fault_reply(text: str, asked: str) -> tuple[str | None, str | None]:
    """The answer to "where?" (``asked`` "location") or "since when?" (``asked`` "since") read as (place, since): a
    clause that says a time ("昨天开始", "since yesterday") is the start, one with an address word the place, and
    the clauses that say neither go with the question asked, unless the reply only answers the other question
    ("Haidian district, Beijing" to "since when?"). Each is in the subscriber's own words (None: not said)."""
    clauses = [c.strip() for c in _REPLY_CLAUSE.split(free_text(text)) if c.strip()]
    kinds: list[str | None] = []
    for c in clauses:
        low = _norm(c)
        timed, placed = _SINCE.search(low) is not None, _PLACE_WORDS.search(low) is not None
        kinds.append(asked if timed and placed else "since" if timed else "location" if placed else None)
    other = "since" if asked == "location" else "location"
    rest = other if other in kinds and asked not in kinds else asked  # the clauses that say neither
    sep = "，" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else ", "
    said = {key: sep.join(c for c, k in zip(clauses, kinds, strict=True) if (k or rest) == key) or None
            for key in ("location", "since")}
    place, since = said["location"], said["since"]
    return (None if place is None else place_answer(place)), (None if since is None else since_answer(since))


def free_text(text: str, limit: int = 120) -> str:
    """A reply given as an answer in its own words (a place, a time), tidied: trimmed, one line."""
    t = " ".join(unicodedata.normalize("NFKC", text).split())
    return t.strip(" 。.!！?？")[:limit]


def place_answer(text: str) -> str:
    """The answer to "where?" as given: "at Nanjing Road, Shanghai" → "Nanjing Road, Shanghai"."""
    return re.sub(r"^(?:at|in|near|around)\s+|^(?:在|于)", "", free_text(text), flags=re.I)


def since_answer(text: str) -> str:
    """The answer to "since when?" as given: "since yesterday" → "yesterday"."""
    return _strip_since(free_text(text))


# -- complaints -------------------------------------------------------------------------------------------
_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fraud", re.compile(r"诈骗|骗子|骗钱|冒充|fraud|scam|phishing")),
    ("privacy", re.compile(r"隐私|泄露|个人信息|骚扰短信名单|privacy|personal data|data leak|leaked")),
    ("unexplained_charge", re.compile(
        r"不明扣费|乱扣费|乱收费|莫名|没(?:有)?订(?:购|过)?|从来没有订|未经(?:我)?同意|偷扣|扣了.{0,6}钱|为什么扣|吸费"
        r"|unexplained|never (?:ordered|subscribed|signed up|agreed)|didn'?t (?:order|subscribe|sign up|agree)"
        r"|don'?t recogni[sz]e|unknown charge|without (?:my )?consent|charged for something")),
    ("billing_error", re.compile(r"账单(?:错|不对|有误)|多收|重复收|收费错|计费错|对不上|bill (?:is )?wrong|overcharg|double charg|billing error|charged twice|wrong amount")),
    ("network_quality", re.compile(r"信号|网速|掉线|断网|网络差|网络不好|signal|coverage|network|dropped|slow data")),
    ("service_attitude", re.compile(r"态度|服务差|不耐烦|排队|打不进|客服.{0,4}(?:差|不好)|rude|attitude|unhelpful|waited|queue|impolite")),
    ("price", re.compile(r"太贵|涨价|资费高|月租.{0,4}(?:贵|涨)|too expensive|price|overpriced")),
)


def complaint_category(text: str) -> str | None:
    t = _norm(text)
    for code, pattern in _CATEGORIES:
        if pattern.search(t):
            return code
    return None


# An explicit request to complain or to be refunded, as a request ("我要投诉", "I want a refund"), not a
# mention ("我的投诉处理得怎么样了", "I don't want to complain").
_ZH_NOT_A_REQUEST = r"(?!的|过|进度|处理|结果|状态|记录|单|了吗|成功)"
_ZH_COMPLAIN = re.compile(
    r"(?<![不别没])(?:我要|我想|要|想|需要|申请|要求|必须|帮我|给我|我|你们)\s*(?:投诉|退款|退钱|退费|退还|索赔|赔偿)"
    + _ZH_NOT_A_REQUEST + r"|^(?:投诉|退款)" + _ZH_NOT_A_REQUEST + r"|投诉(?:你们|一下|到)|退(?:我|回)(?:的)?钱|把钱退"
)
_EN_COMPLAIN = re.compile(
    r"(?<!not )(?<!n't )\b(?:i (?:want|would like|'d like|wish|need|demand) (?:to )?(?:complain|make a complaint"
    r"|file a complaint|lodge a complaint|(?:a |my )?refund|(?:my )?money back|be refunded)"
    r"|(?:file|make|lodge|register|record) a complaint|complain(?:ing)? about|refund (?:me|it|this|that|the|my)"
    r"|give me (?:my money back|a refund)|(?:get|want|need|demand|request) (?:a |my )?refund|money back|refund please)\b"
    r"|^refund\b"
)
_NEGATED = re.compile(r"不(?:想|要|用|需要|打算)\s*(?:投诉|退款)|\b(?:don'?t|do not|won'?t|not)\s+(?:want|need|going)\s+(?:to\s+)?"
                      r"(?:complain|(?:a\s+)?refund)")


def wants_complaint(text: str) -> bool:
    """Whether the message asks to complain or to be refunded: such a request is recorded as a complaint
    whatever else the message asks."""
    t = _norm(text)
    if _NEGATED.search(t):
        return False
    return bool(_ZH_COMPLAIN.search(t) or _EN_COMPLAIN.search(t))


_FILLER = re.compile(r"[\s，,。.;；!！?？、~～]+|^(?:请|麻烦|帮我|我)+|(?:一下|吧|啊|呀|了)$")


def request_details(text: str) -> str:
    """What a complaint or refund request says beyond asking for one ("我要投诉，你们乱扣费" → the whole; "我要投诉" → ""):
    the words kept with a complaint's answer to "what is it about"."""
    rest = _EN_COMPLAIN.sub(" ", _ZH_COMPLAIN.sub(" ", _norm(text)))
    rest = _FILLER.sub("", rest)
    return text.strip() if len(rest) >= 4 else ""


def declines_complaint(text: str) -> bool:
    """Whether the message says it does not want to complain ("我不想投诉，只想…", "I don't want to complain")."""
    return bool(_NEGATED.search(_norm(text)))


_CLAUSE = re.compile(r"[，,。.;；!！?？、]+")


def without_declined_complaint(text: str) -> str:
    """The message without its clauses saying it does not want to complain: what it asks instead ("我不想投诉，只想
    问问9月账单" → "只想问问9月账单"); empty when that is all it says."""
    return "，".join(c.strip() for c in _CLAUSE.split(text) if c.strip() and not _NEGATED.search(_norm(c)))


# A question about a complaint already made ("我的投诉处理得怎么样了", "what is the status of my complaint?"): answered
# with the caller's complaints, never recorded as a new one.
_ZH_STATUS = re.compile(
    r"投诉(?:的|单)?.{0,6}(?:处理|进度|进展|结果|状态|怎么样|如何|到哪|有消息|有回复|回复了|受理了|解决了)"
    r"|(?:查|查询|问问|看看|了解).{0,4}投诉|投诉(?:了吗|过了|有没有)"
)
_EN_STATUS = re.compile(
    r"\b(?:status|progress|update|news)\b.{0,20}\bcomplaints?\b|\bcomplaints?\b.{0,25}\b(?:status|progress|update|going"
    r"|handled|resolved|answered|dealt with|looked at)\b|\bwhat (?:happened|is happening) (?:to|with) my complaint"
    r"|\b(?:check|track|follow up on) (?:on )?my complaints?\b|\bany (?:news|update) on my complaint"
)


def asks_complaint_status(text: str) -> bool:
    t = _norm(text)
    return bool(_ZH_STATUS.search(t) or _EN_STATUS.search(t))


# -- plain new requests -------------------------------------------------------------------------------------
# What is never the answer to "what is your complaint about" or "where does it happen": asking for a person,
# stopping a service ("退订", "cancel cloud storage", not "退订了还在扣费"), redeeming points, changing the cap.
_AGENT = re.compile(r"人工|真人|转接|坐席|\b(?:agent|human|real person|representative|operator|someone real)\b")
_ZH_CANCEL_NOW = re.compile(r"^(?:请|麻烦)?(?:帮我|给我|我要|我想|想|要)?(?:退订|取消|关闭|停掉|关掉)(?!了|过|的|后|掉了)")
_EN_CANCEL_NOW = re.compile(r"^(?:please\s+)?(?:cancel|unsubscribe|stop|end|terminate)\b"
                            r"|\bi (?:want|would like|'d like|need) to (?:cancel|unsubscribe|stop)\b|\bplease (?:cancel|unsubscribe)\b")


def asks_for_agent(text: str) -> bool:
    return bool(_AGENT.search(_norm(text)))


def asks_to_cancel(text: str) -> bool:
    """A request to stop a service now, as opposed to a mention of one stopped ("退订了还在扣费")."""
    t = _norm(text)
    return bool(_ZH_CANCEL_NOW.search(t) or _EN_CANCEL_NOW.search(t))


# -- roaming cap ------------------------------------------------------------------------------------------
_CAP_WORD = r"(?:上限|限额|封顶|额度)"
_ZH_CAP_CHANGE = re.compile(
    rf"(?:设置|设定|设为|设成|设到|设|改成|改为|改到|改|调整|调到|调成|调高|调低|调|修改|提高|降低|提到|降到|开通|定)"
    rf"[^，。,.!?！？]{{0,10}}{_CAP_WORD}|{_CAP_WORD}[^，。,.!?！？]{{0,6}}(?:设|改|调|定|提高|降低|为|成|到)\s*[-−负¥]?[\d一二两三四五六七八九十]"
)
_EN_CAP_CHANGE = re.compile(
    r"\b(?:set|change|raise|lower|increase|decrease|put|make|update|adjust|move)\b[^.!?]{0,40}"
    r"\b(?:cap|limit|spending limit)\b|\b(?:cap|limit)\b[^.!?]{0,20}\bto\s+[¥￥]?\d"
)


_ZH_CAP_REMOVE = re.compile(rf"(?:取消|去掉|删除|删掉|关闭|不要|不设|解除)[^，。,.!?！？]{{0,8}}{_CAP_WORD}")
_EN_CAP_REMOVE = re.compile(r"\b(?:remove|cancel|delete|drop|turn off|switch off|get rid of|lift)\b[^.!?]{0,30}"
                            r"\b(?:cap|limit|spending limit)\b")


def wants_cap_change(text: str) -> bool:
    """Whether the message asks to set, change or remove the roaming spending cap ("帮我设置漫游上限200元",
    "set my roaming cap to 100 yuan", "取消漫游上限"), rather than asking what it is."""
    t = _norm(text)
    return bool(_ZH_CAP_CHANGE.search(t) or _EN_CAP_CHANGE.search(t)) or wants_cap_removed(t)


def wants_cap_removed(text: str) -> bool:
    """Whether the message asks to remove the roaming spending cap ("取消漫游上限", "remove my roaming cap")."""
    t = _norm(text)
    return bool(_ZH_CAP_REMOVE.search(t) or _EN_CAP_REMOVE.search(t))


def cap_amount(text: str, *, bare: bool = False) -> Decimal | None:
    """The amount a cap is to be set to, turned into plain digits: money named ("200元", "１００元", "一百元", "1万元",
    "1,000 yuan", "¥100.50"), or a number after "to" / "为"; with ``bare``, also a message that is only a number
    (the answer to "how much?"). Read as said, sign and decimals included, never rounded: whether the cap may be
    that is the dialog's to say."""
    t = _norm(text)
    m = (_CAP_AFTER_SIGN.search(t) or _CAP_BEFORE_UNIT.search(t) or _CAP_AFTER_TO.search(t)
         or (_CAP_BARE.fullmatch(t) if bare else None))
    return None if m is None else _cap_value(m)


def _cap_value(m: re.Match[str]) -> Decimal | None:
    if m["zh"]:
        whole = _zh_integer(m["zh"])
        if whole is None:
            return None
        value = Decimal(whole)
    else:
        # digits of any script ("１００" is made ASCII by NFKC, "١٠٠" is not) as ASCII, the thousands commas dropped
        digits = "".join(str(unicodedata.decimal(c)) if c.isdigit() else c for c in m["num"] + (m["frac"] or ""))
        value = Decimal(digits.replace(",", ""))
        if m["mult"]:
            value *= 10000 if m["mult"] == "万" else 1000
            if value == value.to_integral_value():
                value = value.quantize(Decimal(1))  # "1.5万" is 15000, not 15000.0
    return -value if m["sign"] else value


def _zh_integer(text: str) -> int | None:
    """A whole number in Chinese numerals ("一百", "两千五百", "三百零五", "十万", "一万二千"); None when it is not one."""
    total = section = 0
    digit: int | None = None
    for ch in text:
        if ch in _ZH_DIGIT:
            if digit not in (None, 0):
                return None  # "一二" is not a number
            digit = _ZH_DIGIT[ch]
        elif ch in _ZH_UNIT:
            section += (1 if digit is None else digit) * _ZH_UNIT[ch]
            digit = None
        else:  # 万
            if total:
                return None
            total, section, digit = (section + (digit or 0)) * 10000, 0, None
    return total + section + (digit or 0)


# -- loyalty ----------------------------------------------------------------------------------------------
_REDEEM = re.compile(r"兑换|换购|抵扣|用积分|使用积分|积分换|redeem|use (?:my )?points|spend (?:my )?points|cash in")
_POINTS = re.compile(r"(\d{1,7})\s*(?:个)?\s*(?:积分|分|points?|pts)?")


def wants_redeem(text: str) -> bool:
    return bool(_REDEEM.search(_norm(text)))


def points_amount(text: str) -> int | None:
    t = _norm(text)
    t = re.sub(r"(?:\+?86)?1[3-9]\d{9}", " ", t)  # a phone number is not an amount
    m = _POINTS.search(t)
    if not m:
        return None
    n = int(m.group(1))
    return n if n > 0 else None


# -- charges ----------------------------------------------------------------------------------------------
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("vas", re.compile(r"增值|业务费|订阅|会员|包月|value[- ]added|subscription|vas\b")),
    ("data", re.compile(r"流量|上网|数据|data|internet|mobile data|\bgb\b|\bmb\b")),
    ("sms", re.compile(r"短信|sms|text message|texts?\b")),
    ("voice", re.compile(r"通话|电话|语音|长途|分钟|calls?\b|voice|minutes?")),
)
_ROAMING_WORDS = re.compile(r"漫游|出国|境外|roaming|abroad")


def charge_kind(text: str) -> str | None:
    t = _norm(text)
    for code, pattern in _KINDS:
        if pattern.search(t):
            return code
    return None


def mentions_roaming(text: str) -> bool:
    return bool(_ROAMING_WORDS.search(_norm(text)))


# A call from home to another country ("打香港的电话怎么收费", "how much to call Hong Kong?"), as opposed to a call made
# while there ("在香港打电话", "calls in Japan", "I'm going to Japan"): the first is an international call, the second roaming.
_ZH_CALL_TO = re.compile(r"打(?:到|往|去|给)?[^，。,.!?！？\s在]{1,12}?的?(?:电话|长途|号码)|(?:给|往|向)[^，。,.!?！？\s]{1,12}?打"
                         r"|打(?:到|往)|国际长途|国际电话|国际通话|拨打")
_ZH_BEING_THERE = re.compile(r"在[^，。,.!?！？]{1,12}?(?:打|拨|用|接)|去|出国|出境|人在|到了|旅游|出差|境外")
_EN_CALL_TO = re.compile(r"\b(?:call|calls|calling|phone|phoning|ring|ringing|dial|dialling|dialing)\s+(?:to\s+)?"
                         r"(?!in\b|from\b|while\b|when\b|home\b)|\binternational calls?\b")
_EN_BEING_THERE = re.compile(r"\b(?:in|from|while|when i'?m|when i am|travel\w*|trip|visit\w*|going to|go to|abroad|holiday"
                             r"|vacation)\b")


_ABROAD = re.compile(r"在|去|人在|到了|出国|出境|旅游|出差|境外|\b(?:in|while|when i'?m|when i am|travel\w*|trip|visit\w*|going to|go to"
                     r"|abroad|holiday|vacation)\b")


def abroad_context(text: str) -> bool:
    """Whether the message speaks of being abroad ("在日本呢", "and while in Japan?"): roaming, not a call from home."""
    t = _norm(text)
    return mentions_roaming(t) or bool(_ABROAD.search(t))


def calls_abroad(text: str) -> bool:
    """Whether the message asks about calling another country from home, not about using the phone while there."""
    t = _norm(text)
    if mentions_roaming(t):
        return False
    if _ZH_CALL_TO.search(t):
        return not _ZH_BEING_THERE.search(t)
    m = _EN_CALL_TO.search(t)
    return m is not None and not _EN_BEING_THERE.search(t[m.end():])


_CANCEL_WORDS = re.compile(r"退订|取消|不要了|关闭|停掉|停止|\b(?:cancel|unsubscribe|stop|end|terminate|opt out)\b")


def wants_cancel(text: str) -> bool:
    """Whether the message asks to stop a service ("退订", "cancel"), as opposed to asking for money back."""
    return bool(_CANCEL_WORDS.search(_norm(text)))


# Asking to stop a service, however said ("把音乐包退了", "unsub", "get rid of this subscription", "cancel掉这个订阅"):
# what a cancellation needs (``Dialog._intent_vas_cancel``); asking for money back ("退款") is not it.
_ZH_STOP = re.compile(r"退订|退掉|退了|退咗|(?:要|想|都|全|帮我|给我|帮她|帮他)退(?![款钱费还回])|取消|关闭|关掉|关了|停掉|停止|停了"
                      r"|撤销|解除|终止|去掉|删掉|删除|不(?:想|需)?要.{0,10}了|不想要|不需要")
_EN_STOP = re.compile(
    r"(?<![a-z])(?:cancel\w*|cancle|unsub\w*|stop|end|terminate|opt out|remove|turn off|switch off|shut off|get rid of"
    r"|deactivate|disable|kill|ditch|discontinue|drop|don'?t renew|do not renew|want out)(?![a-z])"
    r"|(?<![a-z])(?:take|get)\b.{0,40}\boff\b|(?<![a-z])get me out(?![a-z])"
)


def asks_to_stop(text: str) -> bool:
    """Whether the message asks to stop a service in any words ("退订", "把音乐包退了", "turn off this add-on")."""
    t = _norm(text)
    return bool(_ZH_STOP.search(t) or _EN_STOP.search(t))


# Speaking of value-added services at all ("我没订过这个业务", "what add-ons do I have").
_SERVICE_WORDS = re.compile(r"业务|服务|订阅|订购|包月|会员|增值|彩铃|(?<![a-z])(?:sp|vas|services?|subscriptions?|subscribed"
                            r"|add-?ons?|value[- ]added|sign(?:ed)? up)(?![a-z])")


def mentions_service(text: str) -> bool:
    return bool(_SERVICE_WORDS.search(_norm(text)))


def disowns_charge(text: str) -> bool:
    """Whether the message says a charge was not agreed to ("我没订过这个业务", "I didn't sign up for anything",
    "不明扣费"): the words of an unexplained charge, as complaints are filed under."""
    t = _norm(text)
    return any(code == "unexplained_charge" and pattern.search(t) for code, pattern in _CATEGORIES)


# -- what the message says of the roaming cap and of the month before ------------------------------------------
_CAP_QUESTION = re.compile(r"(?:上限|限额|封顶|额度)|(?<![a-z])(?:cap|limit|spending limit)(?![a-z])")
_DAILY = re.compile(r"每天|每日|日封顶|一天|(?<![a-z])(?:daily|a day|per day)(?![a-z])")


def asks_cap(text: str) -> bool:
    """Whether the message asks about the monthly roaming spending cap ("我的漫游上限是多少", "what is my roaming cap"),
    not about a price's daily cap and not to change it."""
    t = _norm(text)
    return bool(_CAP_QUESTION.search(t)) and not _DAILY.search(t) and not wants_cap_change(t)


_FOLLOW_UP = re.compile(r"^(?:and|then|what about|how about)(?![a-z])|^(?:那|那么|还有|再)|呢\s*[?？]?\s*$")


def follows_up(text: str) -> bool:
    """A follow-up of the topic talked about ("and last month?", "那上个月呢"): a month it says relative to now is
    relative to the month talked about."""
    return bool(_FOLLOW_UP.search(_norm(text)))


# A typo the intent engine does not know, put right before it reads the message ("话废多少" is the bill, 话费).
_TYPOS = (("话废", "话费"), ("話廢", "話費"), ("话廢", "话费"), ("話废", "話費"))


def without_typos(text: str) -> str:
    for wrong, right in _TYPOS:
        text = text.replace(wrong, right)
    return text


# the currencies an operator's catalog may be in, as subscribers write them; the amount is read as written (up to
# 3 decimals: KWD, BHD) and taken in the bill's currency, whose decimals the dialog checks it against
_CODES = r"cny|rmb|jpy|krw|kwd|bhd|usd|eur|hkd"
_MONEY = re.compile(
    rf"(?:[¥￥$€₩]|\b(?:{_CODES})\s?)\s*(\d{{1,7}}(?:\.\d{{1,3}})?)(?![\d.])"
    rf"|(?<![\d.])(\d{{1,7}}(?:\.\d{{1,3}})?)\s*(?:日元|日圆|韩元|韓元|美元|港元|港币|欧元|元|块|塊|円|yuan\b|yen\b|won\b|dinars?\b|rmb\b|(?:{_CODES})\b)"
)


# A cap as people say it: "200元", "¥100.50", "1,000 yuan", "1万元", "一百元", "两千五百块", "set it to 300", "-100元" (read
# with its sign, so that it is refused rather than set to 100). Any number of digits is read, so that an amount past
# the limit is refused as such (``Dialog._roaming_cap`` checks it, and the API's rule, on what this returns).
_ZH_NUMERAL = "零〇一二两三四五六七八九十百千万"
_CAP_NUMBER = (rf"(?P<sign>[-−]|负)?\s*(?:(?P<num>\d{{1,3}}(?:,\d{{3}})+(?![\d])|\d+)(?P<frac>\.\d+)?\s*(?P<mult>万|千)?"
               rf"|(?P<zh>[{_ZH_NUMERAL[:-3]}][{_ZH_NUMERAL}]*))")
_CAP_UNIT = rf"(?:日元|日圆|韩元|韓元|美元|港元|港币|欧元|人民币|元|块|塊|円|yuan\b|yen\b|won\b|dinars?\b|(?:{_CODES})\b)"
_CAP_AFTER_SIGN = re.compile(rf"(?:[¥$€₩]|\b(?:{_CODES})\s?)\s*{_CAP_NUMBER}")
_CAP_BEFORE_UNIT = re.compile(rf"(?<![\d.,]){_CAP_NUMBER}\s*{_CAP_UNIT}")
_CAP_AFTER_TO = re.compile(rf"(?:\bto\b|为|成|到|改|设|:|：)\s*{_CAP_NUMBER}(?![\d.,])")
_CAP_BARE = re.compile(rf"\s*{_CAP_NUMBER}\s*[.。!！]?\s*")
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}


def money_mentioned(text: str) -> Decimal | None:
    """An amount of money the message names ("6块钱", "11.37元", "¥6", "6 yuan", "CNY 11.37", "500円", "500日元",
    "1.250 KWD"), as written: 3 decimals at most, never rounded."""
    m = _MONEY.search(_norm(text))
    return None if m is None else Decimal(m.group(1) or m.group(2))


_MONTHS = r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_ZH_DAY = re.compile(r"(?<![\d.])([0-3]?\d)\s*(?:号|日)(?!\s*(?:内|以内|之内|前|以前|之前))")
_EN_DAY = re.compile(
    rf"\b(?:{_MONTHS})[a-z]*\.?\s+([0-3]?\d)(?:st|nd|rd|th)?\b"
    rf"|\b([0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})[a-z]*\b"
    r"|\bthe\s+([0-3]?\d)(?:st|nd|rd|th)\b"
)


def day_mentioned(text: str) -> int | None:
    """The day of the month the message names ("4号", "9月4日", "September 4", "on the 4th", "4 Sept")."""
    t = _norm(text)
    m = _ZH_DAY.search(t) or _EN_DAY.search(t)
    if m is None:
        return None
    day = int(next(g for g in m.groups() if g is not None))
    return day if 1 <= day <= 31 else None


# -- questions about what was charged, refunded or reported -------------------------------------------------
# The plan's monthly fee ("月租129是什么", "what is the monthly fee"): a bill line of its own, not a usage record.
_PLAN_FEE = re.compile(r"月租|月费|套餐费|套餐月|基本月|包月费|\b(?:monthly|plan|base) (?:fee|charge|rental|price)s?\b")


def asks_plan_fee(text: str) -> bool:
    return bool(_PLAN_FEE.search(_norm(text)))


# How much was spent ("我在新加坡漫游花了多少钱", "how much did I spend roaming in Japan"), not what it costs.
_SPEND = re.compile(
    r"花了|花费了|花多少了|消费了|用了多少钱|扣了多少|一共扣|总共扣|共扣了|产生了多少|费用是多少|费用多少|多少钱了"
    r"|\bhow much (?:did|have) i (?:spend|spent|pay|paid|been charged|used)\b|\b(?:i )?spent\b|\bmy (?:roaming )?(?:spend|spending|charges)\b"
    r"|\bhow much was i charged\b"
)


def asks_spend(text: str) -> bool:
    return bool(_SPEND.search(_norm(text)))


# Whether a refund has come ("我的退款到账了吗", "壁纸那3块钱退了没有", "has my refund arrived?"): answered from the
# adjustments ledger, never taken for a cancellation or a new refund request.
_REFUND_STATUS = re.compile(
    r"退款.{0,8}(?:到账|到了|收到|退了|怎么样|进度|状态|了吗|了没|没有|呢|在哪|什么时候)|退(?:了|回来了|回了|还了)(?:没|吗|么|嘛)"
    r"|(?:钱|费|款).{0,3}(?:退|返)(?:回来|还)?了(?:没|吗|么|嘛)|(?:有没有|是否|是不是)(?:已经)?退(?:款|钱|回|了)"
    r"|\brefund.{0,25}\b(?:arrived|status|come through|came through|processed|received|yet|gone through|been paid|where)\b"
    r"|\b(?:where is|status of|did i get|have i got|have i received|has|is) my refund\b|\bwas i refunded\b|\bhave i been refunded\b"
)


def asks_refund_status(text: str) -> bool:
    return bool(_REFUND_STATUS.search(_norm(text)))


# A ticket's progress ("我报的故障处理得怎么样了", "我的工单进度", "status of my fault report"): answered from the tickets.
_TICKET_STATUS = re.compile(
    r"(?:我的|报的|提交的|之前的|上次的|反映的)(?:故障|报障|工单|维修|报修|问题)(?:单)?.{0,8}"
    r"(?:处理|进度|进展|结果|状态|怎么样|如何|到哪|修好|解决|有消息|有回复)"
    r"|工单.{0,4}(?:进度|进展|状态|处理)|(?:故障|报修|报障|维修).{0,3}(?:进度|进展)"
    r"|\b(?:status|progress|update)\b.{0,20}\b(?:ticket|fault report|repair)s?\b"
    r"|\b(?:ticket|fault report|repair)s?\b.{0,25}\b(?:status|progress|going|fixed|resolved|handled)\b"
)


def asks_ticket_status(text: str) -> bool:
    return bool(_TICKET_STATUS.search(_norm(text)))


# Not satisfied with how a complaint was settled ("我对投诉处理结果不满意", "I'm not happy with how my complaint was
# resolved", "reopen my complaint"): an offer to reopen it.
_DISSATISFIED = re.compile(r"不满意|不认可|不接受|不同意|\bnot (?:satisfied|happy|ok)\b|\bunhappy\b|\bdissatisfied\b|\bdisagree\b")
_ABOUT_OUTCOME = re.compile(r"处理结果|结果|处理|答复|解决|\boutcome\b|\bresolution\b|\bresolved\b|\bhandled\b|\bdecision\b")
_REOPEN = re.compile(r"(?:重新|再次)(?:处理|开启|打开|受理)|重开|\bre-?open\b|\bnot (?:been )?resolved\b")


def wants_reopen(text: str) -> bool:
    t = _norm(text)
    return bool(_REOPEN.search(t) or (_DISSATISFIED.search(t) and _ABOUT_OUTCOME.search(t)))


# -- money back, roaming switched on, an address that is no address ------------------------------------------
_REFUND = re.compile(r"退款|退钱|退费|退还|退(?:我|回)(?:的)?钱|把钱退|(?<![a-z])(?:refund\w*|money back)(?![a-z])")


def wants_refund(text: str) -> bool:
    """Whether a complaint or refund request asks for money back ("我要退款", "I want a refund"), not only to complain."""
    t = _norm(text)
    return wants_complaint(t) and bool(_REFUND.search(t))


_ZH_ROAMING_SWITCH = re.compile(r"(?:开通|打开|开启|激活|启用|关闭|关掉|停用)[^，。,.!?！？]{0,4}漫游"
                                r"|漫游[^，。,.!?！？]{0,6}(?:开通|打开|开启|激活|启用|关闭|关掉|停用|怎么开|开了)")
_EN_ROAMING_SWITCH = re.compile(
    r"(?<![a-z])(?:turn|switch)(?:ed)? (?:on|off)\b[^.!?]{0,30}\broaming\b|(?<![a-z])(?:activate|enable|deactivate|disable|unblock"
    r"|block|open|set up)\w*\b[^.!?]{0,30}\broaming\b|\broaming\b[^.!?]{0,20}\b(?:turned|switched) (?:on|off)\b"
    r"|\broaming\b[^.!?]{0,12}\b(?:activated|enabled|disabled)\b"
)


def switches_roaming(text: str) -> bool:
    """Whether the message asks to turn roaming itself on or off ("开通国际漫游", "turn on international roaming"), not
    to change the spending cap: fairtel has no such switch (the operator's network has)."""
    t = _norm(text)
    return bool(_ZH_ROAMING_SWITCH.search(t) or _EN_ROAMING_SWITCH.search(t)) and not wants_cap_change(t)


def bare_home(place: str) -> bool:
    """Whether a place given is only "home" ("家里", "at home", "my flat"): no address an engineer can go to."""
    t = _norm(place)
    t = re.sub(r"^(?:at|in)\s+|^(?:在|于)", "", t).strip(" 。.!！")
    return bool(t) and _BARE_HOME.fullmatch(t) is not None


_ALL_LINES = re.compile(r"(?:所有|全部|几个|每个|名下的?)(?:的)?(?:号码|号|手机号|卡|线路)|一家人|全家|"
                        r"\ball (?:of )?(?:my|our|the) (?:lines|numbers|phones|sims)\b|\bevery (?:line|number)\b|"
                        r"\b(?:family|household) (?:lines|numbers|plan)\b")


def asks_all_lines(text: str) -> bool:
    """Whether the message asks about every line of the account together ("我所有号码一共多少钱", "how much for all
    my lines"), not the one the conversation is about."""
    return _ALL_LINES.search(_norm(text)) is not None
