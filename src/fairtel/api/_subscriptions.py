"""A subscriber's value-added subscriptions: order, confirm (the second, explicit step), cancel.

Each action appends one event to the consent ledger; state is always the ledger's projection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from pydantic import BaseModel
from sqlalchemy import select

from fairtel.api._access import Access
from fairtel.catalog import Catalog
from fairtel.consent import ConfirmationStatus, SubscriptionState, project_subscriptions, states_at
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.ids import new_id
from fairtel.core.time import utc_now
from fairtel.privacy import Permission, Role
from fairtel.store import ConsentEvent, Subscriber, consent_event_id, consent_ledger, get_subscriber
from fairtel.store._schema import table_of


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
    _append(acc, subscription_id=sid, msisdn=msisdn, offer_id=offer_id, event="ordered", evidence=_evidence(acc))
    acc.audit("subscription.order", f"subscription/{sid}", msisdn=msisdn, reason="own order")
    return _one(acc, catalog, msisdn, sid)


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


def confirm(acc: Access, catalog: Catalog, subscription_id: str) -> SubscriptionOut:
    """The second step, which only the subscriber can take: from now on the offer may be charged (not on a line
    that has been suspended or closed since the order)."""
    acc.require(Permission.OWN_CONSENT_WRITE)
    acc.own_msisdn()  # a subscriber login, with its line
    msisdn, offer_id = _owned(acc, subscription_id)
    _own(acc, subscription_id, msisdn)
    state = _state(acc, msisdn, subscription_id)
    if state != "ordered":
        raise ConflictError(f"subscription {subscription_id} is {state}: only an order waiting for confirmation can be confirmed")
    _require_in_service(acc, msisdn)
    _append(acc, subscription_id=subscription_id, msisdn=msisdn, offer_id=offer_id, event="confirmed", evidence=_evidence(acc))
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
