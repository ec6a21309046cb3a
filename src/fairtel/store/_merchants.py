"""Value-added providers whose billing rights are suspended (``merchant_suspensions``, append-only).

A provider assurance ranks as fee-stealing (扣费) is suspended by an operator, with who, when and why, and may be
lifted later. From the suspension on, until it is lifted, the consent gate refuses every VAS charge of the provider
dated in between (``merchant_windows``: what ``consent.gate_vas`` takes as ``suspended``); charges dated before
stay as they were. Each suspension and each lift is an entry of its own: nothing is updated or deleted. A
suspended provider is also off sale (下架): its offers are not listed, ordered or confirmed (``on_sale``,
``require_on_sale``), so that it gets no new consent to charge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fairtel.core.errors import ConflictError
from fairtel.core.time import require_aware
from fairtel.store._schema import MerchantSuspension, table_of

SUSPEND = "suspend"
LIFT = "lift"
_ACTOR_MAX = 64
_ID_MAX = 64


@dataclass(frozen=True, slots=True)
class MerchantSuspensionRecord:
    """One suspension of a provider: from ``suspended_at`` (by ``suspended_by``, for ``reason``) until
    ``lifted_at`` (by ``lifted_by``, ``lift_reason``); ``lifted_at`` None: still in force."""

    provider_id: str
    suspended_at: datetime
    suspended_by: str
    reason: str | None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

    def to_dict(self) -> dict[str, object]:
        return {
            "provider_id": self.provider_id,
            "suspended_at": self.suspended_at.isoformat(),
            "suspended_by": self.suspended_by,
            "reason": self.reason,
            "lifted_at": None if self.lifted_at is None else self.lifted_at.isoformat(),
            "lifted_by": self.lifted_by,
            "lift_reason": self.lift_reason,
        }


def _entries(
    conn: Connection, provider_id: str | None = None, at: datetime | None = None
) -> list[tuple[str, str, datetime, str, str | None]]:
    t = table_of(MerchantSuspension)
    query = select(t.c.provider_id, t.c.action, t.c.at, t.c.actor, t.c.reason)
    if provider_id is not None:
        query = query.where(t.c.provider_id == provider_id)
    if at is not None:
        query = query.where(t.c.at <= require_aware(at, "at"))
    rows = conn.execute(query.order_by(t.c.provider_id, t.c.at, t.c.entry_id))
    return [(str(p), str(a), at_, str(who), why) for p, a, at_, who, why in rows]


def _fold(entries: Iterable[tuple[str, str, datetime, str, str | None]]) -> list[MerchantSuspensionRecord]:
    """The entries (by provider, then in the order they were made) as suspensions. A suspension entered while one is
    in force (two operators at once) continues it; a lift with none in force lifts nothing."""
    out: list[MerchantSuspensionRecord] = []
    open_: dict[str, MerchantSuspensionRecord] = {}
    for provider, action, at, actor, reason in entries:
        current = open_.get(provider)
        if action == SUSPEND and current is None:
            open_[provider] = MerchantSuspensionRecord(provider, at, actor, reason)
        elif action == LIFT and current is not None:
            out.append(
                MerchantSuspensionRecord(
                    provider, current.suspended_at, current.suspended_by, current.reason, at, actor, reason
                )
            )
            del open_[provider]
    out.extend(open_.values())
    return sorted(out, key=lambda s: (s.provider_id, s.suspended_at))


def merchant_suspensions(
    conn: Connection, *, provider_id: str | None = None, at: datetime | None = None, in_force: bool = False
) -> list[MerchantSuspensionRecord]:
    """Every suspension recorded (up to ``at``, when given: as it stood then), by provider then date; ``in_force``:
    only those not lifted."""
    found = _fold(_entries(conn, provider_id, at))
    return [s for s in found if s.in_force] if in_force else found


def suspended_merchants(conn: Connection, at: datetime | None = None) -> dict[str, datetime]:
    """The providers suspended as of ``at`` (default: now, every entry), each with the instant it is suspended
    since: the consent gate refuses their charges dated at or after it."""
    return {s.provider_id: s.suspended_at for s in merchant_suspensions(conn, at=at, in_force=True)}


def merchant_windows(
    conn: Connection, at: datetime | None = None
) -> dict[str, tuple[tuple[datetime, datetime | None], ...]]:
    """Every provider ever suspended (as of ``at``) → the windows its charges are refused in: ``(since, until)``,
    ``until`` None while in force (what ``consent.gate_vas`` takes as ``suspended``). A charge dated within a
    window lifted since stays refused, rated again or not: the provider had no billing rights when it was made."""
    out: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for s in merchant_suspensions(conn, at=at):
        out.setdefault(s.provider_id, []).append((s.suspended_at, s.lifted_at))
    return {p: tuple(w) for p, w in out.items()}


def _check(provider_id: str, actor: str) -> tuple[str, str]:
    provider = provider_id.strip()
    who = actor.strip()
    if not provider or len(provider) > _ID_MAX:
        raise ValueError(f"provider id must be 1 to {_ID_MAX} characters, got {provider_id!r}")
    if not who:
        raise ValueError("who suspends or lifts a provider must be named")
    return provider, who[:_ACTOR_MAX]


def suspend_merchant(
    conn: Connection, provider_id: str, *, at: datetime, actor: str, reason: str
) -> MerchantSuspensionRecord | None:
    """Suspend ``provider_id``'s billing rights from ``at`` (in ``conn``'s transaction). Returns the suspension made;
    None, writing nothing, when the provider is suspended already (idempotent: the suspension in force stays)."""
    provider, who = _check(provider_id, actor)
    require_aware(at, "at")
    if not reason.strip():
        raise ValueError("a suspension needs a reason")
    if merchant_suspensions(conn, provider_id=provider, in_force=True):
        return None
    conn.execute(
        table_of(MerchantSuspension)
        .insert()
        .values(provider_id=provider, action=SUSPEND, at=at, actor=who, reason=reason.strip())
    )
    return MerchantSuspensionRecord(provider, at, who, reason.strip())


def lift_merchant(
    conn: Connection, provider_id: str, *, at: datetime, actor: str, reason: str | None = None
) -> MerchantSuspensionRecord | None:
    """Lift the suspension in force of ``provider_id`` at ``at``: its charges dated from then on are billable again
    (those dated while it was suspended stay refused). Returns the suspension as lifted; None, writing nothing,
    when the provider is not suspended."""
    provider, who = _check(provider_id, actor)
    require_aware(at, "at")
    current = merchant_suspensions(conn, provider_id=provider, in_force=True)
    if not current:
        return None
    since = current[0]
    if at < since.suspended_at:
        raise ValueError(
            f"{provider}: a lift at {at.isoformat()} would come before its suspension at {since.suspended_at.isoformat()}"
        )
    text = reason.strip() if reason and reason.strip() else None
    conn.execute(
        table_of(MerchantSuspension).insert().values(provider_id=provider, action=LIFT, at=at, actor=who, reason=text)
    )
    return MerchantSuspensionRecord(provider, since.suspended_at, since.suspended_by, since.reason, at, who, text)


class MerchantSuspendedError(ConflictError):
    """The offer's provider is suspended (its billing rights, ``fairtel merchants suspend``): its offers take no new
    order or confirmation until the suspension is lifted. ``details``: ``provider_id``, ``offer_id`` and
    ``suspended_since``."""

    code = "merchant_suspended"


class _Sold(Protocol):
    """An offer as the catalog lists it: the provider that sells it."""

    @property
    def provider(self) -> str: ...


_O = TypeVar("_O", bound=_Sold)


def offer_suspension(conn: Connection, provider_id: str, *, at: datetime) -> MerchantSuspensionRecord | None:
    """The suspension of ``provider_id`` in force at ``at`` (as the entries stood then: one lifted later still held
    at ``at``), None when the provider may sell then."""
    found = merchant_suspensions(conn, provider_id=provider_id.strip(), at=require_aware(at, "at"), in_force=True)
    return found[0] if found else None


def on_sale(conn: Connection, offers: Iterable[_O], *, at: datetime) -> list[_O]:
    """``offers`` (the catalog's, say) without those of the providers suspended at ``at``, in their order: what a
    subscriber is offered. One read of the suspensions, whatever the number of offers."""
    off = suspended_merchants(conn, at=require_aware(at, "at"))
    return [o for o in offers if o.provider not in off]


def require_on_sale(conn: Connection, provider_id: str, offer_id: str, *, at: datetime) -> None:
    """Refuse (``MerchantSuspendedError``, 409) an order, a confirmation or a new code for ``offer_id`` when its
    provider ``provider_id`` is suspended at ``at``: nothing new may become chargeable by it. Cancelling stays
    open."""
    current = offer_suspension(conn, provider_id, at=at)
    if current is None:
        return
    raise MerchantSuspendedError(
        f"服务商{current.provider_id}已暂停，暂不受理其业务（{offer_id}）的订购或确认 / provider {current.provider_id} is "
        f"suspended: {offer_id} cannot be ordered or confirmed",
        details={"provider_id": current.provider_id, "offer_id": offer_id,
                 "suspended_since": current.suspended_at.isoformat()},
    )

