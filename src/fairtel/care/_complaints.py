"""Complaints: categories, the lifecycle (opened → acknowledged → resolved → closed, and reopened), SLA
timers with escalation.

A reopening starts a new term: the complaint must be acknowledged and resolved again, by a deadline counted
from the reopening (recorded on the ``reopened`` event), while the terms before it keep their own deadlines
and outcomes (:meth:`Complaint.terms`).

A complaint's history is a list of events (append-only); its status is the last one. The store keeps the
lifecycle status and the history, and beside them the coarse status (open, in_progress, closed) that
readers predating the lifecycle use: :func:`store_status` maps a lifecycle status to it, and
:func:`status_from_store` reads a coarse status changed by such a reader back into the lifecycle.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from fairtel.care._dialog_words import complaint_category
from fairtel.core.contracts import ComplaintCategory
from fairtel.core.errors import ConflictError, InvalidInputError, Problem
from fairtel.core.time import require_aware
from fairtel.privacy import e164_of, mask_identity_data, replace_numbers, replace_numbers_in_words

if TYPE_CHECKING:
    from fairtel.core.settings import SlaHours


class ComplaintStatus(StrEnum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


_NEXT: Mapping[ComplaintStatus, frozenset[ComplaintStatus]] = MappingProxyType({
    ComplaintStatus.OPENED: frozenset({ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}),
    ComplaintStatus.ACKNOWLEDGED: frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED, ComplaintStatus.REOPENED}),
    ComplaintStatus.CLOSED: frozenset({ComplaintStatus.REOPENED}),
    ComplaintStatus.REOPENED: frozenset({ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}),
})

# The regulator's categories besides the operator's own: 国际漫游, charges and service abroad; 恶意扣费, charges a
# malicious app or program made by itself (手机吸费), as against 不明扣费 (``unexplained_charge``), a charge
# the subscriber does not recognise or never knowingly ordered.
ROAMING = ComplaintCategory.ROAMING.value
MALICIOUS_CHARGE = ComplaintCategory.MALICIOUS_CHARGE.value



# The categories in the regulator's words (申诉 statistics): (zh, en).
CATEGORY_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType({
    ComplaintCategory.UNEXPLAINED_CHARGE: ("不明扣费", "unexplained charges"),
    MALICIOUS_CHARGE: ("恶意扣费", "malicious charging"),
    ROAMING: ("国际漫游", "international roaming"),
    ComplaintCategory.BILLING_ERROR: ("账单错误", "billing errors"),
    ComplaintCategory.NETWORK_QUALITY: ("网络质量", "network quality"),
    ComplaintCategory.SERVICE_ATTITUDE: ("服务态度", "service attitude"),
    ComplaintCategory.FRAUD: ("通信信息诈骗", "telecom fraud"),
    ComplaintCategory.PRIVACY: ("个人信息保护", "personal information"),
    ComplaintCategory.PRICE: ("资费争议", "tariff disputes"),
    ComplaintCategory.OTHER: ("其他", "other"),
})


def category_label(code: str, lang: str = "zh") -> str:
    """A category's name in ``lang`` (zh or en); a code stored that no category has is shown as it is."""
    names = CATEGORY_LABELS.get(code)
    if names is None:
        return code
    return names[1] if lang == "en" else names[0]


# The synthetic operator's complaint files use their own short categories.
SYNTH_CATEGORIES: Mapping[str, ComplaintCategory] = MappingProxyType({
    "vas": ComplaintCategory.UNEXPLAINED_CHARGE,
    "roaming": ComplaintCategory.ROAMING,
    "billing": ComplaintCategory.BILLING_ERROR,
    "network": ComplaintCategory.NETWORK_QUALITY,
    "service": ComplaintCategory.SERVICE_ATTITUDE,
    "price": ComplaintCategory.PRICE,
})


def parse_category(value: str) -> ComplaintCategory:
    """A category code, or a synthetic-data alias of one; anything else is an error naming the choices."""
    v = value.strip().lower()
    try:
        return ComplaintCategory(v)
    except ValueError:
        pass
    if v in SYNTH_CATEGORIES:
        return SYNTH_CATEGORIES[v]
    allowed = ", ".join(c.value for c in ComplaintCategory)
    raise InvalidInputError([Problem("complaint", None, "category", f"{value!r} is not one of {allowed}")],
                            what="complaint")


# Charges a malicious app or program made by itself (恶意扣费, 手机吸费): named as such, or an app said to have
# subscribed, charged or sent messages on its own. A package the subscriber merely does not recognise is an
# unexplained charge (不明扣费), not this.
_MALICIOUS = re.compile(
    r"恶意扣费|恶意(?:软件|程序|应用|app)|吸费|扣费(?:软件|木马|病毒|程序)|木马|病毒"
    r"|(?:app|应用|软件|游戏|程序|插件).{0,12}(?:偷偷|自动|私自|后台|自己).{0,8}(?:扣费|扣钱|订购|订了|发(?:了)?(?:扣费)?短信)"
    r"|malware|virus|trojan|malicious|fee[- ]?steal"
    r"|\b(?:app|application|game|software|program)\b.{0,40}\b(?:secretly|silently|automatically|by itself|on its own)\b"
    r".{0,30}\b(?:subscrib|charg|sen[dt]|text|sms)"
)
# Charges and service abroad (国际漫游): the trip or roaming named.
_ROAMING = re.compile(
    r"漫游|国漫|国外|境外|出国|海外|出境|港澳台?"
    r"|\broam|\babroad\b|\boverseas\b|\bin another country\b|\boutside (?:the )?(?:country|china|mainland)\b"
    r"|\binternational data\b|\b(?:on|during|after) (?:a|my|the) (?:trip|holiday|vacation)\b"
)
# A charge not known in the subscriber's words, beyond the assistant's keywords ("扣了我6元不知道什么业务").
_UNKNOWN_CHARGE = re.compile(r"不知道(?:是)?(?:什么|啥|哪)(?:个)?(?:业务|费|钱|东西)|不认识(?:的|这)?.{0,4}(?:扣费|收费|业务)")
_BEFORE_ROAMING = frozenset({ComplaintCategory.FRAUD.value, ComplaintCategory.PRIVACY.value})


def classify_complaint(text: str) -> ComplaintCategory:
    """The category a complaint's words point to (keywords in Chinese and English); ``other`` when unclear.

    A malicious app's charges first (恶意扣费: "the app sent premium messages by itself"), then fraud and
    personal data, then anything abroad (国际漫游: "在国外用了几天流量扣了我800块"), then the other
    categories; a charge the subscriber does not recognise ("莫名其妙订了个音乐包每月扣10元") is an
    unexplained charge (不明扣费)."""
    t = unicodedata.normalize("NFKC", text).strip().lower()
    if _MALICIOUS.search(t):
        return ComplaintCategory.MALICIOUS_CHARGE
    found = complaint_category(text)
    if found not in _BEFORE_ROAMING and _ROAMING.search(t):
        return ComplaintCategory.ROAMING
    if found is None and _UNKNOWN_CHARGE.search(t):
        return ComplaintCategory.UNEXPLAINED_CHARGE
    return ComplaintCategory(found) if found else ComplaintCategory.OTHER


@dataclass(frozen=True, slots=True)
class ComplaintEvent:
    """One move. ``due_at``: on an opening or a reopening, the resolution deadline it set, when recorded."""

    status: ComplaintStatus
    at: datetime
    by: str
    note: str | None = None
    due_at: datetime | None = None


_OPENINGS = frozenset({ComplaintStatus.OPENED, ComplaintStatus.REOPENED})
_SETTLED = frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED})
_ANSWERED = frozenset({ComplaintStatus.ACKNOWLEDGED, *_SETTLED})


@dataclass(frozen=True, slots=True)
class ResolutionTerm:
    """One obligation to resolve a complaint: from its opening or a reopening to its deadline, and when it was
    settled (resolved, or closed without a resolution; None while it is not)."""

    started_at: datetime
    due_at: datetime
    settled_at: datetime | None
    reopened: bool  # started by a reopening


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint and its history. ``links`` ties it to what it is about: a conversation, a finding, a
    refund, a usage record."""

    complaint_id: str
    msisdn: str
    category: ComplaintCategory
    channel: str
    text: str
    events: tuple[ComplaintEvent, ...]
    links: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> ComplaintStatus:
        return self.events[-1].status

    @property
    def opened_at(self) -> datetime:
        """When it was first opened (a reopening does not move it)."""
        return self.events[0].at

    @property
    def term_started_at(self) -> datetime:
        """When its current term began: the opening, or the latest reopening."""
        return self.events[_last_opening(self.events)].at

    def first(self, status: ComplaintStatus) -> datetime | None:
        return next((e.at for e in self.events if e.status is status), None)

    def last(self, status: ComplaintStatus) -> datetime | None:
        return next((e.at for e in reversed(self.events) if e.status is status), None)

    @property
    def acknowledged_at(self) -> datetime | None:
        """When someone first answered: an acknowledgement, or a resolution that came without one."""
        ack = [t for t in (self.first(ComplaintStatus.ACKNOWLEDGED), self.first(ComplaintStatus.RESOLVED),
                           self.first(ComplaintStatus.CLOSED)) if t is not None]
        return min(ack, key=_utc) if ack else None

    @property
    def resolved_at(self) -> datetime | None:
        """The latest resolution (or close without one), unless the complaint was reopened after it."""
        if self.status in (ComplaintStatus.OPENED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.REOPENED):
            return None
        # by position, not by time: a reopening may carry the same instant as the resolution it undid
        return next(e.at for e in self.events[_last_opening(self.events):] if e.status in _SETTLED)

    def terms(self, policy: SlaPolicy | None = None) -> tuple[ResolutionTerm, ...]:
        """Its resolution terms, oldest first: one from the opening and one from each reopening. A term's
        deadline is the one its event recorded, else its category's under ``policy`` (default
        ``DEFAULT_SLA``) counted from the event; it is settled by the first resolution or close after it."""
        rules = DEFAULT_SLA if policy is None else policy
        starts = [i for i, e in enumerate(self.events) if e.status in _OPENINGS] or [0]
        out: list[ResolutionTerm] = []
        for n, i in enumerate(starts):
            start = self.events[i]
            stop = starts[n + 1] if n + 1 < len(starts) else len(self.events)
            settled = next((e.at for e in self.events[i + 1:stop] if e.status in _SETTLED), None)
            due = start.due_at if start.due_at is not None else resolve_due(self.category, start.at, rules)
            out.append(ResolutionTerm(start.at, due, settled, reopened=start.status is ComplaintStatus.REOPENED))
        return tuple(out)


def _last_opening(events: Sequence[ComplaintEvent]) -> int:
    """The position of the event that began the current term (by position, not by time: a reopening may
    carry the same instant as the resolution it undid)."""
    return max((i for i, e in enumerate(events) if e.status in _OPENINGS), default=0)


def open_complaint(
    complaint_id: str, msisdn: str, category: ComplaintCategory | str, text: str, *, at: datetime,
    channel: str = "chat", by: str = "subscriber", links: Mapping[str, str] | None = None,
) -> Complaint:
    require_aware(at, "opened_at")
    cat = category if isinstance(category, ComplaintCategory) else parse_category(category)
    return Complaint(complaint_id, msisdn, cat, channel, text, (ComplaintEvent(ComplaintStatus.OPENED, at, by),),
                     dict(links or {}))


# What a note whose personal data was masked says of it, after its words: a reader knows the stars are not the agent's.
NOTE_MASKED = "[已隐去个人信息 personal data masked]"


def mask_note(note: str | None) -> str | None:
    """An agent's note on a complaint with its ID-card and bank-card numbers and e-mail addresses masked
    (``privacy.mask_identity_data``: the ID-card mark, ``z***@example.com``), and, when anything was, ``NOTE_MASKED``
    after it. The history is append-only, so what it must never keep is never written into it. Phone numbers stay as
    written here: the store keeps each as a token (``tokenise_note``) whose number it can forget when the subscriber
    is erased, and gives the number back to readers who are then shown it by role (the agent handling the line the
    number, an analyst its keyed pseudonym; a number masked at write, seven of its eleven digits kept, would tell an
    analyst more than the pseudonym does). A note with nothing to mask, or masked already, is kept as it is."""
    if note is None:
        return None
    masked = mask_identity_data(note)
    if masked == note:
        return note
    return f"{masked} {NOTE_MASKED}"


# A phone number in a stored note: a marker naming the number's token, an id of letters only (no digit of it can be
# read as a number), which the store's table of note numbers maps to the number for as long as it may be known, and,
# after a ``/``, how the agent wrote it when not as that number (``_written_form``: letters too).
NOTE_NUMBER_PREFIX = "[tel:"
_NOTE_NUMBER = re.compile(r"\[tel:(n[A-Za-z]{20})(?:/([A-J]{1,5}))?\]")
# What a reader is shown for a token whose number is no longer known (its subscriber was erased).
NOTE_NUMBER_ERASED = "[号码已删除 number erased]"
# The value a number's token is keyed from: a label no number is, so the token is not the number's pseudonym and
# cannot be joined to the audit's or an analyst's (``privacy.Pseudonymizer``: labels no value is).
_TOKEN_LABEL = "#complaint-note/number/"
_TOKEN_LETTERS = str.maketrans("0123456789", "ABCDEFGHIJ")  # the pseudonym alphabet's digits as letters it lacks
TOKEN_CHARS = 21  # ``n`` and 20 letters
_FORM_DIGITS = str.maketrans("ABCDEFGHIJ", "0123456789")  # a written form's letters back to digits
_FORM_DROPPED, _FORM_PREFIX = 9, 4  # at most: digits of the number not written, digits written before the rest of it


def note_token(number: str, keyed: Callable[[str], str] | None = None) -> str:
    """The token a note keeps ``number`` (E.164 digits, or digits as written) under: ``n`` and 20 letters, the
    keyed pseudonym (``keyed``, a ``privacy.Pseudonymizer`` under the home's secret key) of a label and the number,
    its digits spelt as letters; the same number, the same token, under one key. Without a key (a writer given
    none) or from a key's stand-in that makes no pseudonym, 100 random bits in the same shape."""
    made = keyed(_TOKEN_LABEL + number) if keyed is not None else ""
    body = made[1:].translate(_TOKEN_LETTERS)
    if len(body) != TOKEN_CHARS - 1 or not body.isascii() or not body.isalpha():
        body = "".join(secrets.choice(string.ascii_letters) for _ in range(TOKEN_CHARS - 1))
    return "n" + body


def _written_form(written: str, number: str) -> str:
    """How ``written`` (a number's digits as the agent typed them) is spelt from ``number`` (E.164 digits), in letters
    (``A`` for 0 … ``J`` for 9) so that a note holds no digit of it: how many leading digits of the number were left
    out, then the digits written in front of the rest, e.g. ``C`` for ``13800138000`` (``8613800138000`` without its
    calling code), ``CA`` for ``015123456789`` (``4915123456789``: the trunk 0 for the 49), ``AAA`` for
    ``008613800138000``. Empty when written as the number, or when the two share no such spelling (the number is
    then read back as the number)."""
    if written == number:
        return ""
    for dropped in range(min(len(number) - 1, _FORM_DROPPED) + 1):
        rest = number[dropped:]
        if written.endswith(rest):
            prefix = written[: len(written) - len(rest)]
            return f"{dropped}{prefix}".translate(_TOKEN_LETTERS) if len(prefix) <= _FORM_PREFIX else ""
    return ""


def _as_written(number: str, form: str | None) -> str:
    """``number`` spelt as its ``form`` (``_written_form``) says the agent wrote it; as it is without one."""
    if not form:
        return number
    digits = form.translate(_FORM_DIGITS)
    return digits[1:] + number[int(digits[0]):]


def tokenise_note(
    note: str, token: Callable[[str], str], *, home_country: str | None = None,
) -> tuple[str, dict[str, str]]:
    """``note`` as the store keeps it and the numbers its tokens stand for: every phone number in it, however written
    (``13800138000``, ``+86 138 0013 8000``, ``号码138-0013-8000``), replaced by the marker of ``token(e164)``, the
    number read by the numbering of the operator's ``home_country`` (``privacy.e164_of``); a mobile number an id
    holds (``cmp-8613800138000-01``) or that is glued to Latin letters (``abc13800138000``) too
    (``privacy.replace_numbers_in_words``: a whole run of digits of a mobile number's length and form, never an IMEI,
    an ICCID or an order id's). The marker also says how
    the number was written (its digits as typed, spaces, dashes and ``+`` left out: ``13800138000``,
    ``015123456789``; ``_written_form``), in letters, so that readers are given the number as they were before
    tokens (``resolve_note``). ID-card and bank-card numbers become their marks, dates, amounts and the digits of
    ids stay. Returns the text and ``{token: e164}``: one token per number, however often and however written."""
    numbers: dict[str, str] = {}

    def marker(written: str, e164: str) -> str:
        t = token(e164)
        numbers[t] = e164
        form = _written_form(written, e164)
        return f"{NOTE_NUMBER_PREFIX}{t}{'/' + form if form else ''}]"

    text = replace_numbers(note, lambda digits: marker(digits, e164_of(digits, home_country=home_country)),
                           standalone=True)
    return replace_numbers_in_words(text, marker, home_country=home_country), numbers


def note_tokens(note: str | None) -> set[str]:
    """The tokens of numbers a stored note holds."""
    return {m.group(1) for m in _NOTE_NUMBER.finditer(note)} if note else set()


def resolve_note(note: str | None, numbers: Mapping[str, str]) -> str | None:
    """A stored note as readers are given it: each token's marker replaced by its number (``numbers``: token →
    number, what the store still knows) spelt as the agent wrote it (``13800138000`` for ``8613800138000`` written
    as dialled at home, ``015123456789`` for ``4915123456789`` in Germany: the digits as typed, as notes read before
    tokens), or by ``NOTE_NUMBER_ERASED`` when its number is forgotten (the subscriber was erased). The number is
    then shown by role, as every number in free text is."""
    if note is None or NOTE_NUMBER_PREFIX not in note:
        return note

    def one(m: re.Match[str]) -> str:
        number = numbers.get(m.group(1))
        return NOTE_NUMBER_ERASED if number is None else _as_written(number, m.group(2))

    return _NOTE_NUMBER.sub(one, note)


def transition(complaint: Complaint, status: ComplaintStatus | str, *, at: datetime, by: str, note: str | None = None) -> Complaint:
    """The complaint after one more event; a move the lifecycle does not allow is a ConflictError. The event's note is
    ``note`` masked (``mask_note``): the one to keep in the history."""
    to = ComplaintStatus(status)
    require_aware(at, "at")
    if to not in _NEXT[complaint.status]:
        raise ConflictError(f"complaint {complaint.complaint_id} is {complaint.status.value}: cannot become {to.value}",
                            details={"from": complaint.status.value, "to": to.value})
    if _utc(at) < _utc(complaint.events[-1].at):  # instants: in one zone a repeated hour compares by wall clock
        raise ConflictError(f"complaint {complaint.complaint_id}: an event cannot come before the previous one")
    return replace(complaint, events=(*complaint.events, ComplaintEvent(to, at, by, mask_note(note))))


def store_status(status: ComplaintStatus) -> str:
    """The store table's coarse status for a lifecycle status."""
    if status in (ComplaintStatus.OPENED, ComplaintStatus.REOPENED):
        return "open"
    if status is ComplaintStatus.ACKNOWLEDGED:
        return "in_progress"
    return "closed"


def status_from_store(coarse: str, current: ComplaintStatus) -> ComplaintStatus:
    """The lifecycle status a coarse status means, given the lifecycle status stored beside it: ``current``
    when the two agree, otherwise what the coarse change can only have been (a take is an acknowledgement,
    a close a close, an open again a reopening)."""
    if store_status(current) == coarse:
        return current
    if coarse == "in_progress":
        return ComplaintStatus.ACKNOWLEDGED
    if coarse == "closed":
        return ComplaintStatus.CLOSED
    return ComplaintStatus.REOPENED


class Escalation(IntEnum):
    NONE = 0
    SUPERVISOR = 1  # acknowledgement or resolution overdue
    MANAGER = 2  # resolution overdue by the escalation margin, or any regulator complaint overdue


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Hours to acknowledge and to resolve, per category (``default`` for the rest). Charge complaints are
    the tightest: money taken without consent is returned quickly or not at all."""

    acknowledge: Mapping[str, int] = field(default_factory=lambda: {
        "default": 24, "unexplained_charge": 4, "malicious_charge": 4, "fraud": 2})
    resolve: Mapping[str, int] = field(default_factory=lambda: {
        "default": 72, "unexplained_charge": 48, "malicious_charge": 48, "billing_error": 48, "roaming": 48, "fraud": 24,
        "privacy": 48})
    escalate_after_hours: int = 24  # past the resolution deadline by this much: to the manager

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for kind, table in (("acknowledge", self.acknowledge), ("resolve", self.resolve)):
            if "default" not in table:  # else a category without hours of its own fails only when one comes along
                problems.append(Problem("sla", None, f"{kind}.default", "hours for every category not named are required"))
            problems += [Problem("sla", None, f"{kind}.{category}", f"hours must be a whole number above 0, not {hours!r}")
                         for category, hours in table.items() if not _whole(hours, least=1)]
        if not _whole(self.escalate_after_hours, least=0):
            problems.append(Problem("sla", None, "escalate_after_hours", f"0 or more hours, not {self.escalate_after_hours!r}"))
        if problems:
            raise InvalidInputError(problems, what="SLA policy")

    def acknowledge_hours(self, category: str) -> int:
        return int(self.acknowledge.get(category, self.acknowledge["default"]))

    def resolve_hours(self, category: str) -> int:
        return int(self.resolve.get(category, self.resolve["default"]))


def _whole(hours: object, *, least: int) -> bool:
    return isinstance(hours, int) and not isinstance(hours, bool) and hours >= least


DEFAULT_SLA = SlaPolicy()


def sla_policy(hours: SlaHours | None, *, base: SlaPolicy = DEFAULT_SLA) -> SlaPolicy:
    """The operator's policy: ``base`` with the hours of the ``sla`` setting over it. A category the setting
    names gets its hours, the others keep ``base``'s, so that an operator states only what differs. Every
    reader of deadlines (the assistant's reply, the stored ``due_at``, escalation, attainment) takes the
    policy made here from the same settings, so what a subscriber is promised is what is measured."""
    if hours is None:
        return base
    margin = base.escalate_after_hours if hours.escalate_after_hours is None else hours.escalate_after_hours
    return SlaPolicy(acknowledge=MappingProxyType({**base.acknowledge, **hours.acknowledge}),
                     resolve=MappingProxyType({**base.resolve, **hours.resolve}), escalate_after_hours=margin)


@dataclass(frozen=True, slots=True)
class SlaState:
    complaint_id: str
    acknowledge_due: datetime
    resolve_due: datetime
    acknowledged_in_time: bool | None  # None: not acknowledged yet and not overdue
    resolved_in_time: bool | None
    escalation: Escalation


def hours_after(at: datetime, hours: int) -> datetime:
    """``hours`` elapsed hours after ``at``, shown on ``at``'s clock. Aware arithmetic in one zone is wall-clock
    arithmetic: across a daylight-saving change "48 h" would be 47 or 49 real hours."""
    return (require_aware(at, "at").astimezone(UTC) + timedelta(hours=hours)).astimezone(at.tzinfo)


def _utc(at: datetime) -> datetime:
    """For comparisons: aware datetimes sharing a zone compare by wall clock, wrong in a repeated hour."""
    return at.astimezone(UTC)


def resolve_due(category: str, opened_at: datetime, policy: SlaPolicy = DEFAULT_SLA) -> datetime:
    """The resolution deadline of a complaint of ``category`` opened at ``opened_at``."""
    return hours_after(require_aware(opened_at, "opened_at"), policy.resolve_hours(category))


def sla_state(
    complaint: Complaint, now: datetime, policy: SlaPolicy = DEFAULT_SLA, *, due_at: datetime | None = None
) -> SlaState:
    """Where a complaint's current term stands against its deadlines at ``now``: a reopened complaint is
    judged from its reopening, and must be acknowledged and resolved again. ``due_at``: the resolution
    deadline stored for the term (set when it was opened or reopened, kept even if the policy changed
    since); default: the one its event recorded, else from ``policy``."""
    now = _utc(require_aware(now, "now"))
    start = _last_opening(complaint.events)
    term = complaint.terms(policy)[-1]
    ack_due = hours_after(term.started_at, policy.acknowledge_hours(complaint.category))
    res_due = due_at if due_at is not None else term.due_at
    ack = next((e.at for e in complaint.events[start + 1:] if e.status in _ANSWERED), None)
    res = term.settled_at
    ack_ok = (_utc(ack) <= _utc(ack_due)) if ack is not None else (False if now > _utc(ack_due) else None)
    res_ok = (_utc(res) <= _utc(res_due)) if res is not None else (False if now > _utc(res_due) else None)
    level = Escalation.NONE
    if res is None:
        late = now > _utc(res_due)
        if _utc(hours_after(res_due, policy.escalate_after_hours)) < now or (complaint.channel == "regulator" and late):
            level = Escalation.MANAGER
        elif late or (ack is None and now > _utc(ack_due)):
            level = Escalation.SUPERVISOR
    return SlaState(complaint.complaint_id, ack_due, res_due, ack_ok, res_ok, level)


def escalations(complaints: list[Complaint], now: datetime, policy: SlaPolicy = DEFAULT_SLA) -> list[SlaState]:
    """Open complaints past a deadline, the most urgent first."""
    states = [sla_state(c, now, policy) for c in complaints]
    late = [s for s in states if s.escalation is not Escalation.NONE]
    return sorted(late, key=lambda s: (-int(s.escalation), _utc(s.resolve_due), s.complaint_id))
