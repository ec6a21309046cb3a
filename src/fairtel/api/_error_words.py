"""What an error answer says, in the caller's language: every code the API answers with has its sentence in English
and in Chinese (``MESSAGES``); ``Accept-Language`` picks one (``language_of``). The ``code`` never changes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ENGLISH, CHINESE = "en", "zh-CN"
"""The languages an error answer is in, as its ``Content-Language`` says them."""

MESSAGES: dict[str, tuple[str, str]] = {  # code: (en, zh)
    # the API's own
    "not_authenticated": ("Log in first: send a valid bearer token or API key.", "请先登录：请提供有效的令牌或 API 密钥。"),
    "permission_denied": ("Not allowed for this login.", "当前登录账号无权执行此操作。"),
    "assignment_required": ("Take the customer's ticket, complaint or chat first: an agent sees a customer's data only "
                            "while handling them.", "请先受理该客户的投诉、工单或会话：客服仅在处理期间可查看客户资料。"),
    "line_changed_hands": ("The number changed hands since this login was made: an administrator issues a new one.",
                           "该号码已更换机主（或销户后重新启用），此登录账号开通于此之前，已不能再使用：请联系管理员开通新的登录账号。"),
    "not_found": ("Not found, or not visible to this login.", "未找到该记录，或您无权查看。"),
    "page_not_found": ("No such page.", "没有这个页面。"),
    "method_not_allowed": ("This method is not allowed here: the Allow header lists those that are.",
                           "此地址不支持该请求方法：可用的方法见 Allow 头。"),
    "http_error": ("The request could not be answered.", "请求未能完成。"),
    "internal_error": ("An unexpected error; it has been logged.", "系统出现意外错误，已记录，请稍后再试。"),
    "conflict": ("Conflicts with the current state (someone may have handled it already).",
                 "该操作与当前状态不符（可能已由他人处理），请刷新后查看。"),
    "already_subscribed": ("Already subscribed to this offer: cancel it first to order it again.",
                           "您已订购该业务，如需重新订购请先退订。"),
    "finding_resolution_invalid": ("This finding cannot be resolved that way (resolved already, or not billed yet).",
                                   "该异常扣费无法按此方式处理（可能已处理或尚未出账）。"),
    "line_not_in_service": ("The line is suspended or closed.", "该号码已停机或销户，无法办理。"),
    "merchant_suspended": ("The merchant of this offer is suspended: it cannot be ordered now.", "该业务的合作商已被暂停，暂时无法订购。"),
    "request_too_large": ("The request body is too large.", "提交的内容过长。"),
    "input_invalid": ("Invalid input: every problem is listed in details.", "输入有误：所有问题已列在 details 中。"),
    "rate_limited": ("Too many requests: retry after the Retry-After seconds.", "请求过于频繁：请在 Retry-After 所示秒数后重试。"),
    "not_available": ("Not available yet: what it needs has not been produced.", "该功能所需的数据尚未生成，暂不可用。"),
    "assistant_unavailable": ("The assistant is not available.", "智能助手暂不可用。"),
    "not_a_subscriber": ("The number is no customer's.", "该号码不是本网用户。"),
    # the stages' and stores' own, as they may reach a request
    "fairtel_error": ("The request could not be done.", "请求未能完成。"),
    "config_invalid": ("The server's configuration is invalid.", "服务器配置有误。"),
    "catalog_invalid": ("The tariff catalog is invalid.", "资费目录有误。"),
    "catalog_missing": ("No tariff catalog is loaded yet.", "资费目录尚未加载，暂不可用。"),
    "consent_event_invalid": ("The consent event is invalid.", "订购同意记录有误。"),
    "currency_mismatch": ("The currencies do not match.", "币种不一致，无法处理。"),
    "currency_unknown": ("Unknown currency.", "未知币种。"),
    "time_invalid": ("A period or time is not valid: a period reads YYYY-MM (e.g. 2026-09).",
                     "账期或时间格式有误：账期应写作 YYYY-MM（例如 2026-09）。"),
    "time_naive": ("A time without its time zone: give its offset (e.g. +08:00).", "时间缺少时区：请注明时差（例如 +08:00）。"),
    "database_unavailable": ("The database cannot be reached now: retry after the Retry-After seconds.",
                             "数据库暂时无法连接，请在 Retry-After 所示秒数后重试。"),
    "database_busy": ("The database is busy: retry after the Retry-After seconds.", "数据库繁忙，请在 Retry-After 所示秒数后重试。"),
    "database_schema_newer": ("The database was upgraded by a newer version: this server must be upgraded.",
                              "数据库已由更新的版本升级，本服务需要升级后才能使用。"),
    "ledger_missing": ("The mediation ledger of this home is missing: it must be restored.", "本系统的采集台账缺失，需要恢复后才能使用。"),
    "lake_incomplete": ("Usage data the ledger names is missing from the lake (an unmounted volume?).",
                        "台账记录的用量数据在数据湖中缺失（存储卷可能未挂载）。"),
    "lake_invalid": ("The usage lake holds data that cannot be read.", "数据湖中的数据无法读取。"),
    "engine_failed": ("The rating engine failed the job.", "计费引擎未能完成任务。"),
    "file_system_error": ("A file could not be read or written on the server.", "服务器上的文件无法读写。"),
    "file_unreadable": ("The file cannot be read.", "该文件无法读取。"),
    "compressed_file": ("A compressed file or archive: unpack it first.", "这是压缩文件或归档文件，请先解压。"),
    "format_unknown": ("The file's format is not known.", "无法识别该文件的格式。"),
    "fieldmap_invalid": ("The field map is invalid.", "字段映射有误。"),
    "audit_mismatch": ("The batch's control totals disagree with its records.", "该批次的控制合计与其记录不符。"),
    "audit_plain_number": ("The audit takes no plain number.", "审计记录不得包含明文号码。"),
    "tap_batch_repeated": ("This transfer batch was read before.", "该漫游结算批次已读取过。"),
    "tap_test_data": ("A transfer batch of test data: nothing to charge.", "该漫游结算批次为测试数据，无可计费内容。"),
    "inbox_unwritable": ("The inbox cannot be written.", "收件目录无法写入。"),
    "inbox_file_gone": ("The file left the inbox while it was handled.", "文件在处理期间已被移出收件目录。"),
    "home_served": ("A server (fairtel serve) is running on this home: stop every server of the home first.",
                    "该系统目录正由服务进程（fairtel serve）使用：请先停止该目录的所有服务进程。"),
    "mediation_locked": ("Mediation is held by another process: retry when it is done.", "采集正由另一进程处理，请稍后再试。"),
    "home_mismatch": ("The database serves another home than this server's.", "数据库属于另一个系统目录，与本服务不符。"),
    "secret_key_mismatch": ("The secret key is not the one this home's data was made with.", "密钥与本系统数据所用的密钥不一致。"),
    "login_name_clash": ("Login names differ only in letter case.", "存在仅大小写不同的登录名。"),
    "backup_refused_busy": ("A backup cannot be made while the home is in use.", "系统正在使用中，无法备份。"),
    "period_not_ended": ("The period has not ended yet.", "该账期尚未结束。"),
    "fraud_case_transition": ("The fraud case cannot move to that state (it has been decided already?).", "该欺诈案件已有决定，无法再次处理。"),
    "churn_data_too_short": ("Too little history to tell churn.", "历史数据不足，无法进行流失预测。"),
    "model_invalid": ("The model file is invalid.", "模型文件无效。"),
    "intent_model_invalid": ("The assistant's model is missing or invalid.", "智能助手的模型缺失或无效。"),
    "synth_failed": ("Making the sample data failed.", "生成示例数据失败。"),
}


def language_of(headers: Mapping[str, str]) -> str:
    """The language an error answer is in, by ``Accept-Language`` (``headers`` keyed in lower case): Chinese
    (``CHINESE``) when the caller prefers it, English (``ENGLISH``) otherwise. The tags are weighed by their
    ``q`` (1 when left out; 0 refuses); of two as wanted, the first. ``zh``, ``zh-CN``, ``zh-SG`` and ``zh-Hans`` (in
    any letter case) are Chinese as written here, ``en`` and ``en-*`` English; ``*`` or any other tag is none of
    ours, so a caller asking only for French, or for traditional characters (``zh-TW``, ``zh-Hant``), reads English."""
    best, best_q = ENGLISH, 0.0
    for part in headers.get("accept-language", "")[:500].split(","):
        tag, _, params = part.strip().partition(";")
        language = _ours(tag.strip().lower())
        if language is None:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        if q > best_q:
            best, best_q = language, q
    return best


def _ours(tag: str) -> str | None:
    if tag == "zh" or tag in ("zh-cn", "zh-sg", "zh-hans") or tag.startswith("zh-hans-"):
        return CHINESE
    if tag == "en" or tag.startswith("en-"):
        return ENGLISH
    return None


# Where one code covers refusals a person must tell apart (a wrong password is not "log in first"), the Chinese
# sentence of the English message's beginning.
SPECIFIC: dict[tuple[str, str], str] = {
    ("not_authenticated", "wrong username or password"): "用户名或密码错误。",
    ("not_authenticated", "the token has expired"): "登录已过期，请重新登录。",
    ("not_authenticated", "the token is not valid"): "令牌无效，请重新登录。",
    ("not_authenticated", "this token was ended by logging out"): "此令牌已因退出登录而失效，请重新登录。",
    ("not_authenticated", "the account behind this token is disabled or changed"): "此令牌对应的账户已停用或已变更，请重新登录。",
}


def message_in(language: str, code: str, message: str) -> str:
    """``message`` (the error's own English words, which name the thing) in ``language``: in Chinese, the
    sentence of the message's case where one code covers several a person must tell apart (``SPECIFIC``), else the
    code's sentence (``MESSAGES``; a code without one, the general one)."""
    if language != CHINESE:
        return message
    for (known, start), words in SPECIFIC.items():
        if known == code and message.startswith(start):
            return words
    return MESSAGES.get(code, MESSAGES["fairtel_error"])[1]


ROLE_WORDS: dict[str, tuple[str, str]] = {  # role: (en, zh), as a refusal names who may
    "subscriber": ("subscriber", "用户"), "agent": ("agent", "客服"), "analyst": ("analyst", "分析师"),
    "fraud_analyst": ("fraud analyst", "反欺诈分析师"), "admin": ("admin", "管理员"),
}


def roles_words(language: str, roles: list[str]) -> str:
    """Who may do what a login was refused (``permission_denied``'s ``details.roles``), as its message ends: "it is
    for the roles agent and analyst" / "仅限客服、分析师"."""
    names = [ROLE_WORDS.get(r, (r, r))[1 if language == CHINESE else 0] for r in roles]
    if language == CHINESE:
        return f"仅限{'、'.join(names)}。"
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"it is for the role{'s' if len(names) > 1 else ''} {listed}"


def language_headers(language: str) -> dict[str, str]:
    """The headers of an error answer in ``language``: what it is in, and that ``Accept-Language`` chose it."""
    return {"Content-Language": language, "Vary": "Accept-Language"}


# ---- a request's problems: pydantic's findings in the API's own words, in both languages -------------------------
_KIND = {bool: "true or false", int: "a JSON number", float: "a JSON number", list: "a list", dict: "an object",
         type(None): "null"}
_ALTERNATIVES = re.compile(r"\^\(?([^()|^$\\\[\]{}*+?.]+(?:\|[^()|^$\\\[\]{}*+?.]+)+)\)?\$")
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def problem_words(message: str) -> str:
    """A model's problem as the API says it: a validator's own words, without the prefix pydantic puts before the
    text of a ``ValueError`` or an ``assert`` (``Value error, a decimal string ...`` reads ``a decimal string ...``)."""
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def validation_words(error: Mapping[str, Any]) -> str:
    """One problem the request models found (an item of pydantic's ``errors()``) as the API says it, in English:
    what the field accepts, in a sentence of ours rather than the model library's ("Input should be a valid
    string"). An ``amount`` is told the one amount rule (``_money``). A check of our own (a validator's
    ``ValueError``, a custom error) keeps its words (``problem_words``). The API's answers and the console's forms
    both say a problem so (``problem_in`` gives its Chinese)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    loc = error.get("loc") or ()
    if loc and str(loc[-1]) == "amount":
        said = _amount_words(kind, ctx, value)
        if said is not None:
            return said
    if kind == "missing":
        return "required"
    if kind == "string_type":
        return f"text expected (a JSON string, in quotes), not {_KIND.get(type(value), 'that')}"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"at least {least} characters"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        choices = _ALTERNATIVES.fullmatch(pattern)
        if choices is not None:
            return f"not one of the accepted values: {', '.join(choices.group(1).split('|'))}"
        return f"not in the accepted form (the pattern {pattern})"
    if kind in ("literal_error", "enum"):
        return f"not one of the accepted values: {str(ctx.get('expected', '')).replace(' or ', ', ')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number expected"
    if kind in ("float_parsing", "float_type"):
        return "a number expected"
    if kind in ("bool_parsing", "bool_type"):
        return "true or false expected"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        return "a JSON object expected"
    if kind == "list_type":
        return "a list expected"
    for bound, words in (("gt", "more than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most")):
        if kind == _BOUND_TYPES[bound]:
            return f"must be {words} {ctx.get(bound)}"
    if kind == "extra_forbidden":
        return "not a field of this request"
    return problem_words(str(error.get("msg", "")))


_BOUND_TYPES = {"gt": "greater_than", "ge": "greater_than_equal", "lt": "less_than", "le": "less_than_equal"}


def _amount_words(kind: str, ctx: Mapping[str, Any], value: Any) -> str | None:
    """An amount's problem in the words of the amount rule (``_money``); None for a check of our own (its words
    stand)."""
    from fairtel.api._money import amount_problem

    if kind == "string_type" and not isinstance(value, str):
        return amount_problem(value, None)
    if kind in ("string_too_long", "decimal_max_digits", "decimal_max_places") and isinstance(value, str):
        return amount_problem(value, None) or amount_problem("", None)
    if kind in ("greater_than", "greater_than_equal"):
        words = "more than" if kind == "greater_than" else "at least"
        bound = ctx.get("gt", ctx.get("ge"))
        return f'the amount must be {words} {bound}: a decimal string such as "3.50"'
    return None


_NOT_AN_AMOUNT = (r'not an amount in {currency}: plain digits \(0-9\), at most (\d+) before the point and {fraction}, '
                  r'e\.g\. "([^"]+)" \(no sign, space or exponent\)')
_FRACTION = r"at most (\d+) after the point"

# The API's English problem sentences (``validation_words``, the amount rule's, the guard's), in Chinese: each
# pattern, the Chinese with its values put back in order. A message not matched is answered as written.
PROBLEMS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.S), zh) for p, zh in (
    (r"required", "必填"),
    (r"text expected \(a JSON string, in quotes\), not .*", "应为文字（带引号的 JSON 字符串）"),
    (r"at most (\d+) characters", "不能超过 {0} 个字"),
    (r"longer than (\d+) characters", "不能超过 {0} 个字"),
    (r"at least (\d+) characters", "至少 {0} 个字"),
    (r"must not be empty", "不能为空"),
    (r"not one of the accepted values: (.*)", "不是可选的值，可选：{0}"),
    (r"not in the accepted form \(the pattern (.*)\)", "格式不符（应符合 {0}）"),
    (r"a whole number expected", "应为整数"),
    (r"a number expected", "应为数字"),
    (r"true or false expected", "应为 true 或 false"),
    (r"a JSON object expected", "应为 JSON 对象"),
    (r"a list expected", "应为列表"),
    (r"must be more than (\S+)", "应大于 {0}"),
    (r"must be at least (\S+)", "应不小于 {0}"),
    (r"must be less than (\S+)", "应小于 {0}"),
    (r"must be at most (\S+)", "应不大于 {0}"),
    (r"not a field of this request", "本请求没有这个字段"),
    # the amount rule (``_money``)
    (r'a decimal string, e\.g\. "([^"]+)", not a JSON number', '金额应为带引号的十进制数字字符串（如 "{0}"），不能是 JSON 数字'),
    (r'a decimal string, e\.g\. "([^"]+)"', '金额应为带引号的十进制数字字符串（如 "{0}"）'),
    (r'required: a decimal string such as "([^"]+)"', '必填：金额应为带引号的十进制数字字符串（如 "{0}"）'),
    (r'the amount must be more than (\S+): a decimal string such as "([^"]+)"', '金额应大于 {0}，写作带引号的十进制数字字符串（如 "{1}"）'),
    (r'the amount must be at least (\S+): a decimal string such as "([^"]+)"', '金额应不小于 {0}，写作带引号的十进制数字字符串（如 "{1}"）'),
    (_NOT_AN_AMOUNT.format(currency="its currency", fraction=_FRACTION),
     '不是有效的金额：只能写数字（0-9），小数点前最多 {0} 位，小数点后最多 {1} 位，如 "{2}"（不带正负号、空格或指数）'),
    (_NOT_AN_AMOUNT.format(currency="its currency", fraction="no point"),
     '不是有效的金额：只能写数字（0-9），最多 {0} 位，不带小数点，如 "{1}"（不带正负号、空格或指数）'),
    (_NOT_AN_AMOUNT.format(currency="([A-Z]{3})", fraction=_FRACTION),
     '不是有效的金额（{0}）：只能写数字（0-9），小数点前最多 {1} 位，小数点后最多 {2} 位，如 "{3}"（不带正负号、空格或指数）'),
    (_NOT_AN_AMOUNT.format(currency="([A-Z]{3})", fraction="no point"),
     '不是有效的金额（{0}）：只能写数字（0-9），最多 {1} 位，不带小数点，如 "{2}"（不带正负号、空格或指数）'),
    (r"Input should be a valid (?:integer|number|decimal).*", "请填写数字"),
    (r"say why in words: at least (\d+) letters", "请用文字说明原因，至少 {0} 个字"),
    # a login's name (``_admin``, ``_users``)
    (r"a space before or after the name: a login's name is letters, digits or \. _ @ - only, with no space",
     "登录名前后有空格：登录名只能由字母、数字或 . _ @ - 组成，不含空格"),
    (r"2-63 letters, digits or \. _ @ -, starting with a letter or digit", "应为 2 到 63 个字母、数字或 . _ @ -，以字母或数字开头"),
    # an order's second confirmation (二次确认, ``_subscriptions``)
    (r"the code sent to your phone by SMS is needed to confirm", "需要填写短信发送到您手机上的验证码才能确认订购"),
    (r"the code does not match the one sent to your phone", "验证码与发送到您手机上的不一致"),
    (r"no offer '([^']*)' in the catalog", "资费目录中没有业务“{0}”"),
    # the guard's (every route's) checks
    (r"given more than once", "重复给出：每个参数只能给一次"),
    (r"given more than once in one object: send each key once", "同一对象中重复给出：每个键只能给一次"),
    (r"a NUL character \(\\u0000\) is not allowed in any text", "任何文字中都不允许出现 NUL 字符（\\u0000）"),
    (r"not valid JSON: (.*)", "不是有效的 JSON：{0}"),
    (r"nested more than (\d+) deep", "嵌套超过 {0} 层"),
    (r"a whole number of more than (\d+) digits", "整数超过 {0} 位"),
))


def problem_in(language: str, message: str) -> str:
    """A problem's message (``validation_words``' English, or a check's own) in ``language``: in Chinese, the
    sentence ``PROBLEMS_ZH`` has for it; a message it has none for, as it is."""
    if language != CHINESE:
        return message
    for pattern, zh in PROBLEMS_ZH:
        found = pattern.fullmatch(message)
        if found is not None:
            return zh.format(*found.groups())
    return message
