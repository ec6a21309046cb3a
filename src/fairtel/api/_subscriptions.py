"""A subscriber's value-added subscriptions: order, confirm (the second, explicit step), cancel.

Each action appends one event to the consent ledger; state is always the ledger's projection.

The second step is the operator's SMS 二次确认: a subscriber's order sends a one-time code to their phone, in an
SMS (the outbox) that restates the offer's terms (name, price per period, provider, charged to the phone bill
until cancelled, how to cancel); the subscriber confirms by giving the code back. The order's event keeps the
code's salted hash, never the code; the confirmation's event records that the code matched
(``consent.code_verified``), which charge assurance takes as proof that a person confirmed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel
from sqlalchemy import select

from fairtel.api._access import Access
from fairtel.assurance import FileOutbox, OutboxMessage
from fairtel.catalog import Catalog
from fairtel.consent import CODE_STEP, ConfirmationStatus, SubscriptionState, project_subscriptions, states_at
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id, stable_id
from fairtel.core.time import utc_now
from fairtel.privacy import Permission, Role
from fairtel.store import ConsentEvent, Subscriber, consent_event_id, consent_ledger, get_subscriber
from fairtel.store._schema import AccessAudit, table_of

CODE_DIGITS = 6
MAX_CODE_ATTEMPTS = 5
"""Wrong codes an order takes; past them its code is spent and the subscriber orders again (cancelling this one)."""
CODE_REJECTED = "subscription.confirm_code_rejected"  # the audit action of a wrong code, counted per order

_PERIOD_WORDS = {
    "monthly": {"zh": "月", "en": "month"},
    "per_use": {"zh": "次", "en": "use"},
}
_CURRENCY_ZH = {"CNY": "元", "EUR": "欧元", "USD": "美元", "HKD": "港元"}
_CODE_SMS = {
    "monthly": {
        "zh": "【{sender}】您正在订购{provider}提供的“{name}”，资费{price}/月，订购确认后每月从话费中扣除，直至您退订。"
              "确认订购请输入验证码{code}（订购确认前不收费）。退订：在“我的订购”中点击“退订”，或致电客服。如非本人操作，请勿提供验证码。",
        "en": "{sender}: you are ordering {name} from {provider} at {price}/month, charged to your phone bill every month "
              "once confirmed, until you cancel. To confirm, enter code {code} (nothing is charged before you confirm). "
              "To cancel: \"My subscriptions\", Cancel, or call customer care. If you did not order this, do not give the code to anyone.",
    },
    "per_use": {
        "zh": "【{sender}】您正在订购{provider}提供的“{name}”，资费{price}/次，订购确认后每次使用从话费中扣除，直至您退订。"
              "确认订购请输入验证码{code}（订购确认前不收费）。退订：在“我的订购”中点击“退订”，或致电客服。如非本人操作，请勿提供验证码。",
        "en": "{sender}: you are ordering {name} from {provider} at {price} per use, charged to your phone bill for each use "
              "once confirmed, until you cancel. To confirm, enter code {code} (nothing is charged before you confirm). "
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


class OfferOut(BaseModel):
    offer_id: str
    name_en: str
    name_zh: str
    provider: str
    price: str
    currency: str
    period: str


def offers(catalog: Catalog) -> list[OfferOut]:
    cur = catalog.operator.currency
    return [
        OfferOut(offer_id=o.id, name_en=o.name.en, name_zh=o.name.zh, provider=o.provider, price=str(o.price), currency=cur, period=o.period.value)
        for o in catalog.offers
    ]


def _projection(acc: Access, msisdn: str) -> pl.DataFrame:
    subs = project_subscriptions(consent_ledger(acc.conn, msisdns=[msisdn]))
    states = states_at(subs, acc.now).select("subscription_id", "state")
    return subs.join(states, on="subscription_id", how="left")


def subscriptions(acc: Access, catalog: Catalog, msisdn: str) -> list[SubscriptionOut]:
    reason = acc.open_subject(msisdn)
    frame = _projection(acc, msisdn)
    by_id = {o.id: o for o in catalog.offers}
    out = []
    for r in frame.sort("ordered_at", nulls_last=True, descending=True).iter_rows(named=True):
        o = by_id.get(r["offer_id"])
        out.append(
            SubscriptionOut(
                subscription_id=r["subscription_id"], offer_id=r["offer_id"],
                name_en=o.name.en if o else r["offer_id"], name_zh=o.name.zh if o else r["offer_id"],
                provider=o.provider if o else None, price=str(o.price) if o else None, period=o.period.value if o else None,
                state=r["state"], confirmation=r["confirmation"], ordered_at=r["ordered_at"], confirmed_at=r["confirmed_at"], ended_at=r["ended_at"],
                currency=catalog.operator.currency if o else None,
                confirm_with=CODE_STEP if _challenge(r["order_evidence"]) is not None else None,
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
    active, waiting = _open_orders(acc, msisdn, offer_id)
    if active is not None:
        raise AlreadySubscribedError(
            f"offer {offer_id} is already subscribed (subscription {active}, confirmed): cancel it to order again",
            details={"subscription_id": active, "offer_id": offer_id})
    if waiting is not None:
        return _one(acc, catalog, msisdn, waiting)
    sid = new_id("sub")
    code = _new_code()
    step = _second_step(sid, code)
    _append(acc, subscription_id=sid, msisdn=msisdn, offer_id=offer_id, event="ordered", evidence=_evidence(acc, second_step=step))
    acc.audit("subscription.order", f"subscription/{sid}", msisdn=msisdn, reason="own order")
    _send_code(acc, catalog, msisdn, sid, offer_id, code)
    return _one(acc, catalog, msisdn, sid)


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_hash(salt: str, subscription_id: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{subscription_id}:{code}".encode()).hexdigest()


def _second_step(subscription_id: str, code: str) -> dict[str, str]:
    """What the order's event keeps of its one-time code: a challenge id and the code's salted hash."""
    salt = secrets.token_hex(16)
    return {"method": CODE_STEP, "challenge_id": new_id("chl"), "salt": salt, "code_sha256": _code_hash(salt, subscription_id, code)}


def _challenge(evidence: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The one-time code challenge an order's evidence carries, or None (an order made elsewhere: a provider's file, an
    older order)."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return None
    step = evidence.get("second_step") if isinstance(evidence, dict) else None
    if isinstance(step, dict) and step.get("method") == CODE_STEP and step.get("code_sha256") and step.get("salt"):
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


def _send_code(acc: Access, catalog: Catalog, msisdn: str, subscription_id: str, offer_id: str, code: str) -> None:
    """The SMS with the order's terms and its one-time code, in the subscriber's language, to the outbox."""
    directory = _outbox_dir(acc)
    offer = next((o for o in catalog.offers if o.id == offer_id), None)
    if directory is None or offer is None:
        return
    sub = get_subscriber(acc.conn, msisdn)
    lang = sub.language if sub is not None and sub.language in ("zh", "en") else "zh"
    period = offer.period.value
    text = _CODE_SMS.get(period, _CODE_SMS["monthly"])[lang].format(
        sender=catalog.operator.name.in_language(lang), provider=offer.provider, name=offer.name.in_language(lang),
        price=price_text(offer.price, catalog.operator.currency, None, lang, sms=True), code=code,
    )
    FileOutbox(directory).send([OutboxMessage(
        message_id=stable_id("msg", "confirm_code", subscription_id), msisdn=msisdn, language=lang, kind="confirm_code",
        text=text, created_at=acc.now,
    )])


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


def _one(acc: Access, catalog: Catalog, msisdn: str, subscription_id: str) -> SubscriptionOut:
    for s in subscriptions(acc, catalog, msisdn):
        if s.subscription_id == subscription_id:
            return s
    raise NotFoundError(f"no subscription {subscription_id}")


def _state(acc: Access, msisdn: str, subscription_id: str) -> str:
    frame = _projection(acc, msisdn).filter(pl.col("subscription_id") == subscription_id)
    return str(frame["state"][0]) if frame.height else "none"


def _order_challenge(acc: Access, subscription_id: str) -> dict[str, Any] | None:
    t = table_of(ConsentEvent)
    row = acc.conn.execute(select(t.c.evidence).where(t.c.subscription_id == subscription_id, t.c.event == "ordered")
                           .order_by(t.c.at, t.c.event_id).limit(1)).first()
    return None if row is None else _challenge(row.evidence)


def _rejected_codes(acc: Access, subscription_id: str) -> int:
    t = table_of(AccessAudit)
    rows = acc.conn.execute(select(t.c.audit_id).where(t.c.action == CODE_REJECTED, t.c.resource == f"subscription/{subscription_id}")).all()
    return len(rows)


def _check_code(acc: Access, msisdn: str, subscription_id: str, code: str) -> dict[str, Any]:
    """The confirmation's ``second_step`` evidence once ``code`` matched the one its order sent; a wrong code is
    refused (422, field ``code``) and counted; after ``MAX_CODE_ATTEMPTS`` wrong ones the order's code is spent."""
    step = _order_challenge(acc, subscription_id)
    if step is None:
        raise ConflictError(f"subscription {subscription_id}: no confirmation code was sent for this order",
                            details={"subscription_id": subscription_id})
    if _rejected_codes(acc, subscription_id) >= MAX_CODE_ATTEMPTS:
        raise ConflictError(f"subscription {subscription_id}: {MAX_CODE_ATTEMPTS} wrong codes were given, the code is spent; "
                            "cancel this order and order again for a new code", details={"subscription_id": subscription_id})
    given = code.strip()
    expected = str(step["code_sha256"])
    if not (given.isascii() and given.isdigit() and len(given) == CODE_DIGITS) or not hmac.compare_digest(
            _code_hash(str(step["salt"]), subscription_id, given), expected):
        acc.audit(CODE_REJECTED, f"subscription/{subscription_id}", msisdn=msisdn, reason="wrong confirmation code")
        raise InvalidInputError([Problem("request", None, "code", "the code does not match the one sent to your phone")],
                                what="confirmation")
    return {"method": CODE_STEP, "challenge_id": step.get("challenge_id"), "code_verified": True}


def confirm(acc: Access, catalog: Catalog, subscription_id: str, code: str | None = None, *, require_code: bool = False) -> SubscriptionOut:
    """The second step, which only the subscriber can take: from now on the offer may be charged (not on a line
    that has been suspended or closed since the order). ``code``: the one-time code the order sent to the
    subscriber's phone; given and right, the confirmation's evidence records it verified (a person's, whatever its
    speed); given and wrong, the confirmation is refused. Without a code the confirmation is recorded as before,
    unverified, and charge assurance judges it by its speed; ``require_code`` (the console's confirmation form)
    refuses it when the order sent a code."""
    acc.require(Permission.OWN_CONSENT_WRITE)
    acc.own_msisdn()  # a subscriber login, with its line
    msisdn, offer_id = _owned(acc, subscription_id)
    _own(acc, subscription_id, msisdn)
    state = _state(acc, msisdn, subscription_id)
    if state != "ordered":
        raise ConflictError(f"subscription {subscription_id} is {state}: only an order waiting for confirmation can be confirmed")
    _require_in_service(acc, msisdn)
    if code is None and require_code and _order_challenge(acc, subscription_id) is not None:
        raise InvalidInputError([Problem("request", None, "code", "the code sent to your phone by SMS is needed to confirm")],
                                what="confirmation")
    more: dict[str, Any] = {} if code is None else {"second_step": _check_code(acc, msisdn, subscription_id, code)}
    _append(acc, subscription_id=subscription_id, msisdn=msisdn, offer_id=offer_id, event="confirmed", evidence=_evidence(acc, **more))
    acc.audit("subscription.confirm", f"subscription/{subscription_id}", msisdn=msisdn, reason="own confirmation")
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
