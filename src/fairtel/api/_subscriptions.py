"""A subscriber's value-added subscriptions: order, confirm (the second, explicit step), cancel.

Each action (order, confirm, cancel) appends one event to the consent ledger; state is always the ledger's projection. A new
code (``resend_code``) appends none: it is on record in the access audit.

The second step is the operator's SMS 二次确认: a subscriber's order sends a one-time code to their phone, in an
SMS (the outbox) that restates the offer's terms (name, price per period, provider, charged to the phone bill
until cancelled, how to cancel); the subscriber confirms by giving the code back. The order's event keeps the
code's keyed hash (HMAC-SHA256 under a key derived from the home's secret, which the ledger does not hold), never
the code; the confirmation's event records that the code matched (``consent.code_verified``), which charge
assurance takes as proof that a person confirmed. A code is good for ``CODE_TTL``; the subscriber may ask for a
new one (``resend_code``: the previous one stops working), a limited number of times and not too often.
An order that sent a code is confirmed with it only; ``MAX_CODE_ATTEMPTS`` wrong ones spend it, each one
committed before its answer and counted under the line's lock, so that guesses sent at the same moment are
counted one after the other.

The SMS leaves for the outbox only once the order (or the new code) is committed: an order that did not commit
sends nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fairtel.api._access import Access
from fairtel.api._errors import RateLimitedError
from fairtel.assurance import FileOutbox, OutboxMessage
from fairtel.catalog import Catalog
from fairtel.consent import (
    CODE_STEP,
    LINE_CLOSED,
    ConfirmationStatus,
    SubscriptionState,
    project_subscriptions,
    states_at,
)
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id, stable_id
from fairtel.core.time import utc_now
from fairtel.privacy import Permission, Role
from fairtel.store import ConsentEvent, Subscriber, consent_event_id, consent_ledger, get_subscriber
from fairtel.store._consent import closing_ends
from fairtel.store._merchants import on_sale, require_on_sale
from fairtel.store._schema import AccessAudit, table_of

CODE_DIGITS = 6
MAX_CODE_ATTEMPTS = 5
"""Wrong codes an order takes; past them its code is spent and the subscriber orders again (cancelling this one)."""
CODE_REJECTED = "subscription.confirm_code_rejected"  # the audit action of a wrong code, counted per code sent
CODE_TTL = timedelta(minutes=10)
"""How long a code sent works: past it the confirmation is refused (``code_expired``) and the subscriber asks for a new one."""
MAX_CODE_RESENDS = 3
"""New codes an order may ask for after its first; past them the subscriber cancels the order and orders again."""
RESEND_INTERVAL = timedelta(seconds=60)
"""The least time between two codes of one order (the first one included)."""
CODE_RESENT = "subscription.code_resent"  # the audit action of a new code sent: the record of each code after the first
_RESEND_REASON = "own request for a new confirmation code"
CODE_HASH = "hmac-sha256"
"""``second_step.hash`` of an order whose ``code_sha256`` is keyed. An order without it (made before) kept
``sha256(salt:subscription_id:code)`` with its ``salt``: still checked, for its first code only."""
_CODE_KEY_OF = "#confirm-code/key"  # a label no number is: the code key is the home's keyed digest of it
_CODE_TAG_OF = "#confirm-code/tag"

_PERIOD_WORDS = {
    "monthly": {"zh": "月", "en": "month"},
    "per_use": {"zh": "次", "en": "use"},
}
_CURRENCY_ZH = {"CNY": "元", "EUR": "欧元", "USD": "美元", "HKD": "港元"}
_CODE_SMS = {
    "monthly": {
        "zh": "【{sender}】您正在订购{provider}提供的“{name}”，资费{price}/月，订购确认后每月从话费中扣除，直至您退订。"
              "确认订购请输入验证码{code}（{minutes}分钟内有效，订购确认前不收费）。退订：在“我的订购”中点击“退订”，或致电客服。如非本人操作，请勿提供验证码。",
        "en": "{sender}: you are ordering {name} from {provider} at {price}/month, charged to your phone bill every month "
              "once confirmed, until you cancel. To confirm, enter code {code} within {minutes} minutes (nothing is charged before you confirm). "
              "To cancel: \"My subscriptions\", Cancel, or call customer care. If you did not order this, do not give the code to anyone.",
    },
    "per_use": {
        "zh": "【{sender}】您正在订购{provider}提供的“{name}”，资费{price}/次，订购确认后每次使用从话费中扣除，直至您退订。"
              "确认订购请输入验证码{code}（{minutes}分钟内有效，订购确认前不收费）。退订：在“我的订购”中点击“退订”，或致电客服。如非本人操作，请勿提供验证码。",
        "en": "{sender}: you are ordering {name} from {provider} at {price} per use, charged to your phone bill for each use "
              "once confirmed, until you cancel. To confirm, enter code {code} within {minutes} minutes (nothing is charged before you confirm). "
              "To cancel: \"My subscriptions\", Cancel, or call customer care. If you did not order this, do not give the code to anyone.",
    },
}


class LineNotInServiceError(ConflictError):
    """A suspended (停机) or closed line takes no new orders: nothing new may become chargeable on it."""

    code = "line_not_in_service"


class AlreadySubscribedError(ConflictError):
    """The subscriber already has the offer, confirmed and running: a second subscription would only charge them
    twice for one service. ``details.subscription_id`` names the one they have; cancelling it lets them order
    again."""

    code = "already_subscribed"



def _require_in_service(acc: Access, msisdn: str) -> None:
    """Refuse to start or confirm an order on a line that is suspended or closed. Cancelling stays open: it only
    stops charges."""
    sub = get_subscriber(acc.conn, msisdn)
    if sub is not None and sub.status in (SubscriberStatus.SUSPENDED.value, SubscriberStatus.CLOSED.value):
        raise LineNotInServiceError(f"the line is {sub.status}: no new subscription can be ordered or confirmed on it",
                                    details={"status": sub.status})


class SubscriptionOut(BaseModel):
    subscription_id: str
    offer_id: str
    name_en: str
    name_zh: str
    provider: str | None
    price: str | None
    period: str | None
    state: str
    confirmation: str
    ordered_at: datetime | None
    confirmed_at: datetime | None
    ended_at: datetime | None
    currency: str | None = None
    confirm_with: str | None = None  # "sms_code": a one-time code was sent to the phone; the confirmation gives it back
    # why it ended, when the system ended it: "line_closed" (the line was closed, 销户), with ``ended_why`` in en and zh
    ended_reason: str | None = None
    ended_why: dict[str, str] | None = None


# what a subscription ended by the closing of its line says where subscriptions are listed
LINE_CLOSED_WHY = {
    "en": "Ended when the line was closed: it is no longer charged. A line opened again orders and confirms a service "
          "again before it is charged for it.",
    "zh": "号码销户时已自动退订，不再收费。号码重新开通后，如需该业务须重新订购并确认后才会计费。",
}


class OfferOut(BaseModel):
    offer_id: str
    name_en: str
    name_zh: str
    provider: str
    price: str
    currency: str
    period: str


def offers(catalog: Catalog, conn: Connection | None = None, *, at: datetime | None = None) -> list[OfferOut]:
    """The catalog's offers on sale: given ``conn``, without those of the providers suspended at ``at`` (now)."""
    cur = catalog.operator.currency
    listed = catalog.offers if conn is None else on_sale(conn, catalog.offers, at=at or utc_now())
    return [
        OfferOut(offer_id=o.id, name_en=o.name.en, name_zh=o.name.zh, provider=o.provider, price=str(o.price), currency=cur, period=o.period.value)
        for o in listed
    ]


def _require_on_sale(acc: Access, catalog: Catalog, offer_id: str) -> None:
    """Refuse an order, a confirmation or a new code of an offer whose provider is suspended now (409
    ``merchant_suspended``): a suspended provider gets no new consent to charge. An offer no longer in the catalog
    is left to the other checks."""
    provider = next((o.provider for o in catalog.offers if o.id == offer_id), None)
    if provider is not None:
        require_on_sale(acc.conn, provider, offer_id, at=acc.now)


def _projection(acc: Access, msisdn: str) -> pl.DataFrame:
    """The line's subscriptions and their state now; for a subscriber, those of their holding only (begun, by their
    first event, at or after ``Access.holding_from``): an earlier holder's of the number are not theirs, neither
    listed nor blocking an order (``already_subscribed``)."""
    ledger = consent_ledger(acc.conn, msisdns=[msisdn])
    since = acc.holding_from(msisdn)
    if since is not None and ledger.num_rows:
        first: dict[str, datetime] = {}
        for sid, at in zip(ledger["subscription_id"].to_pylist(), ledger["at"].to_pylist(), strict=True):
            first[sid] = min(first.get(sid, at), at)
        keep = [sid for sid, at in first.items() if _utc(at) >= since]
        ledger = ledger.filter(pc.is_in(ledger["subscription_id"], value_set=pa.array(keep, pa.string())))
    subs = project_subscriptions(ledger)
    states = states_at(subs, acc.now).select("subscription_id", "state")
    return subs.join(states, on="subscription_id", how="left")


def subscriptions(acc: Access, catalog: Catalog, msisdn: str) -> list[SubscriptionOut]:
    reason = acc.open_subject(msisdn)
    frame = _projection(acc, msisdn)
    by_id = {o.id: o for o in catalog.offers}
    closing = closing_ends(acc.conn, msisdn) if frame.height else {}
    out = []
    for r in frame.sort("ordered_at", nulls_last=True, descending=True).iter_rows(named=True):
        o = by_id.get(r["offer_id"])
        closed = r["ended_at"] is not None and closing.get(r["subscription_id"]) == r["ended_at"]
        out.append(
            SubscriptionOut(
                subscription_id=r["subscription_id"], offer_id=r["offer_id"],
                name_en=o.name.en if o else r["offer_id"], name_zh=o.name.zh if o else r["offer_id"],
                provider=o.provider if o else None, price=str(o.price) if o else None, period=o.period.value if o else None,
                state=r["state"], confirmation=r["confirmation"], ordered_at=r["ordered_at"], confirmed_at=r["confirmed_at"], ended_at=r["ended_at"],
                currency=catalog.operator.currency if o else None,
                confirm_with=CODE_STEP if _challenge(r["order_evidence"]) is not None else None,
                ended_reason=LINE_CLOSED if closed else None, ended_why=dict(LINE_CLOSED_WHY) if closed else None,
            )
        )
    acc.audit("subscription.list", "subscriptions", msisdn=msisdn, reason=reason)
    return out


def _append(acc: Access, *, subscription_id: str, msisdn: str, offer_id: str, event: str, evidence: dict[str, Any]) -> None:
    acc.conn.execute(
        table_of(ConsentEvent).insert().values(
            event_id=consent_event_id(subscription_id, event, acc.now), subscription_id=subscription_id, msisdn=msisdn, offer_id=offer_id,
            event=event, at=acc.now, channel="web", evidence=evidence, recorded_at=acc.now, source=f"api:{acc.principal.username}",
        )
    )


def _evidence(acc: Access, **more: Any) -> dict[str, Any]:
    return {"actor": acc.principal.username, "role": acc.role.value, "request_id": acc.request_id, "via": acc.principal.via, **more}


def _lock_line(acc: Access, msisdn: str) -> None:
    """Hold the line's row until the request ends, so that two orders of one line are decided one after the other:
    the second reads the first's order once it committed (PostgreSQL: a row lock, the next statement reads what
    committed meanwhile; SQLite: the request's transaction holds the write lock already, ``Services``)."""
    t = table_of(Subscriber)
    acc.conn.execute(select(t.c.msisdn).where(t.c.msisdn == msisdn).with_for_update())
    # the request's instant is taken again now that it has the line: a request that began first but waited may
    # not date its event, and read the ledger, before an order made while it waited
    acc.now = max(acc.now, utc_now())


def _open_orders(acc: Access, msisdn: str, offer_id: str) -> tuple[str | None, str | None]:
    """The line's subscriptions of ``offer_id`` that block a new order: the first one validly confirmed and running
    (the subscriber has the offer), and the latest order still waiting for its confirmation; None: none."""
    frame = _projection(acc, msisdn).filter(pl.col("offer_id") == offer_id)
    active = frame.filter((pl.col("state") == SubscriptionState.CONFIRMED.value)
                          & (pl.col("confirmation") == ConfirmationStatus.VALID.value))
    waiting = frame.filter(pl.col("state") == SubscriptionState.ORDERED.value)
    return (
        str(active.sort("confirmed_at", "subscription_id", nulls_last=True)["subscription_id"][0]) if active.height else None,
        str(waiting.sort("ordered_at", "subscription_id", nulls_last=True)["subscription_id"][-1]) if waiting.height else None,
    )


def order(acc: Access, catalog: Catalog, offer_id: str) -> SubscriptionOut:
    """The first step: the subscriber orders; nothing is chargeable until they confirm. A line that is not in
    service (suspended or closed) takes no order. Ordering an offer the subscriber already has (confirmed and
    running) is refused (``already_subscribed``, naming that subscription): they cancel it to order again.
    Ordering an offer again while an order of it waits for confirmation (a second click, a form sent twice, two
    at once) answers that order and appends nothing: one order, one confirmation to give."""
    acc.require(Permission.OWN_CONSENT_WRITE)
    msisdn = acc.own_msisdn()
    if offer_id not in {o.id for o in catalog.offers}:
        raise InvalidInputError([Problem("request", None, "offer_id", f"no offer {offer_id!r} in the catalog")], what="order")
    _lock_line(acc, msisdn)
    _require_in_service(acc, msisdn)
    _require_on_sale(acc, catalog, offer_id)
    active, waiting = _open_orders(acc, msisdn, offer_id)
    if active is not None:
        raise AlreadySubscribedError(
            f"offer {offer_id} is already subscribed (subscription {active}, confirmed): cancel it to order again",
            details={"subscription_id": active, "offer_id": offer_id})
    if waiting is not None:
        return _one(acc, catalog, msisdn, waiting)
    sid = new_id("sub")
    key = _code_key(acc)
    challenge_id = new_id("chl")
    code = _issued_code(key, challenge_id, sid, 0)
    step = {"method": CODE_STEP, "challenge_id": challenge_id, "hash": CODE_HASH, "key_tag": _key_tag(key),
            "code_sha256": _code_tag(key, challenge_id, sid, code)}
    _append(acc, subscription_id=sid, msisdn=msisdn, offer_id=offer_id, event="ordered", evidence=_evidence(acc, second_step=step))
    acc.audit("subscription.order", f"subscription/{sid}", msisdn=msisdn, reason="own order")
    _commit_then_send(acc, _code_sms(acc, catalog, msisdn, sid, offer_id, code, issue=0))
    return _one(acc, catalog, msisdn, sid)


def _code_key(acc: Access) -> bytes:
    """The key of the one-time codes: derived from the home's secret (as the pseudonyms' keys are), apart from
    its other uses, and never written anywhere. Without it, what the ledger keeps of a code cannot be checked
    against any guess."""
    return acc.pseudonyms.msisdn_digest(_CODE_KEY_OF)


def _key_tag(key: bytes) -> str:
    """Names the code key (not the key itself): an order made under a secret since replaced is told apart."""
    return hmac.digest(key, _CODE_TAG_OF.encode(), "sha256")[:4].hex()


def _issued_code(key: bytes, challenge_id: str, subscription_id: str, issue: int) -> str:
    """The ``issue``-th code of a challenge (0: the order's, 1…: each new one asked for), ``CODE_DIGITS`` digits:
    an HMAC of the challenge under the code key (HOTP-like, RFC 4226). The challenge id is random, so no two
    orders share codes; a new code replaces the previous one because only the latest issue is checked."""
    digest = hmac.digest(key, f"code:{challenge_id}:{subscription_id}:{issue}".encode(), "sha256")
    return f"{int.from_bytes(digest[:8], 'big') % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"


def _code_tag(key: bytes, challenge_id: str, subscription_id: str, code: str) -> str:
    """What the order's event keeps of its code (``code_sha256``): HMAC-SHA256 under the code key."""
    return hmac.new(key, f"tag:{challenge_id}:{subscription_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _legacy_code_hash(salt: str, subscription_id: str, code: str) -> str:
    """``code_sha256`` of an order made before codes were keyed (``salt`` beside it)."""
    return hashlib.sha256(f"{salt}:{subscription_id}:{code}".encode()).hexdigest()


def _challenge(evidence: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The one-time code challenge an order's evidence carries, or None (an order made elsewhere: a provider's file, an
    older order)."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return None
    step = evidence.get("second_step") if isinstance(evidence, dict) else None
    if (isinstance(step, dict) and step.get("method") == CODE_STEP and step.get("code_sha256") and step.get("challenge_id")
            and (step.get("hash") == CODE_HASH or step.get("salt"))):
        return step
    return None


def price_text(price: Decimal | str | None, currency: str | None, period: str | None, language: str, *, sms: bool = False) -> str:
    """A price with its period in the subscriber's language: ``10.00 元/月``, ``10.00 CNY/month``, ``1.00 元/次``;
    ``sms``: as the operator's SMS write amounts in Chinese (``10.00元``)."""
    if price is None:
        return ""
    amount = Decimal(str(price)).quantize(Decimal("0.01"))
    cur = currency or ""
    unit = _CURRENCY_ZH.get(cur, cur) if language == "zh" else cur
    words = _PERIOD_WORDS.get(period or "", {}).get(language)
    text = (f"{amount}{unit}" if language == "zh" and sms else f"{amount} {unit}").strip()
    if not words:
        return text
    return f"{text}/{words}" if language == "zh" or period == "monthly" else f"{text} per {words}"


def _outbox_dir(acc: Access) -> Path | None:
    """The home's outbox (``Settings.outbox_dir``: beside the lake, in the home)."""
    return acc.lake.root.parent / "outbox" if acc.lake is not None else None


def _code_sms(acc: Access, catalog: Catalog, msisdn: str, subscription_id: str, offer_id: str, code: str, *,
              issue: int) -> tuple[Path, OutboxMessage] | None:
    """The SMS with the order's terms and its one-time code (its ``issue``-th), in the subscriber's language, and
    the outbox it is for; None: no outbox (a home without a lake) or an offer no longer in the catalog."""
    directory = _outbox_dir(acc)
    offer = next((o for o in catalog.offers if o.id == offer_id), None)
    if directory is None or offer is None:
        return None
    sub = get_subscriber(acc.conn, msisdn)
    lang = sub.language if sub is not None and sub.language in ("zh", "en") else "zh"
    period = offer.period.value
    text = _CODE_SMS.get(period, _CODE_SMS["monthly"])[lang].format(
        sender=catalog.operator.name.in_language(lang), provider=offer.provider, name=offer.name.in_language(lang),
        price=price_text(offer.price, catalog.operator.currency, None, lang, sms=True), code=code,
        minutes=int(CODE_TTL.total_seconds() // 60),
    )
    message_id = stable_id("msg", "confirm_code", subscription_id) if issue == 0 else stable_id("msg", "confirm_code", subscription_id, issue)
    return directory, OutboxMessage(message_id=message_id, msisdn=msisdn, language=lang, kind="confirm_code", text=text,
                                    created_at=acc.now)


def _commit_then_send(acc: Access, sms: tuple[Path, OutboxMessage] | None) -> None:
    """Commit the request's transaction (the order or the new code, with their audit rows), then put the SMS in
    the outbox: a commit that fails raises here, and no SMS names an order or a code that does not exist. An SMS
    that cannot be written after the commit leaves an order without its code: the subscriber asks for a new one
    (``resend_code``). Later reads of the request run in a new transaction."""
    acc.end()
    if sms is not None:
        FileOutbox(sms[0]).send([sms[1]])


def _owned(acc: Access, subscription_id: str) -> tuple[str, str]:
    t = table_of(ConsentEvent)
    row = acc.conn.execute(select(t.c.msisdn, t.c.offer_id).where(t.c.subscription_id == subscription_id).limit(1)).first()
    if row is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    return row.msisdn, row.offer_id


def _own(acc: Access, subscription_id: str, msisdn: str) -> None:
    """A subscriber acts on their own line's subscription only. Another line's is answered as not found (its
    existence is not confirmed), and the attempt is on record as a refused access to that line (``access.denied``
    with its subscriber's pseudonym), as a probe of another's bill is."""
    try:
        acc.open_subject(msisdn)
    except PermissionDeniedError:
        raise NotFoundError(f"no subscription {subscription_id}") from None
    since = acc.holding_from(msisdn)
    if since is not None:  # an earlier holder's subscription of the number is not the subscriber's to act on
        t = table_of(ConsentEvent)
        began = acc.conn.scalar(select(func.min(t.c.at)).where(t.c.subscription_id == subscription_id))
        if began is None or _utc(began) < since:
            raise NotFoundError(f"no subscription {subscription_id}")


def _one(acc: Access, catalog: Catalog, msisdn: str, subscription_id: str) -> SubscriptionOut:
    for s in subscriptions(acc, catalog, msisdn):
        if s.subscription_id == subscription_id:
            return s
    raise NotFoundError(f"no subscription {subscription_id}")


def _state(acc: Access, msisdn: str, subscription_id: str) -> str:
    frame = _projection(acc, msisdn).filter(pl.col("subscription_id") == subscription_id)
    return str(frame["state"][0]) if frame.height else "none"


def _order_challenge(acc: Access, subscription_id: str) -> tuple[dict[str, Any] | None, datetime | None]:
    """The challenge the order's event issued (None: it sent no code) and when the order was made."""
    t = table_of(ConsentEvent)
    row = acc.conn.execute(select(t.c.evidence, t.c.at).where(t.c.subscription_id == subscription_id, t.c.event == "ordered")
                           .order_by(t.c.at, t.c.event_id).limit(1)).first()
    return (None, None) if row is None else (_challenge(row.evidence), _utc(row.at))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _resends(acc: Access, subscription_id: str) -> list[datetime]:
    """When each new code of the order was sent, oldest first: the audit rows of the requests that committed
    (a request that failed keeps its row, marked failed, and sent nothing)."""
    t = table_of(AccessAudit)
    rows = acc.conn.execute(select(t.c.at).where(
        t.c.action == CODE_RESENT, t.c.resource == f"subscription/{subscription_id}",
        t.c.reason.like(f"{_RESEND_REASON}%"), ~t.c.reason.contains("(failed:"),
    ).order_by(t.c.at, t.c.audit_id)).all()
    return [_utc(r.at) for r in rows]


def _rejected_codes(acc: Access, subscription_id: str, since: datetime) -> int:
    """Wrong codes given since the code in force was sent. Each one's row was committed before its answer, under
    the line's lock (``_check_code``): read under the same lock, the count is exact, attempts made at the same
    moment included."""
    t = table_of(AccessAudit)
    rows = acc.conn.execute(select(t.c.audit_id).where(
        t.c.action == CODE_REJECTED, t.c.resource == f"subscription/{subscription_id}", t.c.at >= since)).all()
    return len(rows)


def _new_code_hint(subscription_id: str, resends: int) -> str:
    return (f"ask for a new code (POST /api/v1/me/subscriptions/{subscription_id}/resend-code)" if resends < MAX_CODE_RESENDS
            else "cancel this order and order again for a new code")


def _check_code(acc: Access, msisdn: str, subscription_id: str, code: str) -> dict[str, Any]:
    """The confirmation's ``second_step`` evidence once ``code`` matched the latest one sent for the order (the
    order's, or the last new one asked for); a wrong code is refused (422, field ``code``) and counted; after
    ``MAX_CODE_ATTEMPTS`` wrong ones the code is spent. A code older than ``CODE_TTL`` is refused (409,
    ``details.reason: code_expired``), as is the first code of an order made under a secret since replaced
    (``code_key_replaced``): the subscriber asks for a new code."""
    step, ordered_at = _order_challenge(acc, subscription_id)
    if step is None or ordered_at is None:
        raise ConflictError(f"subscription {subscription_id}: no confirmation code was sent for this order",
                            details={"subscription_id": subscription_id})
    resends = _resends(acc, subscription_id)
    issue, sent_at = len(resends), (resends[-1] if resends else ordered_at)
    hint = _new_code_hint(subscription_id, issue)
    if _rejected_codes(acc, subscription_id, sent_at) >= MAX_CODE_ATTEMPTS:
        raise ConflictError(f"subscription {subscription_id}: {MAX_CODE_ATTEMPTS} wrong codes were given, the code is spent; {hint}",
                            details={"subscription_id": subscription_id, "reason": "code_spent"})
    expires_at = sent_at + CODE_TTL
    if acc.now >= expires_at:
        raise ConflictError(f"subscription {subscription_id}: the code sent at {sent_at.isoformat()} expired at "
                            f"{expires_at.isoformat()} (a code works {int(CODE_TTL.total_seconds() // 60)} minutes); {hint}",
                            details={"subscription_id": subscription_id, "reason": "code_expired", "field": "code",
                                     "expired_at": expires_at.isoformat()})
    key = _code_key(acc)
    challenge_id = str(step["challenge_id"])
    if issue == 0 and step.get("hash") == CODE_HASH and step.get("key_tag") != _key_tag(key):
        raise ConflictError(f"subscription {subscription_id}: the code was sent before the home's secret was replaced and "
                            f"cannot be checked any more; {hint}",
                            details={"subscription_id": subscription_id, "reason": "code_key_replaced", "field": "code"})
    given = code.strip()
    well_formed = given.isascii() and given.isdigit() and len(given) == CODE_DIGITS
    if issue > 0:
        matched = hmac.compare_digest(_issued_code(key, challenge_id, subscription_id, issue), given if well_formed else "")
    elif step.get("hash") == CODE_HASH:
        matched = hmac.compare_digest(_code_tag(key, challenge_id, subscription_id, given), str(step["code_sha256"]))
    else:  # an order made before codes were keyed: its salted hash, for its first code only
        matched = hmac.compare_digest(_legacy_code_hash(str(step.get("salt")), subscription_id, given), str(step["code_sha256"]))
    if not (well_formed and matched):
        # counted at once: the row commits before the answer (the caller holds the line, ``_lock_line``), so the
        # next attempt, however soon, counts it; a request that fails keeps it all the same
        raise acc.commit_refusal(
            InvalidInputError([Problem("request", None, "code", "the code does not match the one sent to your phone")], what="confirmation"),
            CODE_REJECTED, f"subscription/{subscription_id}", msisdn=msisdn, reason="wrong confirmation code")
    return {"method": CODE_STEP, "challenge_id": challenge_id, "code_verified": True}


def confirm(acc: Access, catalog: Catalog, subscription_id: str, code: str | None = None, *, require_code: bool = True) -> SubscriptionOut:
    """The second step, which only the subscriber can take: from now on the offer may be charged (not on a line
    that has been suspended or closed since the order). ``code``: the one-time code the order sent to the
    subscriber's phone; right, the confirmation's evidence records it verified (a person's, whatever its speed);
    wrong, the confirmation is refused and counted (``_check_code``). An order that sent a code is confirmed with
    it only: without one it is refused (422, field ``code``), and a code spent by wrong ones stays spent. Only an
    order that sent no code (made elsewhere, a provider's file, or before codes were sent) is confirmed without
    one, unverified, and charge assurance judges it by its speed. ``require_code`` is kept for the console's
    form; a code sent is always required."""
    del require_code
    acc.require(Permission.OWN_CONSENT_WRITE)
    acc.own_msisdn()  # a subscriber login, with its line
    msisdn, offer_id = _owned(acc, subscription_id)
    _own(acc, subscription_id, msisdn)
    _lock_line(acc, msisdn)  # attempts at one order are decided one after the other: each counts the wrong codes before it
    state = _state(acc, msisdn, subscription_id)
    if state != "ordered":
        raise ConflictError(f"subscription {subscription_id} is {state}: only an order waiting for confirmation can be confirmed")
    _require_in_service(acc, msisdn)
    _require_on_sale(acc, catalog, offer_id)
    if code is None and _order_challenge(acc, subscription_id)[0] is not None:  # the order sent a code: it is needed
        raise InvalidInputError([Problem("request", None, "code", "the code sent to your phone by SMS is needed to confirm")],
                                what="confirmation")
    more: dict[str, Any] = {} if code is None else {"second_step": _check_code(acc, msisdn, subscription_id, code)}
    _append(acc, subscription_id=subscription_id, msisdn=msisdn, offer_id=offer_id, event="confirmed", evidence=_evidence(acc, **more))
    acc.audit("subscription.confirm", f"subscription/{subscription_id}", msisdn=msisdn, reason="own confirmation")
    return _one(acc, catalog, msisdn, subscription_id)


def resend_code(acc: Access, catalog: Catalog, subscription_id: str) -> SubscriptionOut:
    """A new one-time code for an order waiting for confirmation, by SMS as the first (the offer's terms and the
    code); the previous code stops working and the new one works ``CODE_TTL``. Only the subscriber, for their own
    order, on a line in service. At most ``MAX_CODE_RESENDS`` new codes per order (then 409: cancel and order
    again), and not within ``RESEND_INTERVAL`` of the previous code (429, ``retry_after_s``). Each new code is on
    record (``subscription.code_resent``); the SMS leaves once that record is committed."""
    acc.require(Permission.OWN_CONSENT_WRITE)
    acc.own_msisdn()
    msisdn, offer_id = _owned(acc, subscription_id)
    _own(acc, subscription_id, msisdn)
    _lock_line(acc, msisdn)  # two requests of one order are decided one after the other
    state = _state(acc, msisdn, subscription_id)
    if state != "ordered":
        raise ConflictError(f"subscription {subscription_id} is {state}: only an order waiting for confirmation gets a new code",
                            details={"subscription_id": subscription_id})
    _require_in_service(acc, msisdn)
    _require_on_sale(acc, catalog, offer_id)
    step, ordered_at = _order_challenge(acc, subscription_id)
    if step is None or ordered_at is None:
        raise ConflictError(f"subscription {subscription_id}: this order was not confirmed by a code sent to the phone",
                            details={"subscription_id": subscription_id})
    resends = _resends(acc, subscription_id)
    if len(resends) >= MAX_CODE_RESENDS:
        raise ConflictError(f"subscription {subscription_id}: {MAX_CODE_RESENDS} new codes were sent already; "
                            "cancel this order and order again", details={"subscription_id": subscription_id, "reason": "resend_limit"})
    wait = (resends[-1] if resends else ordered_at) + RESEND_INTERVAL - acc.now
    if wait > timedelta(0):
        seconds = math.ceil(wait.total_seconds())
        raise RateLimitedError(f"subscription {subscription_id}: a code was sent less than {int(RESEND_INTERVAL.total_seconds())} "
                               f"seconds ago; ask again in {seconds} s", details={"subscription_id": subscription_id, "retry_after_s": seconds})
    issue = len(resends) + 1
    code = _issued_code(_code_key(acc), str(step["challenge_id"]), subscription_id, issue)
    acc.audit(CODE_RESENT, f"subscription/{subscription_id}", msisdn=msisdn, reason=_RESEND_REASON)
    _commit_then_send(acc, _code_sms(acc, catalog, msisdn, subscription_id, offer_id, code, issue=issue))
    return _one(acc, catalog, msisdn, subscription_id)


def cancel(acc: Access, catalog: Catalog, subscription_id: str) -> SubscriptionOut:
    """The subscriber, or an agent handling them, ends a subscription; charges stop from this instant."""
    if acc.role not in (Role.SUBSCRIBER, Role.AGENT):
        raise PermissionDeniedError(f"role {acc.role.value} may not cancel subscriptions")
    msisdn, offer_id = _owned(acc, subscription_id)
    if acc.role is Role.SUBSCRIBER:
        acc.require(Permission.OWN_CONSENT_WRITE)
        _own(acc, subscription_id, msisdn)
        reason = "own cancellation"
    else:
        reason = acc.open_subject(msisdn)
    state = _state(acc, msisdn, subscription_id)
    if state not in ("ordered", "confirmed"):
        raise ConflictError(f"subscription {subscription_id} is {state}: nothing to cancel")
    _append(acc, subscription_id=subscription_id, msisdn=msisdn, offer_id=offer_id, event="cancelled", evidence=_evidence(acc))
    acc.audit("subscription.cancel", f"subscription/{subscription_id}", msisdn=msisdn, reason=reason)
    return _one(acc, catalog, msisdn, subscription_id)
