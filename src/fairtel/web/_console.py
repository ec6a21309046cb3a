"""The web console: server-rendered pages over the same service functions (and so the same access rules
and audit) as the REST API. A session is the API's signed token in an HttpOnly, SameSite=Strict cookie,
which logging out revokes; every form carries a token derived from it, so another site cannot post on the
user's behalf."""

from __future__ import annotations

import hmac
import inspect
import re
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pyarrow.parquet as pq
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from fairtel.api import (
    ApiOptions,
    Assistant,
    Principal,
    RateLimitedError,
    Services,
    _cases,
    _marketing,
    _tickets,
    create_app,
    ops,
    status_for,
)
from fairtel.api._deps import in_flight
from fairtel.api._error_words import CHINESE, ENGLISH, roles_words, validation_words
from fairtel.api._errors import LineChangedHandsError, error_details, problem_place
from fairtel.api._explain import quantity_text
from fairtel.api._paging import Page, decode_cursor, encode_cursor
from fairtel.api._subscriptions import AlreadySubscribedError
from fairtel.billing import line_text
from fairtel.bootstrap import App
from fairtel.care import ComplaintCategory
from fairtel.care._complaints import category_label
from fairtel.catalog import Catalog
from fairtel.core.errors import ConflictError, FairtelError, InvalidInputError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id
from fairtel.core.settings import Environment as Env
from fairtel.core.settings import Settings
from fairtel.core.time import zone
from fairtel.privacy import Permission, Role, can, e164_of
from fairtel.store import Lake
from fairtel.web._audit_words import action_text, reason_text, resource_text
from fairtel.web._charts import bar_chart, line_chart
from fairtel.web._i18n import (
    CODES,
    LANGUAGES,
    TEXT,
    chart_label,
    code_text,
    error_text,
    error_title,
    line_kind,
    note_text,
    problem_field,
    problem_text,
    region_text,
    resolution_text,
    text_lang,
    translate,
)
from fairtel.web._session import CONSOLE_SESSION, HSTS, SEEN_COOKIE, SessionPolicy, last_seen, seen_value

HERE = Path(__file__).resolve().parent
COOKIE = "fairtel_session"
LANG_COOKIE = "fairtel_lang"
HOME_OF: dict[Role, str] = {
    Role.SUBSCRIBER: "/my/bill",
    Role.AGENT: "/desk",
    Role.ANALYST: "/dashboard",
    Role.FRAUD_ANALYST: "/fraud",
    Role.ADMIN: "/dashboard",
}

# why the second step of an order was refused (``ConflictError.details["reason"]``) that the console words itself
CODE_REFUSALS = frozenset({"code_expired", "code_spent", "code_key_replaced", "resend_limit"})
# what a refund of a finding did (``ResolutionOut.outcome``) → the message shown
FRAUD_NOTE_MAX = 500  # as the API's decision takes
_REFUND_MESSAGES = {"refunded": "refunded_ok", "refunded_before": "refunded_before_ok", "not_billed": "not_billed_ok"}
USAGE_PAGE = 100  # itemised usage lines a page shows (the API's default page)
MY_CASES = 50  # a subscriber's complaints or fault reports a page lists, newest first


class LoginRequired(Exception):
    pass


# Fetch-metadata values of a request another site started (a sibling subdomain counts: it may not be ours).
FOREIGN_SITES = frozenset({"cross-site", "same-site"})


def from_elsewhere(request: Request) -> bool:
    """A post another site's page made the browser send. Login and logout have no session to tie a form token
    to, so this is what protects them; the console's pages (Referrer-Policy: no-referrer) make browsers send
    ``Origin: null`` on their own posts, hence the browser's ``Sec-Fetch-Site`` is the main witness."""
    if request.headers.get("sec-fetch-site", "").lower() in FOREIGN_SITES:
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def flash_key(msg: str | None) -> str | None:
    """Only the console's own confirmations are shown: a link cannot put words of its own on a page."""
    return msg if msg is not None and msg.endswith("_ok") and (msg in TEXT or msg in CARE_WORDS) else None


def here_of(request: Request) -> str:
    """The page's path with its query (less a flash message): where switching language comes back to, the same view
    (a findings filter, a page of usage) in the other language."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "msg"]
    return request.url.path + ("?" + urlencode(query) if query else "")


# what an empty roaming cap amount is told: the cap is removed only by its own button
EMPTY_CAP = "enter the cap as an amount, e.g. 100.00 (to remove the cap, use its own button)"


def money_typed(amount: str) -> str:
    """An amount as a person types it, for the API's strict parser: spaces around it and an input method's
    full-width digits and point (１．５０) are the amount (NFKC), the same rule for every money field of the console."""
    return unicodedata.normalize("NFKC", amount).strip()


def console_page(target: str) -> bool:
    """A path of this site that is a console page to come back to: not the API's, a static file, the login's."""
    path = urlsplit(target).path
    return same_site(target) and not path.startswith(("/api/", "/static/")) and path not in ("/api", "/login", "/logout")


def posted_from(request: Request) -> str:
    """The console page a form was posted from, by its ``Referer``: its path (and query) when the Referer is this
    site's own (same scheme and host) and a console page; else "" (another site's, the API's, the login's). The
    console's pages ask browsers to send none (``Referrer-Policy: no-referrer``): the form's ``page`` field comes
    first (``posted_page``)."""
    ref = urlsplit(request.headers.get("referer", ""))
    if ref.scheme != request.url.scheme or ref.netloc != request.url.netloc or not ref.path:
        return ""
    back = ref.path + (f"?{ref.query}" if ref.query else "")
    return back if console_page(back) else ""


async def posted_page(request: Request) -> str:
    """The page a console form says it is on (its hidden ``page`` field, ``csrf_field``); "" when it says none or
    its body cannot be read as a form."""
    try:
        form = await request.form()
    except (StarletteHTTPException, MultiPartException, ValueError):
        return ""
    page = form.get("page")
    return page if isinstance(page, str) and console_page(page) else ""


def same_site(target: str) -> bool:
    """A path on this site to send the browser back to: not ``//host`` or ``/\\host`` (which browsers read as
    another site), nor one carrying control characters."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def bill_line_text(line: Any, catalog: Catalog, lang: str) -> str:
    """A bill line in the reader's language, named from the catalog (billing stores its text in English)."""
    return line_text(line.kind, rule_id=line.rule_id, catalog=catalog, language=lang, description=line.description,
                     allowance_id=line.allowance_id)


def day_on_clock(instant: datetime | None, catalog: Catalog) -> str:
    """The day of ``instant`` on the operator's clock (the catalog's time zone, which billing periods start by):
    a plan change from 1 December must not read as 30 November on a console set to another zone."""
    if instant is None:
        return ""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(zone(catalog.operator.timezone)).strftime("%Y-%m-%d")


def quantity_in(value: int | None, unit: str | None, lang: str) -> str:
    """A usage quantity in the reader's language; a value-added service counts charges (unit ``item``)."""
    if unit == "item" and value is not None:
        return f"{value}笔" if lang == "zh" else f"{value} charge{'s' if value != 1 else ''}"
    return quantity_text(value, unit)[1 if lang == "zh" else 0]


def chart_pairs(series: Any, lang: str) -> list[tuple[str, float]]:
    """A series' points to draw: labels in the reader's language, a share as a percentage. Money comes as decimal
    strings (the API never gives it as a float); the float here only places a bar."""
    scale = 100.0 if series.unit == "share" else 1.0
    return [(chart_label(p.label, lang), round(float(p.value) * scale, 1)) for p in series.points]


def usage_count(lake: Lake, msisdn: str, period: str) -> int:
    """How many rated lines ``msisdn`` has in ``period``: the rows the API's usage pages are cut from (read
    from the lake as it reads them, the number column only)."""
    if not period or period not in lake.periods("rated"):
        return 0
    return sum(pq.read_table(f, columns=["msisdn"], filters=[("msisdn", "=", msisdn)]).num_rows
               for f in lake.files("rated", periods=[period]))


def usage_paging(usage: Any, lake: Lake, msisdn: str, cursor: str | None, base: str) -> dict[str, Any] | None:
    """Where a page of itemised usage sits among the period's lines, and links to the pages beside it (the
    API's cursors); None when there are no lines to page."""
    if not usage.available or not usage.items:
        return None
    offset = decode_cursor(cursor)
    # the lines the pages are cut from: of an issued period its bill's (``UsagePage.count``), else the rated lines
    count = usage.count if getattr(usage, "count", 0) else usage_count(lake, msisdn, usage.period)
    first, last = offset + 1, offset + len(usage.items)
    back = encode_cursor(max(0, offset - USAGE_PAGE)) if offset > 0 else None
    return {
        "first": first, "last": last, "count": max(count, last),
        "previous": None if back is None else f"{base}&cursor={back}",
        "next": None if usage.next_cursor is None else f"{base}&cursor={usage.next_cursor}",
    }


def settled_note(history: Any) -> str | None:
    """What the agent wrote when last settling a complaint (the note of its latest resolve or close event), as the
    complaint's history gives it to its subscriber; None when they wrote nothing."""
    for e in reversed(history.events):
        if e.kind == "status" and e.status in _cases.SETTLED:
            return e.note or None
    return None


def score_percent(score: float | None, lang: str) -> str:
    """A detector's score (0 to 1) as a percentage, with the decimals that keep it from reading as certainty: 0.9954
    reads ``99.5 %`` (``99.5%`` in Chinese), 0.99996 ``99.996 %``; only 1 itself reads 100, only 0 itself 0. A score
    closer still reads ``> 99.999 %`` (or ``< 0.001 %``)."""
    if score is None:
        return ""
    pct = float(score) * 100
    text = ""
    for places in (1, 2, 3):
        shown = round(pct, places)
        if (shown < 100 or pct >= 100) and (shown > 0 or pct <= 0):
            text = f"{shown:.{places}f}"
            break
    else:
        text = "> 99.999" if pct > 50 else "< 0.001"
    return f"{text}%" if lang == "zh" else f"{text} %"


# Words of the fraud page the shared table does not hold: who decided, and a suspended case's line now.
FRAUD_WORDS: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "decision": ("Decision", "处理结果"),
    "decided_by": ("Decided by {who}, {day}", "{who} 于 {day} 决定"),
    "decided_by_only": ("Decided by {who}", "{who} 决定"),
    "decision_note": ("Note", "备注"),
    "line": ("Line", "号码状态"),
    "active": ("in service (brought back)", "已复机"),
    "suspended": ("suspended", "已停机"),
    "closed": ("closed", "已销户"),
    "not_registered": ("not registered", "未登记"),
    "all_periods": ("All periods", "全部账期"),
    "filter": ("Show", "筛选"),
    "exact_score": ("The score as computed", "模型原始评分"),
    "bad_period": ("A period is written YYYY-MM, e.g. 2026-09.", "账期格式为 YYYY-MM，例如 2026-09。"),
}


def fraud_word(key: str, lang: str, **values: str) -> str:
    pair = FRAUD_WORDS.get(key)
    text = key if pair is None else pair[1] if lang == "zh" else pair[0]
    return text.format(**values) if values else text


# Words of the care desk the shared table does not hold (filing a caller's complaint, crediting a charge, releasing a
# customer, the findings' details, a page refused): ``t`` reads them first.
CARE_WORDS: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "new_complaint": ("Record a caller's complaint", "为来电客户登记投诉"),
    "new_complaint_hint": ("Recording it opens the customer to you, as taking a complaint does.",
                           "登记后即开始处理该客户（与受理投诉相同），可查看其资料。"),
    "customer_number": ("Customer's number", "客户号码"),
    "channel": ("Channel", "渠道"),
    "complaint_text": ("What the customer says", "客户诉求"),
    "file_complaint": ("Record", "登记"),
    "channel_web": ("web", "网上营业厅"), "channel_app": ("app", "手机营业厅"), "channel_phone": ("phone", "电话"),
    "channel_hotline": ("hotline", "客服热线"), "channel_store": ("store", "营业厅"), "channel_chat": ("online chat", "在线客服"),
    "channel_email": ("email", "邮件"), "channel_regulator": ("appeal via the regulator", "申诉（管局转办）"),
    "channel_sms": ("SMS", "短信"), "channel_letter": ("letter", "信函"),
    "credit_amount": ("Credit", "退款/减免金额"),
    "credit_bill": ("on the bill of", "冲抵账期"),
    "credit_record": ("record id (optional)", "话单号（可选）"),
    "credit_link": ("or an adjustment id", "或已有调账单号"),
    "credit_hint": ("A credit is carried into the next bill; the note is its reason.", "金额将在下期账单中抵扣，备注即为退款原因。"),
    "my_assignments": ("Customers you are handling", "您正在处理的客户"),
    "expires": ("until", "有效至"),
    "handling_for": ("Handling", "受理事项"),
    "release": ("Release", "结束处理"),
    "acknowledge": ("Acknowledge", "确认受理"),
    "handling_banner": ("You see this customer because you are handling {kind} {ref}.", "您正在处理该客户的{kind} {ref}。"),
    "filed_ok": ("Complaint recorded: you are handling the customer now.", "投诉已登记，您已开始处理该客户。"),
    "credited_ok": ("Complaint resolved: the credit goes on the next bill.", "投诉已解决，退款将在下期账单中抵扣。"),
    "released_ok": ("Released: the customer's data is closed to you now.", "已结束处理，您不再能查看该客户的资料。"),
    "all_statuses": ("All", "全部"),
    "offer": ("Offer", "业务"),
    "no_value": ("none", "无"),  # an empty cell, read out beside its dash
    "charged_at": ("Charged", "扣费时间"),
    "records": ("Records", "话单"),
    "evidence": ("Evidence", "依据"),
    "ev_verdict": ("consent gate", "同意核验"), "ev_period": ("period", "账期"), "ev_policy": ("cap", "封顶"),
    "ev_subscription_id": ("subscription", "订购"), "ev_duplicate_of": ("repeats", "重复于"),
    "error_code": ("Error code:", "错误代码："),
    "finding_take_first": ("Take this customer's complaint or ticket first: agents refund or dismiss while handling the customer.",
                           "请先受理该客户的投诉或工单：客服仅在处理该客户期间可退款或驳回。"),
    "dismiss_reason": ("Why dismiss (at least 3 characters)", "驳回原因（至少 3 个字）"),
    "offer_choice": ("Offer to order", "选择要订购的业务"),
    "problems": ("What to correct:", "请修改："),
    "audit_since": ("From (day)", "起始日期"),
    "audit_until": ("To (day, included)", "截止日期（含当天）"),
    "page_for": ("You may not see this page: ", "您无权查看此页面："),
    "page_denied": ("You may not see this page, or this customer: agents see a customer while handling their complaint or ticket.",
                    "您无权查看此页面或该客户的资料：客服仅在处理其投诉或工单期间可查看。"),
}
COMPLAINT_CHANNELS = _cases.COMPLAINT_CHANNELS


def care_word(key: str, lang: str) -> str | None:
    pair = CARE_WORDS.get(key)
    return None if pair is None else pair[1] if lang == "zh" else pair[0]


def day_in(text: str | None, field: str, tz: tzinfo, problems: list[Problem], *, after: bool = False) -> datetime | None:
    """A day a form names (``2026-11-02``, a date field's value) as the instant it begins on the operator's clock, or,
    ``after``, the instant it ends (the next one begins); none when left empty. A day not written so is a problem
    added to ``problems`` (none is returned)."""
    if not text or not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(Problem("form", None, field, "not a date: write it as YYYY-MM-DD"))
        return None
    return datetime.combine(day + timedelta(days=1) if after else day, time(), tzinfo=tz)


def form_model(model: type[BaseModel], what: str, **values: Any) -> Any:
    """A form's fields as the API's model of the request takes them: what it refuses is a 422 naming the fields, each
    problem in the API's words (``validation_words``)."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInputError([Problem("form", None, problem_place(e) or None, validation_words(e)) for e in exc.errors()],
                                what=what) from None


# A customer's number as an agent types it (digits, spaces, dashes, dots, brackets, a leading +), and as the register
# keeps one; what is typed otherwise is said to be no number, in the words the audit search uses.
NUMBER_AS_TYPED = re.compile(r"[+\uff0b]?[\d\s().\-]+")
NUMBER_DIGITS = re.compile(r"\d{7,15}")
NOT_A_NUMBER = "not a subscriber number: write its digits, from the country code (8613800138000) or as dialled at home (13800138000)"
# The credit's fields as the resolve form names them: its reason is the form's note; what the form does not show is
# said in the form's summary only.
CREDIT_FIELDS = {"reason": "note", "complaint_id": "", "idempotency_key": "", "source": ""}


def field_problems(exc: InvalidInputError, lang: str, rename: dict[str, str] | None = None) -> dict[str, list[str]]:
    """A form's problems by the form's field (``rename``: the model's name of a field → the form's), each in the
    reader's language; those about no field of the form under ``""``."""
    out: dict[str, list[str]] = {}
    for p in exc.problems:
        field = (p.field or "").rsplit(".", 1)[-1]
        field = (rename or {}).get(field, field)
        out.setdefault(field, []).append(problem_text(p.message, lang))
    return out


# Evidence of a finding worth showing the agent deciding it: the offer, when it was charged, what the gate said.
FINDING_DETAILS = ("offer_id", "started_at", "charged_at", "verdict", "period", "policy", "subscription_id", "duplicate_of")


def name_in(catalog: Catalog, what: str, key: str | None, lang: str) -> str:
    """The catalog's name of a plan, offer, zone ... in the reader's language; the id when it has none."""
    name = catalog.name_of(what, key)
    return name.in_language(lang) if name is not None else (key or "")


def rule_name(catalog: Catalog, rule_id: str | None, lang: str) -> str:
    """What priced a line, as a subscriber reads it: the catalog's name of the rule, of the offer a value-added line's
    rule (``offer/<offer id>``) charges for, or of the plan a monthly fee's rule is; the id only when the catalog
    names none of them (ids are for staff)."""
    if not rule_id:
        return ""
    for what, key in (("rule", rule_id), ("offer", rule_id.removeprefix("offer/") if rule_id.startswith("offer/") else None),
                      ("plan", rule_id)):
        name = catalog.name_of(what, key) if key else None
        if name is not None:
            return name.in_language(lang)
    return rule_id


def why_for_subscriber(line: Any, catalog: Catalog, lang: str) -> str:
    """A usage line's “why this charge” without the rule's id the explanation names it by for staff and the API
    (``“Domestic calls” (basic-39/voice-domestic)`` reads ``“Domestic calls”``); a rule with no name of its own
    (a value-added line's) named as ``rule_name`` names it."""
    why = str(line.why.get(lang) or "")
    rule = line.rule_id
    if not rule:
        return why
    if catalog.name_of("rule", rule) is not None:
        return why.replace("”（" + rule + "）", "”").replace("” (" + rule + ")", "”")
    named = rule_name(catalog, rule, lang)
    if named == rule:
        return why
    return why.replace(f"规则 {rule}", f"规则“{named}”").replace(rule, f"“{named}”")


class Console:
    def __init__(self, services: Services, *, sessions: SessionPolicy | None = None) -> None:
        self.services = services
        self.sessions = sessions or SessionPolicy()
        tz = zone(services.settings.timezone)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(
            bar_chart=bar_chart, line_chart=line_chart, can=can, Permission=Permission, Role=Role,
            pairs=chart_pairs, quantity=quantity_in, score_percent=score_percent, fraud_word=fraud_word,
            bill_line_text=bill_line_text, name_in=name_in, rule_name=rule_name, why_for_subscriber=why_for_subscriber, day=day_on_clock, text_lang=text_lang, channel_words=CARE_WORDS,
            known_codes=CODES,
            local=lambda instant: instant.astimezone(tz) if instant.tzinfo is not None else instant.replace(tzinfo=UTC).astimezone(tz),
        )

    # --- request context -----------------------------------------------------------------------------
    def lang(self, request: Request) -> str:
        chosen = request.cookies.get(LANG_COOKIE)
        if chosen in LANGUAGES:
            return chosen
        accept = request.headers.get("accept-language", "")
        return "zh" if accept.lower().startswith("zh") else "en"

    def who(self, request: Request) -> Principal | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return self.services.principal_from_token(token)
        except FairtelError:
            return None

    def line_changed_hands(self, request: Request) -> bool:
        """Whether the session's cookie is refused because its login was made before its line's current activation
        (``line_changed_hands``): the login page then says why, rather than only asking to log in again."""
        token = request.cookies.get(COOKIE)
        if not token:
            return False
        try:
            self.services.principal_from_token(token)
        except LineChangedHandsError:
            return True
        except FairtelError:
            return False
        return False

    def csrf(self, request: Request) -> str:
        return self.services.signer.derive("csrf", request.cookies.get(COOKIE, ""))

    def check_csrf(self, request: Request, token: str) -> None:
        if not request.cookies.get(COOKIE) or from_elsewhere(request) or not _same(self.csrf(request), token or ""):
            raise PermissionDeniedError("the form has expired; reload the page and try again")

    def secure_cookies(self, request: Request) -> bool:
        return self.services.settings.environment is Env.PRODUCTION or self.over_tls(request)

    def over_tls(self, request: Request) -> bool:
        """The request came over HTTPS (directly, or through a trusted proxy that said so), or the settings say the
        console is only reached so: then, and never on plain HTTP, answers carry ``Strict-Transport-Security``."""
        return request.url.scheme == "https" or self.sessions.behind_tls

    # --- how long a session lasts --------------------------------------------------------------------
    def set_session(self, request: Request, response: Response, token: str) -> None:
        """The session's cookies: its token (for the token's lifetime) and when it was last used."""
        secure, life = self.secure_cookies(request), int(self.services.signer.ttl.total_seconds())
        response.set_cookie(COOKIE, token, max_age=life, httponly=True, samesite="strict", secure=secure)
        self.set_seen(request, response, token)

    def set_seen(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(SEEN_COOKIE, seen_value(self.services.signer.derive, token, self.sessions.clock()),
                            max_age=int(self.services.signer.ttl.total_seconds()), httponly=True, samesite="strict",
                            secure=self.secure_cookies(request))

    def end_cookies(self, request: Request, response: Response) -> None:
        for name in (COOKIE, SEEN_COOKIE):
            response.delete_cookie(name, httponly=True, samesite="strict", secure=self.secure_cookies(request))

    def idle(self, request: Request) -> bool:
        """The request's session has not been used for the idle timeout. False for a request that goes on: no
        session, one the pages refuse anyway (forged, expired), one in use, a login or a logout."""
        token = request.cookies.get(COOKIE)
        if not token or request.url.path in ("/login", "/logout"):
            return False
        try:
            claims = self.services.signer.verify(token)
        except FairtelError:
            return False
        seen = last_seen(self.services.signer.derive, token, request.cookies.get(SEEN_COOKIE))
        since = max(claims.issued_at, seen) if seen is not None else claims.issued_at
        return self.sessions.clock() - since >= self.sessions.idle

    def idle_ended(self, request: Request, posted: str = "") -> Response | None:
        """A session not used for the idle timeout ends here: its token is ended (as logging out ends it), its cookies
        are dropped and the browser goes to the login page, which says why and comes back to the page: the page
        asked for, or for a form posted, the page it was on (``posted``, its ``page`` field; else its same-site
        ``Referer``). None for a request that goes on (``idle``)."""
        if not self.idle(request):
            return None
        with suppress(FairtelError):
            self.services.revoke_token(request.cookies.get(COOKIE, ""))
        back = request.url.path if request.method in ("GET", "HEAD") else posted or posted_from(request)
        back = back if console_page(back) else ""
        target = "/login?ended=idle" + (f"&next={quote(back)}" if back and back != "/" else "")
        response = RedirectResponse(target, status_code=303)
        self.end_cookies(request, response)
        return response

    def keep_alive(self, request: Request, response: Response) -> None:
        """A request of a session in use moves its last use to now, unless the answer sets the session's cookies itself
        (a login, a logout)."""
        token = request.cookies.get(COOKIE)
        if not token or request.url.path in ("/login", "/logout"):
            return
        if any(v.startswith((f"{COOKIE}=", f"{SEEN_COOKIE}=")) for v in response.headers.getlist("set-cookie")):
            return
        try:
            self.services.signer.verify(token)
        except FairtelError:
            return
        self.set_seen(request, response, token)

    def render(self, request: Request, template: str, *, status_code: int = 200, **data: Any) -> HTMLResponse:
        lang = self.lang(request)
        who = data.pop("who", None) or self.who(request)
        context: dict[str, Any] = dict(
            t=lambda key: care_word(key, lang) or translate(key, lang), kind_text=lambda k: line_kind(k, lang),
            code=lambda c: code_text(c, lang), action_text=lambda a: action_text(a, lang),
            resource_text=lambda r: resource_text(r, lang), reason_text=lambda r: reason_text(r, lang), note=lambda n: note_text(n, lang), region=lambda x: region_text(x, lang),
            error_text=lambda e: self.error_words(request, e, lang), category_label=lambda c: category_label(c, lang),
            error_title=lambda e: error_title(getattr(e, "code", None), lang),
            resolution=lambda r: resolution_text(r, lang), problem_field=lambda f: problem_field(f, lang),
            problem_text=lambda m: problem_text(m, lang), lang=lang, who=who, path=request.url.path, here=here_of(request),
            csrf=self.csrf(request), back="/",
            msg=flash_key(request.query_params.get("msg")),
        )
        context.update(data)  # a form's page shown again names its own page (``here``, ``path``) and way back
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code)

    @staticmethod
    def error_words(request: Request, error: Any, lang: str) -> str:
        """The sentence under an error's code. A page refused to a reader (a GET) is not a form that expired."""
        if request.method == "GET" and error.code == "permission_denied":
            roles = error_details(error).get("roles")  # the API's words for who may: one source
            if isinstance(roles, list) and roles:
                who_may = roles_words(CHINESE if lang == "zh" else ENGLISH, roles)
                return f"{care_word('page_for', lang)}{who_may}" + ("" if lang == "zh" else ".")
            return care_word("page_denied", lang) or ""
        if isinstance(error, InvalidInputError):  # its message counts problems ("form: 1 problem"): the list says them
            return translate("input_invalid_intro", lang)
        return error_text(error.code, error.message, lang)

    def page(self, request: Request, build: Callable[[Any, Principal], HTMLResponse | Response], *,
             again: Callable[[Any, Principal, Any], HTMLResponse] | None = None,
             again_on: tuple[type[FairtelError], ...] = (InvalidInputError,)) -> Response:
        """Run ``build(access, principal)`` for a logged-in user; errors become a page with the right status. A
        form's input refused (``InvalidInputError``, or another of ``again_on``) with ``again`` given shows the
        form's page again, as ``again(access, principal, error)`` makes it in a request of its own (what was refused
        is not kept), with the problems beside the form and the error's status (a wait refused, with its
        ``Retry-After``)."""
        who = self.who(request)
        if who is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        key = f"user:{who.username}"
        counts = in_flight(self.services)  # the API's cap on requests under way per login, shared with it
        try:
            self.services.limiter.check(key)
            counts.enter(key)
            try:
                try:
                    with self.services.access(who, request_id=getattr(request.state, "request_id", None)) as acc:
                        acc.resource_hint = self._resource(request)
                        return build(acc, who)
                except FairtelError as exc:
                    if again is None or not isinstance(exc, again_on):
                        raise
                    with self.services.access(who, request_id=getattr(request.state, "request_id", None)) as acc:
                        acc.resource_hint = self._resource(request)
                        shown = again(acc, who, exc)
                    shown.status_code = status_for(exc.code)
                    if isinstance(exc, RateLimitedError):
                        shown.headers["Retry-After"] = str(max(1, int(exc.details.get("retry_after_s", 1))))
                    return shown
            finally:
                counts.leave(key)
        except RateLimitedError as exc:
            return self.limited(request, exc, "error.html", who=who, error=exc)
        except FairtelError as exc:
            return self.render(request, "error.html", status_code=status_for(exc.code), who=who, error=exc)

    @staticmethod
    def _resource(request: Request) -> str:
        route = request.scope.get("route")
        return f"{request.method} {getattr(route, 'path', '?')}"  # the template, as the API records it

    def limited(self, request: Request, exc: RateLimitedError, template: str, **data: Any) -> HTMLResponse:
        """``template`` answered 429 with ``Retry-After``, as the API answers, and the wait in words (``limited``)."""
        wait = max(1, int(exc.details.get("retry_after_s", 1)))
        data.setdefault("who", None)
        resp = self.render(request, template, status_code=429, limited=wait, **data)
        resp.headers["Retry-After"] = str(wait)
        return resp

    def action(self, request: Request, csrf: str, build: Callable[[Any, Principal], str], *,
               again: Callable[[Any, Principal, Any], HTMLResponse] | None = None,
               again_on: tuple[type[FairtelError], ...] = (InvalidInputError,)) -> Response:
        """A form post: check its token, do it, then redirect (``build`` returns where to). Its input refused:
        the form's page again with the problems (``again``, as ``page`` takes it), else the error page."""

        def run(acc: Any, who: Principal) -> Response:
            self.check_csrf(request, csrf)
            return RedirectResponse(build(acc, who), status_code=303)

        return self.page(request, run, again=again, again_on=again_on)


def _routes(c: Console) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    svc = c.services

    @r.get("/")
    def index(request: Request) -> Response:
        who = c.who(request)
        return RedirectResponse(HOME_OF[who.role] if who else "/login", status_code=303)

    @r.get("/lang/{lang}")
    def set_lang(request: Request, lang: str) -> Response:
        back = request.query_params.get("next") or "/"
        resp = RedirectResponse(back if same_site(back) else "/", status_code=303)
        if lang in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", secure=c.secure_cookies(request))
        return resp

    @r.get("/login")
    def login_form(request: Request) -> Response:
        # ``ended=idle``: the session ended for want of use (``Console.idle_ended``): said, with how long that is
        idle = int(c.sessions.idle.total_seconds() // 60) if request.query_params.get("ended") == "idle" else None
        return c.render(request, "login.html", next=request.query_params.get("next", ""), failed=False, who=None,
                        changed=c.line_changed_hands(request), idle=idle)

    @r.post("/login")
    def login(request: Request, username: str = Form(..., max_length=64), password: str = Form(..., max_length=256), next: str = Form("")) -> Response:
        if from_elsewhere(request):
            return c.render(request, "error.html", status_code=403, who=None, error=PermissionDeniedError("log in from the console's own page"))
        try:
            # the attempt is in the access audit whatever its outcome, never the password
            who = svc.logins.log_in(svc.check_login, client=request.client.host if request.client else "?",
                                    username=username, password=password, resource="POST /login",
                                    request_id=getattr(request.state, "request_id", None))
        except RateLimitedError as exc:  # no password was checked: "wrong password" would send them guessing again
            return c.limited(request, exc, "login.html", next=next, failed=False, username=username)
        except LineChangedHandsError as exc:  # the password was right: the login no longer opens the line
            return c.render(request, "login.html", status_code=status_for(exc.code), next=next, failed=False, changed=True,
                            who=None, username=username)
        except FairtelError:  # the username as typed comes back, to correct; never the password
            return c.render(request, "login.html", status_code=401, next=next, failed=True, who=None, username=username)
        target = next if same_site(next) else HOME_OF[who.role]
        resp = RedirectResponse(target, status_code=303)
        # a console session's token: held to the idle timeout wherever it is sent, the API included
        c.set_session(request, resp, svc.signer.issue(who, session=CONSOLE_SESSION))
        return resp

    @r.post("/logout")
    def logout(request: Request) -> Response:
        if from_elsewhere(request):
            return c.render(request, "error.html", status_code=403, error=PermissionDeniedError("log out from the console's own page"))
        token = request.cookies.get(COOKIE)
        if token:  # the token itself is ended, not only the browser's copy of it (a forged or expired one needs nothing)
            with suppress(FairtelError):
                svc.revoke_token(token)
        resp = RedirectResponse("/login", status_code=303)
        c.end_cookies(request, resp)
        return resp

    # --- staff ---------------------------------------------------------------------------------------
    @r.get("/dashboard")
    def dashboard(request: Request) -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "dashboard.html", k=ops.kpis(acc, svc.app.lake, tz=svc.settings.timezone, currency=svc.settings.currency)))

    @r.get("/findings")
    def findings(request: Request, status: str | None = "open") -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "findings.html", page=ops.list_findings(acc, status=status or None, limit=200),
                                                        status=status or "", details=FINDING_DETAILS, catalog=svc.catalog(),
                                                        handling=set(acc.assignments()) if acc.role is Role.AGENT else set()))

    @r.post("/findings/{finding_id}/refund")
    def refund(request: Request, finding_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        return c.action(request, csrf, lambda acc, _w: f"/findings?msg={_REFUND_MESSAGES[ops.refund_finding(acc, finding_id, reason=reason or None).outcome]}")

    @r.post("/findings/{finding_id}/dismiss")
    def dismiss(request: Request, finding_id: str, csrf: str = Form(""), reason: str = Form("")) -> Response:
        return c.action(request, csrf, lambda acc, _w: (ops.dismiss_finding(acc, finding_id, reason=reason), "/findings?msg=dismissed_ok")[1])

    def desk_page(request: Request, acc: Any, **shown: Any) -> HTMLResponse:
        """The complaint desk; ``shown``: a form of it refused, shown again (``form``: ``new`` or the complaint's id,
        ``entered``: what was typed, ``problems``: each field's messages), at the desk's own address."""
        page = ops.list_complaints(acc, limit=200)
        mine = ops.my_assignments(acc) if acc.role is Role.AGENT else []
        handling = set(acc.assignments()) if acc.role is Role.AGENT else set()
        # the bills a credit may go against, of each customer handled with a complaint still to resolve
        owed = sorted({x.msisdn for x in page.items if x.msisdn in handling and x.lifecycle not in _cases.SETTLED})
        bills = {m: ops.list_bills(acc, m, limit=6).items for m in owed}
        held = {a.reference_id for a in mine if a.reference_kind == "complaint"}  # the complaints the agent holds
        if shown:
            shown.update(here="/desk", path="/desk")
        return c.render(request, "desk.html", page=page, assignments=mine, handling=handling, held=held, bills=bills,
                        credit_key=new_id("crd"), channels=COMPLAINT_CHANNELS, categories=[k.value for k in ComplaintCategory],
                        **shown)

    @r.get("/desk")
    def desk(request: Request) -> Response:
        return c.page(request, lambda acc, _w: desk_page(request, acc))

    @r.post("/desk/new")
    def file_for_caller(request: Request, csrf: str = Form(""), msisdn: str = Form("", max_length=32), category: str = Form("", max_length=48),
                        text: str = Form("", max_length=4000), channel: str = Form("phone", max_length=16)) -> Response:
        """An agent records a caller's complaint (phone, store, an appeal the regulator transferred): as ``POST
        /complaints`` does, it opens the customer to them. The number is read as dialled at home (``13415320161``)."""

        def build(acc: Any, _w: Principal) -> str:
            digits = "".join(ch for ch in msisdn if ch.isdigit())
            number = e164_of(digits, home_country=svc.settings.home_country) if digits else ""
            if msisdn.strip() and (not NUMBER_AS_TYPED.fullmatch(msisdn.strip()) or not NUMBER_DIGITS.fullmatch(number)):
                # typed, but not a number: said so (not "required")
                raise InvalidInputError([Problem("form", None, "msisdn", NOT_A_NUMBER)], what="complaint")
            body = form_model(_cases.NewComplaint, "complaint", msisdn=number or None, category=category, text=text, channel=channel)
            _cases.file_complaint(acc, body)
            return f"/customers/{quote(number)}?msg=filed_ok"

        def again(acc: Any, _w: Principal, exc: InvalidInputError) -> HTMLResponse:  # the form again, as typed
            return desk_page(request, acc, form="new", problems=field_problems(exc, c.lang(request)),
                             entered={"msisdn": msisdn, "category": category, "text": text, "channel": channel})

        return c.action(request, csrf, build, again=again)

    @r.post("/assignments/{assignment_id}/release")
    def release(request: Request, assignment_id: str, csrf: str = Form("")) -> Response:
        def build(acc: Any, _w: Principal) -> str:
            _cases.release_assignment(acc, assignment_id)
            return "/desk?msg=released_ok"

        return c.action(request, csrf, build)

    @r.post("/desk/{complaint_id}/take")
    def take(request: Request, complaint_id: str, csrf: str = Form("")) -> Response:
        def build(acc: Any, _w: Principal) -> str:
            taken = ops.take_complaint(acc, complaint_id)  # the id as the desk showed it (masked when it holds a number)
            return f"/customers/{quote(taken.msisdn)}"

        return c.action(request, csrf, build)

    @r.post("/desk/{complaint_id}/resolve")
    def resolve(request: Request, complaint_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000),
                amount: str = Form("", max_length=20), bill_id: str = Form("", max_length=64), record_id: str = Form("", max_length=255),
                refund: str = Form("", max_length=40), key: str = Form("", max_length=64)) -> Response:
        """Resolve with a note; with an amount, first credit it against the chosen bill (or a record it charged) for
        the next bill, the note its reason, and settle the complaint with that credit (``POST /bills/{id}/credits``:
        the form's key posts it once however often it is sent); or settle it with an adjustment posted before."""

        def build(acc: Any, _w: Principal) -> str:
            link, done = refund.strip() or None, "resolved_ok"
            if money_typed(amount):
                if not bill_id:
                    raise InvalidInputError([Problem("form", None, "bill_id", "choose the bill the credit goes against")], what="credit")
                body = form_model(_cases.NewCredit, "credit", amount=money_typed(amount), reason=note, record_id=record_id.strip() or None,
                                  complaint_id=complaint_id, idempotency_key=key or None)
                link, done = _cases.post_credit(acc, bill_id, body).adjustment.adjustment_id, "credited_ok"
            ops.resolve_complaint(acc, complaint_id, note=note or None, refund=link)
            return f"/desk?msg={done}"

        def again(acc: Any, _w: Principal, exc: InvalidInputError) -> HTMLResponse:  # the complaint's form again, as typed
            return desk_page(request, acc, form=complaint_id, problems=field_problems(exc, c.lang(request), CREDIT_FIELDS),
                             entered={"note": note, "amount": amount, "bill_id": bill_id, "record_id": record_id, "refund": refund})

        return c.action(request, csrf, build, again=again)

    @r.post("/desk/{complaint_id}/close")
    def close(request: Request, complaint_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        return c.action(request, csrf, lambda acc, _w: (ops.close_complaint(acc, complaint_id, note=note or None), "/desk?msg=closed_ok")[1])

    @r.post("/desk/{complaint_id}/reopen")
    def reopen(request: Request, complaint_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        return c.action(request, csrf, lambda acc, _w: (ops.reopen_complaint(acc, complaint_id, note=note or None), "/desk?msg=reopened_ok")[1])

    @r.get("/tickets")
    def tickets(request: Request, status: str | None = None) -> Response:
        def build(acc: Any, _w: Principal) -> Response:
            everything = status == "all"
            page = _tickets.list_tickets(acc, unsettled=not everything, limit=200)
            return c.render(request, "tickets.html", page=page, everything=everything,
                            handling=set(acc.assignments()) if acc.role is Role.AGENT else set())

        return c.page(request, build)

    @r.get("/tickets/{ticket_id}")
    def ticket(request: Request, ticket_id: str) -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "ticket.html", tx=_tickets.ticket_transcript(acc, ticket_id)))

    @r.post("/tickets/{ticket_id}/take")
    def take_ticket(request: Request, ticket_id: str, csrf: str = Form("")) -> Response:
        return c.action(request, csrf, lambda acc, _w: (_tickets.take_ticket(acc, ticket_id), f"/tickets/{quote(ticket_id)}")[1])

    @r.post("/tickets/{ticket_id}/resolve")
    def resolve_ticket(request: Request, ticket_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        return c.action(request, csrf, lambda acc, _w: (_tickets.resolve_ticket(acc, ticket_id, note=note or None), "/tickets?msg=ticket_resolved_ok")[1])

    @r.post("/tickets/{ticket_id}/note")
    def note_ticket(request: Request, ticket_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        return c.action(request, csrf, lambda acc, _w: (_tickets.note_ticket(acc, ticket_id, note), f"/tickets/{quote(ticket_id)}")[1])

    @r.post("/tickets/{ticket_id}/close")
    def close_ticket(request: Request, ticket_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        return c.action(request, csrf, lambda acc, _w: (_tickets.close_ticket(acc, ticket_id, note=note or None), "/tickets?msg=ticket_closed_ok")[1])

    @r.get("/customers/{msisdn}")
    def customer(request: Request, msisdn: str, period: str | None = None, cursor: str | None = None) -> Response:
        def build(acc: Any, _w: Principal) -> Response:
            sub = ops.get_subscriber(acc, msisdn)
            catalog = svc.catalog()
            usage = ops.usage_lines(acc, svc.app.lake, msisdn, period=period, limit=USAGE_PAGE, cursor=cursor, catalog=catalog)
            base = f"/customers/{quote(msisdn)}?period={quote(usage.period)}"
            mine = _cases.assignments_on(acc, msisdn)
            return c.render(
                request, "customer.html", sub=sub, raw=msisdn, why=acc.assignments().get(msisdn), catalog=catalog, mine=mine,
                bills=ops.list_bills(acc, msisdn), usage=usage, paging=usage_paging(usage, svc.app.lake, msisdn, cursor, base),
                subs=ops.subscriptions(acc, catalog, msisdn), marketing=_marketing.marketing_preference(acc, msisdn),
            )

        return c.page(request, build)

    @r.post("/customers/{msisdn}/marketing")
    def set_customer_marketing(request: Request, msisdn: str, csrf: str = Form(""), opted_out: str = Form(..., pattern="^(0|1)$"),
                               channel: str = Form("phone", pattern="^(" + "|".join(_marketing.AGENT_CHANNELS) + ")$")) -> Response:
        """An agent handling the customer records the customer's say on marketing for them (how they said it)."""
        def run(acc: Any, _w: Principal) -> str:
            said = _marketing.MarketingIn(opted_out=opted_out == "1", channel="web" if acc.role is Role.SUBSCRIBER else channel)
            _marketing.set_marketing_preference(acc, msisdn, said)
            return f"/customers/{quote(msisdn)}?msg=saved_ok"

        return c.action(request, csrf, run)

    @r.post("/subscriptions/{subscription_id}/cancel")
    def cancel(request: Request, subscription_id: str, csrf: str = Form(""), back: str = Form("/")) -> Response:
        target = back if same_site(back) else "/"
        # an order never confirmed is cancelled, not unsubscribed: said so
        return c.action(request, csrf, lambda acc, _w: f"{target}?msg="
                        + ("cancelled_ok" if ops.cancel(acc, svc.catalog(), subscription_id).confirmed_at else "order_cancelled_ok"))

    @r.get("/retention")
    def retention(request: Request) -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "retention.html", page=ops.retention_list(acc, svc.app.lake, limit=200)))

    @r.get("/fraud")
    def fraud(request: Request, period: str | None = None) -> Response:
        """The queue; ``period`` (``YYYY-MM``) shows one period's cases."""
        chosen = (period or "").strip() or None

        def build(acc: Any, _w: Principal) -> Response:
            try:
                page = ops.list_fraud_cases(acc, period=chosen, limit=200)
            except InvalidInputError:  # a period not written YYYY-MM: said beside the filter, which keeps what was typed
                return c.render(request, "fraud.html", status_code=422, page=Page(items=[], next_cursor=None),
                                period=chosen or "", bad_period=True)
            return c.render(request, "fraud.html", page=page, period=chosen or "", bad_period=False)

        return c.page(request, build)

    @r.post("/fraud/{case_id}/decide")
    def decide(request: Request, case_id: str, csrf: str = Form(""), status: str = Form(...), note: str = Form(""),
               suspend: str = Form("")) -> Response:
        """A decision with the analyst's note; "suspend the line" counts only with a confirmation (the form shows it
        for SIM-box and scam cases, whose line is the instrument of the fraud)."""
        if status not in ("confirmed", "false_alarm"):
            status = "invalid"
        wanted = bool(suspend) and status == "confirmed"

        def run(acc: Any, _w: Principal) -> str:
            if len(note) > FRAUD_NOTE_MAX:
                raise InvalidInputError([Problem("form", None, "note", f"longer than {FRAUD_NOTE_MAX} characters")], what="decision")
            out = ops.decide_fraud_case(acc, case_id, status, note=note.strip() or None, suspend=wanted)
            if not wanted:
                return "/fraud?msg=decided_ok"
            return "/fraud?msg=" + ("decided_suspended_ok" if out.line == "suspended" else "decided_not_suspended_ok")

        return c.action(request, csrf, run)

    @r.get("/audit")
    def audit(request: Request, actor: str | None = None, msisdn: str | None = None, action: str | None = None,
              since: str | None = None, until: str | None = None) -> Response:
        q = {"actor": actor or "", "msisdn": msisdn or "", "action": action or "", "since": since or "", "until": until or ""}

        def build(acc: Any, _w: Principal) -> Response:
            acc.require(Permission.AUDIT_READ)
            tz = zone(svc.settings.timezone)
            problems: list[Problem] = []
            first, last = day_in(since, "since", tz, problems), day_in(until, "until", tz, problems, after=True)
            if problems:
                raise InvalidInputError(problems, what="audit search")
            page = ops.search_audit(acc, actor=actor or None, msisdn=msisdn or None, action=action or None, since=first, until=last,
                                    limit=200)
            return c.render(request, "audit.html", page=page, q=q)

        def again(acc: Any, _w: Principal, exc: InvalidInputError) -> HTMLResponse:
            acc.require(Permission.AUDIT_READ)
            return c.render(request, "audit.html", page=None, q=q, problems=exc)

        return c.page(request, build, again=again)

    # --- subscribers -------------------------------------------------------------------------------------
    @r.get("/my/bill")
    def my_bill(request: Request, period: str | None = None, cursor: str | None = None) -> Response:
        def build(acc: Any, _w: Principal) -> Response:
            me = acc.own_msisdn()
            bills = ops.list_bills(acc, me)
            key = period or (bills.items[0].period if bills.items else None)
            bill = next((b for b in bills.items if b.period == key), None)
            full = ops.bill_for_period(acc, me, key) if bill is not None and key else None
            catalog = svc.catalog()
            usage = ops.usage_lines(acc, svc.app.lake, me, period=key, limit=USAGE_PAGE, cursor=cursor, catalog=catalog)
            paging = usage_paging(usage, svc.app.lake, me, cursor, f"/my/bill?period={quote(usage.period)}")
            # a month with no bill is not billed yet only after the latest bill and not after this month on the operator's
            # clock; one before the latest bill (or a month to come) has none
            shown, now = key or usage.period or "", day_on_clock(acc.now, catalog)[:7]
            unbilled = bill is None and (not bills.items or shown > bills.items[0].period) and shown <= now
            return c.render(request, "my_bill.html", bills=bills, bill=full, usage=usage, paging=paging, period=key or usage.period,
                            catalog=catalog, unbilled=unbilled)

        return c.page(request, build)

    @r.get("/my/complaints")
    def my_complaints(request: Request) -> Response:
        """The subscriber's complaints, newest first, each with where it stands and, once settled, the outcome as the API
        lets them see it: when, whether a credit settled it, and what the agent wrote on settling it (the history's
        note); a resolved one may be reopened."""

        def build(acc: Any, _w: Principal) -> Response:
            page = ops.list_complaints(acc, limit=MY_CASES)
            return c.render(request, "my_complaints.html", page=page,
                            outcomes={x.complaint_id: settled_note(ops.complaint_history(acc, x.complaint_id))
                                      for x in page.items if x.lifecycle in _cases.SETTLED})

        return c.page(request, build)

    @r.post("/my/complaints/{complaint_id}/reopen")
    def my_reopen(request: Request, complaint_id: str, csrf: str = Form(""), note: str = Form("", max_length=2000)) -> Response:
        # the subscriber's own page: staff reopen from the desk (``own_msisdn`` refuses every other login)
        return c.action(request, csrf, lambda acc, _w: (acc.own_msisdn(),
                                                        ops.reopen_complaint(acc, complaint_id, note=note.strip() or None),
                                                        "/my/complaints?msg=reopened_mine_ok")[2])

    @r.get("/my/tickets")
    def my_tickets(request: Request) -> Response:
        """The subscriber's fault reports, newest first, whatever their state (a fixed fault stays listed, as fixed)."""
        return c.page(request, lambda acc, _w: c.render(request, "my_tickets.html", page=_tickets.list_tickets(acc, kind="fault", limit=MY_CASES)))

    @r.get("/my/subscriptions")
    def my_subscriptions(request: Request) -> Response:
        def build(acc: Any, _w: Principal) -> Response:
            catalog = svc.catalog()
            return c.render(request, "my_subscriptions.html", subs=ops.subscriptions(acc, catalog, acc.own_msisdn()), offers=ops.offers(catalog, acc.conn),
                            marketing=_marketing.marketing_preference(acc, acc.own_msisdn()))

        return c.page(request, build)

    @r.post("/my/marketing")
    def set_my_marketing(request: Request, csrf: str = Form(""), opted_out: str = Form(..., pattern="^(0|1)$")) -> Response:
        """The subscriber refuses (1) or accepts again (0) marketing based on automated profiling."""
        body = _marketing.MarketingIn(opted_out=opted_out == "1", channel="web")
        return c.action(request, csrf, lambda acc, _w: (_marketing.set_marketing_preference(acc, acc.own_msisdn(), body),
                                                        "/my/subscriptions?msg=saved_ok")[1])

    @r.post("/my/subscriptions")
    def my_order(request: Request, csrf: str = Form(""), offer_id: str = Form(...)) -> Response:
        def run(acc: Any, _w: Principal) -> str:
            try:
                ops.order(acc, svc.catalog(), offer_id)
            except AlreadySubscribedError:  # said on the same page, not as an error
                return "/my/subscriptions?msg=already_subscribed_ok"
            return "/my/subscriptions?msg=ordered_ok"

        return c.action(request, csrf, run)

    def subscriptions_again(request: Request, acc: Any, subscription_id: str, exc: FairtelError) -> HTMLResponse:
        """The subscriptions page again after the second step of an order was refused, what is wrong said on that
        order's step: a code refused beside the code (an alert), a new code asked too soon as the wait (a status)."""
        lang = c.lang(request)
        if isinstance(exc, RateLimitedError):
            wait = str(max(1, int(exc.details.get("retry_after_s", 1))))
            said = {"id": subscription_id, "kind": "status", "text": translate("code_wait", lang).replace("{s}", wait)}
        elif isinstance(exc, InvalidInputError):
            said = {"id": subscription_id, "kind": "alert", "text": " ".join(problem_text(p.message, lang) for p in exc.problems)}
        else:  # a code expired or spent, no new code any more: said in words, the error's own where none are known
            reason = str(exc.details.get("reason", ""))
            text = translate(reason, lang) if reason in CODE_REFUSALS else error_text(exc.code, exc.message, lang)
            said = {"id": subscription_id, "kind": "alert", "text": text}
        catalog = svc.catalog()
        return c.render(request, "my_subscriptions.html", subs=ops.subscriptions(acc, catalog, acc.own_msisdn()), offers=ops.offers(catalog, acc.conn),
                        marketing=_marketing.marketing_preference(acc, acc.own_msisdn()), step_said=said,
                        here="/my/subscriptions", path="/my/subscriptions")

    @r.post("/my/subscriptions/{subscription_id}/confirm")
    def my_confirm(request: Request, subscription_id: str, csrf: str = Form(""), code: str | None = Form(None, max_length=16)) -> Response:
        # the second step: the one-time code the order sent to the phone, required when it sent one; refused, the
        # step again with what is wrong beside the code
        return c.action(request, csrf, lambda acc, _w: (ops.confirm(acc, svc.catalog(), subscription_id, code=code or None, require_code=True),
                                                        "/my/subscriptions?msg=confirmed_ok")[1],
                        again=lambda acc, _w, exc: subscriptions_again(request, acc, subscription_id, exc),
                        again_on=(InvalidInputError, ConflictError))

    @r.post("/my/subscriptions/{subscription_id}/resend-code")
    def my_resend_code(request: Request, subscription_id: str, csrf: str = Form("")) -> Response:
        # a new one-time code by SMS (the previous one stops working); too soon after the last one is a 429 with the
        # wait, said on the order's step
        return c.action(request, csrf, lambda acc, _w: (ops.resend_code(acc, svc.catalog(), subscription_id),
                                                        "/my/subscriptions?msg=code_resent_ok")[1],
                        again=lambda acc, _w, exc: subscriptions_again(request, acc, subscription_id, exc),
                        again_on=(RateLimitedError, ConflictError))

    def cap_currency() -> tuple[str, str | None]:
        """The currency a roaming cap is set in, as the API's ``PUT /me/roaming-cap`` takes it: the catalog's, the one
        roaming is charged in (the settings' default only with no catalog stored); and the catalog's, which a cap is
        held to."""
        catalog = svc.stored_catalog()
        in_catalog = catalog.operator.currency if catalog is not None else None
        return in_catalog or svc.settings.currency, in_catalog

    @r.get("/my/roaming")
    def my_roaming(request: Request) -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "my_roaming.html", cap=ops.roaming_cap(acc, acc.own_msisdn()), currency=cap_currency()[0]))

    @r.post("/my/roaming")
    def set_roaming(request: Request, csrf: str = Form(""), amount: str = Form("", max_length=32),
                    remove: str = Form("", max_length=8)) -> Response:
        """Set the cap to the amount typed; remove it only by its own button (``remove``). An empty amount (a field
        left empty, or one a browser could not read and sent empty) is a problem at the form, never a removal."""

        def again(acc: Any, _w: Principal, exc: InvalidInputError) -> HTMLResponse:  # the amount as entered, and what is wrong with it
            return c.render(request, "my_roaming.html", cap=ops.roaming_cap(acc, acc.own_msisdn()), currency=cap_currency()[0],
                            entered=amount, problems=exc)

        def run(acc: Any, _w: Principal) -> str:
            currency, in_catalog = cap_currency()
            if remove:
                ops.set_roaming_cap(acc, acc.own_msisdn(), None, currency, catalog_currency=in_catalog)
                return "/my/roaming?msg=cap_removed_ok"
            typed = money_typed(amount)
            if not typed:
                raise InvalidInputError([Problem("form", None, "amount", EMPTY_CAP)], what="roaming cap")
            ops.set_roaming_cap(acc, acc.own_msisdn(), typed, currency, catalog_currency=in_catalog)
            return "/my/roaming?msg=saved_ok"

        return c.action(request, csrf, run, again=again)

    @r.get("/my/assistant")
    def my_assistant(request: Request) -> Response:
        return c.page(request, lambda acc, _w: c.render(request, "my_assistant.html", available=svc.assistant is not None, reply=None, asked=None))

    @r.post("/my/assistant")
    def ask(request: Request, csrf: str = Form(""), message: str = Form(..., max_length=2000)) -> Response:
        def build(acc: Any, _w: Principal) -> Response:
            c.check_csrf(request, csrf)
            # the page's language is the console's, not the conversation's: the assistant answers a message in
            # the language it is written in (a Chinese question in Chinese on the English console)
            out = ops.chat(acc, svc.assistant, message)
            return c.render(request, "my_assistant.html", available=True, reply=out, asked=message)

        return c.page(request, build)

    return r


def create_console(
    settings: Settings,
    *,
    options: ApiOptions | None = None,
    assistant: Assistant | None = None,
    app: App | None = None,
    progress: Callable[[str], None] | None = None,
    sessions: SessionPolicy | None = None,
) -> FastAPI:
    """The REST API (``/api/v1``) and the console (``/``) in one application: what ``fairtel serve`` runs.
    ``progress`` is told each slow step as it begins (``create_app``); ``sessions``: the console's idle timeout and
    whether it is behind TLS (default: the settings', ``SessionPolicy.from_settings``)."""
    api = create_app(settings, options=options, assistant=assistant, app=app, progress=progress)
    console = Console(api.state.services, sessions=sessions or SessionPolicy.from_settings(settings))
    api.state.console_sessions = console.sessions  # the API holds a console session's token to the same timeout
    api.include_router(_routes(console))
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _console_errors(api, console)
    _console_sessions(api, console)
    return api


def _console_sessions(api: FastAPI, console: Console) -> None:
    """Every console request: a session idle too long ends before its page runs, one in use is kept alive; every
    answer over HTTPS (or behind TLS, as the settings say) carries ``Strict-Transport-Security``."""

    @api.middleware("http")
    async def sessions(request: Request, call_next: Callable[[Request], Any]) -> Response:
        console_path = not request.url.path.startswith(("/api/", "/static/")) and request.url.path != "/api"
        posted = ""
        if console_path and request.method not in ("GET", "HEAD") and await run_in_threadpool(console.idle, request):
            posted = await posted_page(request)  # read only when the post goes no further: its page, to come back to
        ended = await run_in_threadpool(console.idle_ended, request, posted) if console_path else None
        response: Response = ended if ended is not None else await call_next(request)
        if console_path and ended is None:
            console.keep_alive(request, response)
        if console.over_tls(request):
            response.headers["Strict-Transport-Security"] = HSTS
        return response


class NoSuchPage(FairtelError):
    """A console URL with no page: what its error page (404) says."""

    code = "page_not_found"


class NotAPage(FairtelError):
    """A console URL only a form posts to, opened as a page: what its error page (405) says."""

    code = "method_not_allowed"


def _console_errors(api: FastAPI, console: Console) -> None:
    """A browser asking for a console URL that has no page (404), or opening one only a form posts to (405), gets the
    console's error page in the reader's language, with its header and a way back; the API's paths, and a client
    that does not ask for HTML, keep the API's JSON error."""
    answer = api.exception_handlers[StarletteHTTPException]

    async def page_or_json(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not _console_asked(request) or exc.status_code not in (404, 405):
            result = answer(request, exc)
            return await result if inspect.isawaitable(result) else result
        error = (NoSuchPage("There is no such page in the console: choose one from the menu.") if exc.status_code == 404
                 else NotAPage("This address is not a page: it takes a form's button. Go back and use the page's buttons."))
        page = await run_in_threadpool(console.render, request, "error.html", status_code=exc.status_code, error=error)
        if exc.headers:  # a 405's Allow
            page.headers.update(exc.headers)
        return page

    api.exception_handlers[StarletteHTTPException] = page_or_json
    checked = api.exception_handlers[RequestValidationError]

    async def problems_page_or_json(request: Request, exc: Exception) -> Response:
        """A console form (or a page's query) whose fields the route refuses before it runs: the error page, with
        each problem beside its field in the reader's language, as a form's input refused later is shown."""
        assert isinstance(exc, RequestValidationError)
        if not _console_asked(request):
            result = checked(request, exc)
            return await result if inspect.isawaitable(result) else result
        error = InvalidInputError([
            Problem("form", None, problem_place(e) or None, validation_words(e)) for e in exc.errors()
        ], what="the form")
        return await run_in_threadpool(console.render, request, "error.html", status_code=422, error=error)

    api.exception_handlers[RequestValidationError] = problems_page_or_json


def _console_asked(request: Request) -> bool:
    """A browser (a client asking for HTML) at a console URL: neither the API's paths nor the static files."""
    path = request.url.path
    return ("text/html" in request.headers.get("accept", "").lower()
            and not path.startswith(("/api/", "/static/")) and path != "/api")
