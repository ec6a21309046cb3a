"""Notifications to subscribers (zh/en SMS texts) written to an outbox; delivery adapters are pluggable.

Each message is in the subscriber's language (``languages``: the register's) and signed with the operator's name
in that language (``sender``: the catalog's ``[operator] name``)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from fairtel.assurance._billshock import OWN_ROAMING_CAP
from fairtel.assurance._finding import Finding, FindingKind
from fairtel.assurance._refunds import RefundAdjustment
from fairtel.core.commits import fsync_dir
from fairtel.core.ids import stable_id
from fairtel.core.money import Money
from fairtel.core.reasons import refund_reason_in
from fairtel.core.time import DEMO_TIMEZONE, require_aware, zone

_SCOPE = {
    "eu_data_roaming": {"zh": "漫游数据流量", "en": "data roaming"},
    "domestic": {"zh": "套餐外", "en": "out-of-plan"},
    OWN_ROAMING_CAP: {"zh": "国际漫游", "en": "roaming"},
}
DEFAULT_SENDER = "fairtel"  # when no operator name is known
_CURRENCY_ZH = {"CNY": "元", "EUR": "欧元", "USD": "美元", "HKD": "港元"}

_TEXTS = {
    "bill_shock": {
        "zh": "【{sender}】您本月{scope}费用已达{spent}，为{cap}上限的{pct}%。",
        "en": "{sender}: your {scope} charges this month have reached {spent}, {pct}% of your {cap} limit.",
    },
    # one charge took the spend past the alert threshold (or several at once): the share actually reached is said
    "bill_shock_past": {
        "zh": "【{sender}】您本月{scope}费用已达{spent}，为{cap}上限的{share}%（已超过{pct}%提醒线）。",
        "en": "{sender}: your {scope} charges this month have reached {spent}, {share}% of your {cap} limit (past the {pct}% alert).",
    },
    # at the cap of a stopping policy: nothing is paused (rating and the bill charge all usage), so the SMS says
    # what happens, that the charges past the cap are given back on the next bill (``assure --refund``)
    "cutoff": {
        "zh": "【{sender}】您本月{scope}费用已达上限{cap}。超出上限部分的费用将在下期账单中退还。",
        "en": "{sender}: your {scope} charges this month have reached your {cap} limit. Charges past the limit will be refunded on your next bill.",
    },
    # at the roaming cap the subscriber set themselves (policy ``own_roaming_cap``): said to be theirs, and, when they
    # set it during the month, that only the charges since then count against it
    "own_bill_shock": {
        "zh": "【{sender}】您设置的国际漫游消费上限为{cap}，您本月{since}的漫游费用已达{spent}，为上限的{pct}%。",
        "en": "{sender}: your roaming charges this month{since} have reached {spent}, {pct}% of the {cap} roaming spending limit you set.",
    },
    "own_bill_shock_past": {
        "zh": "【{sender}】您设置的国际漫游消费上限为{cap}，您本月{since}的漫游费用已达{spent}，为上限的{share}%（已超过{pct}%提醒线）。",
        "en": "{sender}: your roaming charges this month{since} have reached {spent}, {share}% of the {cap} roaming spending limit you set (past the {pct}% alert).",
    },
    "own_cutoff": {
        "zh": "【{sender}】您设置的国际漫游消费上限为{cap}，您本月{since}的漫游费用已达到上限。超出上限部分的费用将在下期账单中退还。",
        "en": "{sender}: your roaming charges this month{since} have reached the {cap} roaming spending limit you set. Charges past the limit will be refunded on your next bill.",
    },
    "own_since": {
        "zh": "自{date}设置上限以来",
        "en": " since you set your limit on {date}",
    },
    # Wangiri (one-ring scam): a subscriber the number rang, who did not call it back, is told not to
    "wangiri_warning": {
        "zh": "【{sender}】防诈骗提醒：境外号码 +{caller} 于{when}向您来电“响一声”即挂断，这是诱骗回拨的诈骗电话，回拨将按{rate_zh}计费。请勿回拨。",
        "en": "{sender}: do not call back +{caller} (it rang you on {when}): one-ring scam, calls to it are charged at {rate_en}.",
    },
    # ... told while roaming: a call back from abroad is charged at the roaming rate, not at premium rates
    "wangiri_warning_roaming": {
        "zh": "【{sender}】防诈骗提醒：境外号码 +{caller} 于{when}（您漫游期间）向您来电“响一声”即挂断，这是诱骗回拨的诈骗电话，在境外回拨将按{rate_zh}计费。请勿回拨。",
        "en": "{sender}: do not call back +{caller} (it rang you on {when} while you were roaming): one-ring scam, calls to it from abroad are charged at {rate_en}.",
    },
    # ... and one who called it back, that the call is being reviewed
    "wangiri_callback": {
        "zh": "【{sender}】您于{when}回拨的境外号码 +{caller} 是“响一声”诈骗电话，该通话按{rate_zh}计费。我们正在核查这笔费用，核查结果将另行通知。请勿再回拨该号码。",
        "en": "{sender}: +{caller}, which you called back on {when}, is a one-ring scam number; your call to it was charged at {rate_en}. We are reviewing the charge for that call and will tell you the outcome. Please do not call it again.",
    },
    # added to either when receiving its call while roaming was charged (a ``one_ring_roaming_charge`` finding): only
    # what happens is promised, the charge is reviewed and, once confirmed, refunded on the next bill
    "wangiri_ring_refund": {
        "zh": "您漫游期间接听该号码来电产生的费用正在核查，确认后将在下期账单中退还。",
        "en": " The charge for receiving its call while roaming is being reviewed and, once confirmed, will be refunded on your next bill.",
    },
    "refund": {
        "zh": "【{sender}】已为您退还{amount}（{reason}），将在下期账单中体现。",
        "en": "{sender}: we have refunded {amount} ({reason}). It will appear on your next bill.",
    },
    # the refund gives back the tax the bill charged on the charge too: said, so the amount matches no price
    "refund_taxed": {
        "zh": "【{sender}】已为您退还{amount}（{reason}，含税费{tax}），将在下期账单中体现。",
        "en": "{sender}: we have refunded {amount} ({reason}, tax of {tax} included). It will appear on your next bill.",
    },
}


def refund_reason_text(reason: str, language: str) -> str:
    """A refund's reason (``refund_reason``: stored in English) in ``language``; a reason given by hand is shown
    as written."""
    return refund_reason_in(reason, language)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    msisdn: str
    language: str
    kind: str  # bill_shock | cutoff | refund | wangiri_warning | wangiri_callback
    text: str
    created_at: datetime
    finding_id: str | None = None


def _money(amount: Decimal, currency: str, language: str) -> str:
    m = Money(amount, currency).rounded()
    if language == "zh":
        return f"{m.amount}{_CURRENCY_ZH.get(currency, currency)}"
    return f"{m.amount} {currency}"


def _language(msisdn: str, languages: Mapping[str, str], default: str) -> str:
    lang = languages.get(msisdn, default)
    return lang if lang in ("zh", "en") else default


Sender = str | Mapping[str, str]


def _signed(sender: Sender, language: str) -> str:
    """The operator's name in ``language`` (a name per language, as the catalog gives it), or the one name given."""
    if isinstance(sender, str):
        return sender
    return sender.get(language) or next((n for n in sender.values() if n), DEFAULT_SENDER)


def _share_pct(f: Finding, pct: int) -> int:
    """The share of the cap (whole per cent, rounded down) the spend reached when it crossed ``pct`` %: the limit
    of that threshold in the spend's currency (VAT and exchange rate included, ``limit_minor``) scaled back to
    the whole cap. Never below the threshold itself (the limit is rounded up)."""
    limit = f.evidence.get("limit_minor")
    spent = f.amount_minor
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0 or spent is None or pct <= 0:
        return pct
    return max(pct, spent * pct // limit)


def _since(f: Finding, language: str, tz: str) -> str:
    """The words "since you set your limit on <day>" when only the charges made since the subscriber set their cap during
    the month count against it (else nothing)."""
    raw = f.evidence.get("counted_since")
    if not raw:
        return ""
    try:
        day = datetime.fromisoformat(str(raw)).astimezone(zone(tz)).date()
    except ValueError:
        return ""
    date = f"{day.month}月{day.day}日" if language == "zh" else day.isoformat()
    return _TEXTS["own_since"][language].format(date=date)


def _crossings(findings: Iterable[Finding]) -> list[Finding]:
    """The bill-shock findings to tell: one per crossing. A crossing is the charge that took a subscriber's spend
    in a scope and month past one threshold or more; when it passed several at once (a single call past 80 % and
    100 % of the cap), only the highest is told, since the alert for a lower one would state a spend far above it
    as that share of the cap. Findings in their first order."""
    best: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        if f.kind is not FindingKind.BILL_SHOCK or f.msisdn is None or f.amount is None or f.currency is None:
            continue
        ev = f.evidence
        key = (f.msisdn, ev.get("policy"), ev.get("period"), f.currency, tuple(f.record_ids), str(ev.get("started_at")))
        held = best.get(key)
        if held is None or int(ev.get("threshold_pct", 0)) > int(held.evidence.get("threshold_pct", 0)):
            best[key] = f
    return list(best.values())


def bill_shock_messages(
    findings: Iterable[Finding],
    *,
    languages: Mapping[str, str] | None = None,
    default_language: str = "zh",
    sender: Sender = DEFAULT_SENDER,
    now: datetime,
    tz: str = DEMO_TIMEZONE,
) -> list[OutboxMessage]:
    """One SMS per crossing (``_crossings``: the highest threshold a charge crossed), stating the share of the cap
    actually reached; at the cap of a stopping policy, the cut-off text instead. At the roaming cap the subscriber
    set (policy ``own_roaming_cap``) the text says it is the cap they set, and, when they set it during the month,
    that the charges since that day (in ``tz``, the operator's) count. ``languages``: msisdn → zh/en (the
    register's; ``default_language`` for a number it does not know); ``sender``: the operator's name, one per
    language."""
    langs = languages or {}
    out: list[OutboxMessage] = []
    for f in _crossings(findings):
        assert f.msisdn is not None and f.amount is not None and f.currency is not None
        lang = _language(f.msisdn, langs, default_language)
        ev = f.evidence
        policy = str(ev.get("policy", ""))
        pct = int(ev.get("threshold_pct", 0))
        share = _share_pct(f, pct)
        kind = "cutoff" if pct >= 100 and ev.get("stop_at_cap") else "bill_shock"
        cap = _money(Decimal(str(ev.get("cap", "0"))), str(ev.get("cap_currency", f.currency)), lang)
        template = "bill_shock_past" if kind == "bill_shock" and share > pct else kind
        own = policy == OWN_ROAMING_CAP
        text = _TEXTS[f"own_{template}" if own else template][lang].format(
            sender=_signed(sender, lang),
            scope=_SCOPE.get(policy, {"zh": "", "en": "usage"})[lang],
            spent=_money(f.amount, f.currency, lang),
            cap=cap,
            pct=pct,
            share=share,
            since=_since(f, lang, tz) if own else "",
        )
        out.append(
            OutboxMessage(
                stable_id("msg", kind, f.finding_id), f.msisdn, lang, kind, text, require_aware(now), f.finding_id
            )
        )
    return out


def refund_messages(
    refunds: Iterable[RefundAdjustment],
    *,
    languages: Mapping[str, str] | None = None,
    default_language: str = "zh",
    sender: Sender = DEFAULT_SENDER,
    now: datetime,
) -> list[OutboxMessage]:
    """One SMS per refund posted, in the subscriber's language, signed with the operator's name in it."""
    langs = languages or {}
    out: list[OutboxMessage] = []
    for r in refunds:
        lang = _language(r.msisdn, langs, default_language)
        reason = refund_reason_text(r.reason, lang)
        template = "refund_taxed" if r.tax > 0 else "refund"
        text = _TEXTS[template][lang].format(
            sender=_signed(sender, lang),
            amount=_money(r.amount, r.currency, lang),
            reason=reason,
            tax=_money(r.tax, r.currency, lang),
        )
        out.append(
            OutboxMessage(
                stable_id("msg", "refund", r.adjustment_id),
                r.msisdn,
                lang,
                "refund",
                text,
                require_aware(now),
                r.finding_id,
            )
        )
    return out


_RATES = {True: {"zh": "国际高资费", "en": "premium rates"}, False: {"zh": "国际通话资费", "en": "international rates"}}
_ROAMING_RATES = {"zh": "国际漫游通话资费", "en": "roaming call rates"}  # a call back made while roaming: the roaming rate


@dataclass(frozen=True, slots=True)
class WangiriTarget:
    """A subscriber a Wangiri number rang (``called_back``: and who called it back), for one warning SMS.
    ``at``: the first ring, or the first call back; ``finding_id``: the finding of a premium call back, if any.
    ``premium``: calls to the number are (a call back: was) charged at premium rates; ``roaming``: the call back,
    made while roaming, was charged at the roaming rate instead (what the subscriber is told it was charged); of a
    subscriber only rung: it rang them while roaming (a call back from abroad is charged at the roaming rate, so the
    warning does not say premium rates). ``ring_finding_id``: the finding (``one_ring_roaming_charge``) of a ring they
    were charged for receiving while roaming: the SMS says that charge is reviewed and refunded once confirmed."""

    msisdn: str
    caller: str
    at: datetime
    premium: bool
    called_back: bool
    finding_id: str | None = None
    roaming: bool = False
    ring_finding_id: str | None = None


def wangiri_messages(
    targets: Iterable[WangiriTarget],
    *,
    languages: Mapping[str, str] | None = None,
    default_language: str = "zh",
    sender: Sender = DEFAULT_SENDER,
    now: datetime,
    tz: str = DEMO_TIMEZONE,
    id_key: bytes | None = None,
) -> list[OutboxMessage]:
    """One SMS per subscriber and Wangiri number: "do not call back" to a subscriber it rang, "the call is being
    reviewed" to one who called it back (not both: the latter says it all). The id is the subscriber's, the
    number's and the kind's (keyed by ``id_key``), so a rerun sends nothing new; a subscriber warned, who calls
    back later, is then told the call is reviewed. A subscriber rung while roaming is told calls to it from abroad
    are charged at the roaming rate, and one charged for receiving its call (``ring_finding_id``) that the charge is
    reviewed and refunded once confirmed (in either message)."""
    langs = languages or {}
    best: dict[tuple[str, str], WangiriTarget] = {}
    ring_finding: dict[tuple[str, str], str] = {}
    for t in targets:
        held = best.get((t.msisdn, t.caller))
        if held is None or (t.called_back, -t.at.timestamp()) > (held.called_back, -held.at.timestamp()):
            best[(t.msisdn, t.caller)] = t
        if t.ring_finding_id is not None:
            ring_finding.setdefault((t.msisdn, t.caller), t.ring_finding_id)
    out: list[OutboxMessage] = []
    for (msisdn, caller), t in sorted(best.items()):
        lang = _language(msisdn, langs, default_language)
        kind = "wangiri_callback" if t.called_back else "wangiri_warning"
        template = "wangiri_warning_roaming" if kind == "wangiri_warning" and t.roaming else kind
        local = t.at.astimezone(zone(tz))
        when = f"{local.month}月{local.day}日 {local:%H:%M}" if lang == "zh" else f"{local:%Y-%m-%d %H:%M}"
        text = _TEXTS[template][lang].format(
            sender=_signed(sender, lang),
            caller=caller,
            when=when,
            rate_zh=_ROAMING_RATES["zh"] if t.roaming else _RATES[t.premium]["zh"],
            rate_en=_ROAMING_RATES["en"] if t.roaming else _RATES[t.premium]["en"],
        )
        ring = ring_finding.get((msisdn, caller))
        if ring is not None:
            text += _TEXTS["wangiri_ring_refund"][lang]
        out.append(
            OutboxMessage(
                stable_id("msg", kind, msisdn, caller, key=id_key),
                msisdn,
                lang,
                kind,
                text,
                require_aware(now),
                t.finding_id or ring,
            )
        )
    return out


class Outbox(Protocol):
    """Where messages go: a table, a file, an SMS gateway. ``send`` returns how many were new."""

    def send(self, messages: Sequence[OutboxMessage]) -> int: ...


class FileOutbox:
    """Messages appended as JSON Lines to ``<dir>/messages.jsonl``, the queue a delivery adapter (the SMS gateway's)
    reads; a message id already written is skipped, so rerunning the same detection sends nothing twice.

    ``send`` returns only once its messages are on disk: the lines are written and fsynced, and the directory
    fsynced when the call created the file (or the directory), so a power cut after it cannot take back a message
    a caller then records as told (a refund posted, a code issued). A caller records that it told someone after
    ``send`` returns, never before: a crash between the two sends again on the rerun, and the outbox, which keeps
    each ``message_id`` once, takes it once (at least once; never lost). The ``message_id`` is stable for the cause
    (the refund's adjustment, the finding, the subscriber, number and kind), so it is the idempotency key a
    gateway dedupes on should it be handed a line twice (the adapter read the file again before recording what it
    sent). Senders in several processes take turns (``flock`` on the file). A crash in the middle of an append
    leaves a line without its end: the next ``send`` ends it when it is a whole message, else removes the torn
    bytes (their ``send`` never returned, so nothing counted on them; their cause sends them again)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "messages.jsonl"

    def _known(self) -> set[str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return set()
        return _message_ids(data)

    def send(self, messages: Sequence[OutboxMessage]) -> int:
        if not messages:
            return 0
        with self._locked() as (fd, created):
            data = _read_all(fd)
            data, mended = _mend(fd, data)
            known = _message_ids(data)
            fresh: list[OutboxMessage] = []
            for m in messages:
                if m.message_id not in known:
                    known.add(m.message_id)
                    fresh.append(m)
            if fresh:
                rows = []
                for m in fresh:
                    row = asdict(m)
                    row["created_at"] = m.created_at.isoformat()
                    rows.append(json.dumps(row, ensure_ascii=False) + "\n")
                _write_all(fd, "".join(rows).encode("utf-8"))
            if fresh or mended or created:
                os.fsync(fd)
            if created:  # the file's name, as durable as its lines
                fsync_dir(self.path.parent)
        return len(fresh)

    @contextmanager
    def _locked(self) -> Iterator[tuple[int, bool]]:
        """The outbox file open for appending, locked against other senders; whether this call created it. A file
        renamed over it meanwhile (retention's rewrite) is opened again, so no append goes to a replaced file."""
        directory = self.path.parent
        if not directory.is_dir():
            _make_dirs(directory)
        while True:
            created = False
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
                created = True
            except FileExistsError:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
                except FileNotFoundError:  # removed between the two opens: create it
                    continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    continue
                yield fd, created
                return
            finally:
                os.close(fd)  # releases the lock


def _make_dirs(directory: Path) -> None:
    """``directory`` and the parents it lacks, each new entry made durable in its parent."""
    missing: list[Path] = []
    d = directory
    while not d.is_dir():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    directory.mkdir(parents=True, exist_ok=True)
    for m in reversed(missing):
        fsync_dir(m.parent)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _mend(fd: int, data: bytes) -> tuple[bytes, bool]:
    """The file's bytes with a torn last line (a crash in the middle of an append) ended when it holds a whole
    message, else cut off; whether anything changed."""
    if not data or data.endswith(b"\n"):
        return data, False
    start = data.rfind(b"\n") + 1
    if _message_id(data[start:]) is not None:
        _write_all(fd, b"\n")
        return data + b"\n", True
    os.ftruncate(fd, start)
    return data[:start], True


def _message_id(line: bytes) -> str | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    mid = row.get("message_id") if isinstance(row, dict) else None
    return mid if isinstance(mid, str) else None


def _message_ids(data: bytes) -> set[str]:
    """The ids of the whole messages in the outbox's bytes. A line that is not one (the torn end of an append cut
    short) names no id: a message it was is sent again when asked for, never taken as sent."""
    known: set[str] = set()
    for line in data.split(b"\n"):
        if line.strip() and (mid := _message_id(line)) is not None:
            known.add(mid)
    return known
