"""A number an agent writes in a note on a complaint, as dialled at home, is read back as written through the store
(``get_complaint``: ``13800138000``, not ``8613800138000``) while the table of note numbers keeps the E.164 number the
erasure matches, and the downgrade of 0025 writes it back into the note as written. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, select

from fairtel.care import ComplaintStatus
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, get_complaint, move_complaint, open_complaint
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import ComplaintEvent, ComplaintNoteNumber, table_of

LINE = "8613800138000"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"), reason="complaint desk")
NOTE = "rang 139 0013 9000 and 0086 137-0013-7000; ticket cmp-13800138000-01"
AS_WRITTEN = "rang 13900139000 and 008613700137000; ticket cmp-13800138000-01"


def test_read_back_and_downgraded_as_written(engine: Engine) -> None:
    with engine.begin() as conn:
        cid = open_complaint(conn, msisdn=LINE, category="billing_error", text="charged twice", at=AT,
                             audit=DESK).complaint_id
        move_complaint(conn, cid, ComplaintStatus.ACKNOWLEDGED, at=AT + timedelta(hours=1), audit=DESK, note=NOTE)
    e, n = table_of(ComplaintEvent), table_of(ComplaintNoteNumber)
    with engine.connect() as conn:
        (stored,) = [x for x in conn.execute(select(e.c.note).where(e.c.complaint_id == cid)).scalars() if x]
        numbers = sorted(conn.execute(select(n.c.number)).scalars())
        (shown,) = [x.note for x in get_complaint(conn, cid).history if x.note]
    assert "0013" not in stored and "13800138000" not in stored and stored.count("[tel:") == 3, stored
    assert numbers == ["8613700137000", LINE, "8613900139000"]  # E.164: what erasure matches
    assert shown == AS_WRITTEN

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0024")
    with engine.connect() as conn:
        (after,) = [x for x in conn.execute(select(e.c.note).where(e.c.complaint_id == cid)).scalars() if x]
    assert after == AS_WRITTEN
