"""A number typed into a new note after its subscriber's erasure is stored as erased (``NOTE_NUMBER_ERASED``), its
number kept nowhere, and the notes written before the erasure stay erased (SQLite and PostgreSQL). The erasure is
recognised by what it keeps: its access-audit row, filed under the number's keyed pseudonym. A number the register
gave to a new holding after the erasure is known again, under another token than the erased notes'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from fairtel.care import ComplaintStatus
from fairtel.care._complaints import NOTE_NUMBER_ERASED, note_token
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, get_complaint, move_complaint, open_complaint
from fairtel.store._audit import record_access
from fairtel.store._complaints import count_note_numbers
from fairtel.store._erasure import apply_in_database, plan
from fairtel.store._schema import ComplaintEvent, ComplaintNoteNumber, Customer, Subscriber, table_of

GONE, LIVE = "8613900000011", "8613900000012"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
AT = NOW - timedelta(days=400)
KEY = Pseudonymizer("k" * 32, domain="msisdn")
DESK = AuditAs("desk-1", "agent", KEY, reason="complaint desk")


def _lines(conn: Any) -> None:
    conn.execute(table_of(Customer).insert(), [{"customer_id": "c-1", "name": "Zhang Wei", "segment": "consumer",
                                                "created_at": AT}])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": m, "customer_id": "c-1", "plan_id": "basic-39", "activated_at": AT, "status": "closed",
         "language": "zh", "region": "cq", "updated_at": AT, "closed_at": NOW - timedelta(days=30), "suspended_at": None}
        for m in (GONE, LIVE)])


def _erase(engine: Engine, msisdn: str, at: datetime) -> int:
    """``fairtel privacy erase --apply``: its access-audit row (the line as its keyed pseudonym), then its changes."""
    with engine.begin() as conn:
        planned = plan(conn, msisdn, now=at)
        assert planned.refused == (), planned.refused
        record_access(conn, actor="cli", role="cli", action="subscriber.erase", resource="home/privacy/erasure",
                      subject_msisdn_pseudonym=KEY(msisdn), reason="erasure at the subscriber's request", at=at)
        apply_in_database(conn, planned)
        return planned.note_numbers


def _note(engine: Engine, cid: str, to: ComplaintStatus, at: datetime, note: str) -> str:
    """Move the complaint with ``note``; the note as stored."""
    with engine.begin() as conn:
        move_complaint(conn, cid, to, at=at, audit=DESK, note=note)
    e = table_of(ComplaintEvent)
    with engine.connect() as conn:
        return str(conn.execute(select(e.c.note).where(e.c.complaint_id == cid).order_by(e.c.seq.desc())).scalars().first())


def _shown(engine: Engine, cid: str) -> list[str]:
    with engine.connect() as conn:
        return [e.note for e in get_complaint(conn, cid).history if e.note]


def _numbers(engine: Engine) -> list[tuple[str, str]]:
    n = table_of(ComplaintNoteNumber)
    with engine.connect() as conn:
        return sorted((r.token, r.number) for r in conn.execute(select(n.c.token, n.c.number)))


def test_a_number_named_after_its_erasure_is_stored_erased_until_a_new_holding(engine: Engine) -> None:
    with engine.begin() as conn:
        _lines(conn)
        cid = open_complaint(conn, msisdn=LIVE, category="billing_error", text="charged twice", at=AT,
                             audit=DESK).complaint_id
    _note(engine, cid, ComplaintStatus.ACKNOWLEDGED, AT + timedelta(hours=1), "rang his brother 13900000011")
    assert _erase(engine, GONE, NOW) == 1
    assert _shown(engine, cid) == [f"rang his brother {NOTE_NUMBER_ERASED}"]

    # after the erasure: every spelling of the number, glued to letters too, stored as erased; the other number kept
    stored = _note(engine, cid, ComplaintStatus.RESOLVED, NOW + timedelta(hours=1),
                   "brother +86 139 0000 0011 again, tel13900000011x; wife 13900000012")
    assert not any(ch.isdigit() for ch in stored)
    assert stored.count(NOTE_NUMBER_ERASED) == 2 and stored.count("[tel:") == 1
    assert [n for _, n in _numbers(engine)] == [LIVE]  # the erased number is in no row: nothing gives it back
    assert _shown(engine, cid) == [
        f"rang his brother {NOTE_NUMBER_ERASED}",  # the note written before stays erased
        f"brother {NOTE_NUMBER_ERASED} again, tel{NOTE_NUMBER_ERASED}x; wife 13900000012",
    ]
    with engine.connect() as conn:
        assert count_note_numbers(conn, GONE) == 0  # a next erasure has nothing of it to forget

    # the register gives the number to a new holding: known again, under a token of its own
    s = table_of(Subscriber)
    with engine.begin() as conn:
        conn.execute(update(s).where(s.c.msisdn == GONE).values(
            status="active", activated_at=NOW + timedelta(days=1), closed_at=None, updated_at=NOW + timedelta(days=1)))
    _note(engine, cid, ComplaintStatus.CLOSED, NOW + timedelta(days=2), "new holder on 13900000011 called")
    numbers = _numbers(engine)
    assert sorted(n for _, n in numbers) == [GONE, LIVE]
    assert note_token(GONE, KEY) not in {t for t, _ in numbers}  # not the erased notes' token
    shown = _shown(engine, cid)
    assert shown[0] == f"rang his brother {NOTE_NUMBER_ERASED}" and shown[-1] == "new holder on 13900000011 called"

    # erased again (the new holder): forgotten, and named again, stored erased
    with engine.begin() as conn:
        conn.execute(update(s).where(s.c.msisdn == GONE).values(status="closed", closed_at=NOW + timedelta(days=3)))
    assert _erase(engine, GONE, NOW + timedelta(days=40)) == 1
    assert _shown(engine, cid)[-1] == f"new holder on {NOTE_NUMBER_ERASED} called"
    stored = _note(engine, cid, ComplaintStatus.REOPENED, NOW + timedelta(days=41), "13900000011 asked again")
    assert stored == f"{NOTE_NUMBER_ERASED} asked again" and [n for _, n in _numbers(engine)] == [LIVE]


def test_a_note_naming_a_number_never_erased_keeps_its_keyed_token(engine: Engine) -> None:
    with engine.begin() as conn:
        _lines(conn)
        cid = open_complaint(conn, msisdn=LIVE, category="billing_error", text="charged twice", at=AT,
                             audit=DESK).complaint_id
        # an audit row of another action about the number is no erasure
        record_access(conn, actor="desk-1", role="agent", action="complaint.history", resource=f"complaint/{cid}",
                      subject_msisdn_pseudonym=KEY(GONE), reason=None, at=AT)
    _note(engine, cid, ComplaintStatus.ACKNOWLEDGED, AT + timedelta(hours=1), "rang 13900000011")
    assert _numbers(engine) == [(note_token(GONE, KEY), GONE)]
    assert _shown(engine, cid) == ["rang 13900000011"]
