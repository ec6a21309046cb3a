"""An agent's note on a complaint is stored masked (``care.mask_note``), in the append-only history (0021) that
nothing erases: what is read back has no ID-card number or e-mail address in it. A phone number in it is stored as a
token (``care.tokenise_note``) and read back as the number."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.care import ComplaintStatus
from fairtel.privacy import ID_NUMBER_MARK, Pseudonymizer
from fairtel.store import AuditAs, ComplaintEvent, connect, get_complaint, migrate, move_complaint, open_complaint
from fairtel.store._schema import table_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"), reason="complaint desk")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    yield e
    e.dispose()


def test_the_stored_note_is_masked(engine: Engine) -> None:
    with engine.begin() as conn:
        cid = open_complaint(conn, msisdn="8613800138000", category="billing_error", text="charged twice", at=T0,
                             audit=DESK).complaint_id
        move_complaint(conn, cid, ComplaintStatus.ACKNOWLEDGED, at=T0 + timedelta(hours=1), audit=DESK,
                       note="call +86 139-0013-9000, ID 11010519491231002X, mail zhang.san@example.com")
    with engine.connect() as conn:
        stored = conn.execute(select(table_of(ComplaintEvent).c.note)).scalars().all()
        shown = [e.note for e in get_complaint(conn, cid).history]
    note = next(n for n in stored if n)
    assert "11010519491231002X" not in note and "zhang.san" not in note
    assert ID_NUMBER_MARK in note and "z***@example.com" in note
    assert note.endswith("[已隐去个人信息 personal data masked]")
    # the phone number kept apart, as a token (``care.tokenise_note``), so that an erasure can forget it
    assert "[tel:" in note and "139-0013-9000" not in note and "13900139000" not in note
    # read back with the number (E.164) in the token's place, the masking as stored: readers are shown it by role
    (read,) = [n for n in shown if n]
    assert read == note.replace(note[note.index("[tel:"):note.index("]", note.index("[tel:")) + 1], "8613900139000")
    assert "call 8613900139000, ID " in read and "11010519491231002X" not in read and "zhang.san" not in read
