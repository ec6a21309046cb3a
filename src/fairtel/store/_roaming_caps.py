"""The roaming spending caps subscribers set themselves (``roaming_caps``, written by ``PUT /me/roaming-cap``, the
console and the assistant), read for bill-shock detection.

The table is append-only: a line's latest row is the cap in force, and a row without an amount removes it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from fairtel.assurance._billshock import SubscriberCap
from fairtel.core.money import Money
from fairtel.core.time import require_aware
from fairtel.store._report import chunks
from fairtel.store._schema import RoamingCap, Subscriber, table_of


def caps_in_force(
    conn: Connection, *, at: datetime, msisdns: Collection[str] | None = None
) -> dict[str, SubscriberCap]:
    """The cap each line's subscriber had set as of ``at`` (msisdn → ``SubscriberCap``: the amount and when it was
    set): its latest row set no later than ``at`` (two set at one instant: the later cap id, as the API reads
    it); a line whose latest row has no amount (the cap removed), or that never set one, has none. Only caps set in
    the line's current holding count: a row set before the register's ``activated_at`` of the line (the number was
    closed and activated again since, for a new holder) is an earlier holder's and does not apply. Of ``msisdns``
    alone when given. Read for detection, not shown: the caller audits what it shows of them."""
    when = require_aware(at, "at").astimezone(UTC)
    t, s = table_of(RoamingCap), table_of(Subscriber)
    rank = (
        func.row_number().over(partition_by=t.c.msisdn, order_by=(t.c.set_at.desc(), t.c.cap_id.desc())).label("rank")
    )
    base = (
        select(t.c.msisdn, t.c.amount_minor, t.c.currency, t.c.set_at, rank)
        .select_from(t.outerjoin(s, s.c.msisdn == t.c.msisdn))
        .where(t.c.set_at <= when, or_(s.c.activated_at.is_(None), t.c.set_at >= s.c.activated_at))
    )
    groups: list[list[str] | None] = [None] if msisdns is None else list(chunks(sorted(set(msisdns)), 5000))
    out: dict[str, SubscriberCap] = {}
    for group in groups:
        stmt = base if group is None else base.where(t.c.msisdn.in_(group))
        latest = stmt.subquery()
        rows = conn.execute(
            select(latest.c.msisdn, latest.c.amount_minor, latest.c.currency, latest.c.set_at).where(latest.c.rank == 1)
        )
        for r in rows:
            if r.amount_minor is None or r.currency is None:
                continue  # removed
            out[r.msisdn] = SubscriberCap(
                Money.from_minor(int(r.amount_minor), r.currency), require_aware(r.set_at, "roaming_caps.set_at")
            )
    return dict(sorted(out.items()))
