"""A subscriber's refusal of marketing based on automated profiling (PIPL Art. 24): the retention list's offers
and calls, and `fairtel advise`'s plan notices. Each line's say is kept in ``marketing_preferences`` (migration 0020), one row per change, the latest
in force; a line without a row has not refused. The subscriber says it themselves (``/me/marketing``, the
console's subscriptions page), or an agent handling them records it on their behalf
(``/subscribers/{msisdn}/marketing``); every read and change is in the access audit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field, StrictBool
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from fairtel.api._access import Access
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.ids import new_id
from fairtel.privacy import Permission, Role
from fairtel.store._schema import MARKETING_CHANNELS, MARKETING_SOURCES, MarketingPreference, Subscriber, table_of

SOURCES = MARKETING_SOURCES  # who recorded the change
CHANNELS = MARKETING_CHANNELS  # how the subscriber said it
SUBSCRIBER_CHANNELS = ("api", "web", "app")  # the ones a subscriber uses themselves
AGENT_CHANNELS = ("phone", "store", "sms", "letter", "web", "app")  # what a subscriber asked an agent through
PREFERENCES = table_of(MarketingPreference)


class MarketingIn(BaseModel):
    opted_out: StrictBool = Field(description="true: send me no marketing (retention offers and calls); false: I accept it.")
    channel: str | None = Field(
        None, pattern="^(" + "|".join(CHANNELS) + ")$",
        description="How the subscriber said it. Their own request: api (the default), web or app; an agent recording "
                    "it for them: phone (the default), store, sms, letter, web or app.")


class MarketingOut(BaseModel):
    opted_out: bool = Field(description="Whether the line refuses marketing; false when it never said.")
    changed_at: datetime | None = Field(description="When the line last said so; null when it never did.")
    channel: str | None
    source: str | None = Field(description="subscriber (they said it themselves) or agent (recorded on their behalf).")
    changed_by: str | None = Field(description="The login that recorded it, as the audit names it.")


def opted_out_lines(conn: Connection, msisdns: Iterable[str] | None = None) -> set[str]:
    """The lines whose latest say refuses marketing (of ``msisdns`` only, when given). Only what the line's current
    holder said counts: a say recorded before the line's current activation (the register's ``activated_at``) is an
    earlier holder's of the number, one recorded before an owner change (``holder_since``) the previous customer's,
    and the line has not refused until its holder says so."""
    t, s = PREFERENCES, table_of(Subscriber)
    q = (select(t.c.msisdn, t.c.opted_out).select_from(t.outerjoin(s, s.c.msisdn == t.c.msisdn))
         .where(or_(s.c.activated_at.is_(None), t.c.changed_at >= s.c.activated_at))
         .where(or_(s.c.holder_since.is_(None), t.c.changed_at >= s.c.holder_since))
         .order_by(t.c.msisdn, t.c.changed_at, t.c.pref_id))
    if msisdns is not None:
        wanted = sorted(set(msisdns))
        if not wanted:
            return set()
        q = q.where(t.c.msisdn.in_(wanted))
    latest: dict[str, bool] = {}
    for msisdn, opted_out in conn.execute(q):
        latest[msisdn] = bool(opted_out)
    return {m for m, refused in latest.items() if refused}


def _latest(conn: Connection, msisdn: str, *, since: datetime | None = None) -> MarketingOut | None:
    """The line's latest say; of those recorded at or after ``since`` only, when given (a subscriber's holding)."""
    t = PREFERENCES
    q = select(t.c.opted_out, t.c.changed_at, t.c.channel, t.c.source, t.c.changed_by).where(t.c.msisdn == msisdn)
    if since is not None:
        q = q.where(t.c.changed_at >= since)
    r = conn.execute(q.order_by(t.c.changed_at.desc(), t.c.pref_id.desc()).limit(1)).first()
    if r is None:
        return None
    return MarketingOut(opted_out=bool(r.opted_out), changed_at=r.changed_at, channel=r.channel, source=r.source,
                        changed_by=r.changed_by)


def marketing_preference(acc: Access, msisdn: str) -> MarketingOut:
    """The line's say (the subscriber's own, or a customer an agent is handling)."""
    reason = acc.open_subject(msisdn)
    # a subscriber reads the say of their own holding (an earlier holder's is not theirs): without one, the default
    out = _latest(acc.conn, msisdn, since=acc.holding_from(msisdn))
    acc.audit("marketing.read", "marketing", msisdn=msisdn, reason=reason)
    if out is None:
        return MarketingOut(opted_out=False, changed_at=None, channel=None, source=None, changed_by=None)
    return out.model_copy(update={"changed_by": acc.login_name(out.changed_by)})


def set_marketing_preference(acc: Access, msisdn: str, body: MarketingIn) -> MarketingOut:
    """Record the line's say: the subscriber their own, an agent a customer they are handling (the customer's
    call, recorded for them). A new row each time (the history is kept); the latest is in force."""
    if acc.role is Role.SUBSCRIBER:
        acc.require(Permission.OWN_CONSENT_WRITE)
    reason = acc.open_subject(msisdn)
    source = "subscriber" if acc.role is Role.SUBSCRIBER else "agent"
    allowed = SUBSCRIBER_CHANNELS if source == "subscriber" else AGENT_CHANNELS
    channel = body.channel or allowed[0]
    if channel not in allowed:
        raise InvalidInputError([Problem("request", None, "channel", f"{source} channels are {', '.join(allowed)}; "
                                                                     f"not {channel!r}")], what="marketing preference")
    said = "refuses marketing" if body.opted_out else "accepts marketing"
    # recorded before the write: a change that fails to be stored leaves its attempt in the audit (marked failed)
    acc.audit("marketing.set", "marketing", msisdn=msisdn, reason=f"{reason}: {said} ({source}, {channel})")
    acc.conn.execute(PREFERENCES.insert().values(
        pref_id=new_id("mkt"), msisdn=msisdn, opted_out=body.opted_out, changed_at=acc.now, channel=channel,
        source=source, changed_by=acc.actor))
    return MarketingOut(opted_out=body.opted_out, changed_at=acc.now, channel=channel, source=source, changed_by=acc.actor)
