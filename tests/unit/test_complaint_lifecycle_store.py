"""The complaint lifecycle persisted (SQLite): opening, moves checked by the care package's rules, the history,
escalation of overdue complaints, links, the audit, and rows written by readers that predate the lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Engine

from fairtel.care import ComplaintStatus, Escalation
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError
from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    Adjustment,
    AuditAs,
    Complaint,
    ComplaintEvent,
    access_log,
    connect,
    escalate_overdue,
    get_complaint,
    migrate,
    move_complaint,
    open_complaint,
)
from fairtel.store._schema import COMPLAINT_LIFECYCLE, table_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINE = "8613800138000"
OTHER = "8613900139000"
PSEUDO = Pseudonymizer("k" * 32, domain="msisdn")
DESK = AuditAs("desk-1", "agent", PSEUDO, reason="complaint desk")
SLA = AuditAs("sla", "system", PSEUDO)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    yield e
    e.dispose()


def _open(engine: Engine, category: str = "unexplained_charge", *, at: datetime = T0, **kw: object) -> str:
    with engine.begin() as conn:
        return open_complaint(conn, msisdn=LINE, category=category, text="charged 6 yuan", at=at, audit=DESK, **kw).complaint_id  # type: ignore[arg-type]


def _move(engine: Engine, cid: str, to: ComplaintStatus, hours: float, **kw: object) -> object:
    with engine.begin() as conn:
        return move_complaint(conn, cid, to, at=T0 + timedelta(hours=hours), audit=DESK, **kw)  # type: ignore[arg-type]


def _adjustment(engine: Engine, adj_id: str, msisdn: str = LINE) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table_of(Adjustment)).values(
            adjustment_id=adj_id, kind="refund", msisdn=msisdn, amount_minor=600, currency="CNY", reason="unconsented",
            created_at=T0, created_by="assure"))


def test_lifecycle_names_match_the_care_package() -> None:
    assert tuple(s.value for s in ComplaintStatus) == COMPLAINT_LIFECYCLE


def test_open_sets_deadline_status_and_first_event(engine: Engine) -> None:
    cid = _open(engine, links={"conversation_id": "conv_1"})
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
    assert (rec.status, rec.store_status, rec.escalation_level) == ("opened", "open", 0)
    assert rec.due_at == T0 + timedelta(hours=48)  # unexplained charges: 48 h to resolve
    assert rec.conversation_id == "conv_1"
    assert [(e.seq, e.kind, e.status, e.actor, e.recorded) for e in rec.history] == [(1, "status", "opened", "desk-1", True)]


def test_full_lifecycle_keeps_history_and_coarse_status(engine: Engine) -> None:
    cid = _open(engine)
    _adjustment(engine, "adj_1")
    _move(engine, cid, ComplaintStatus.ACKNOWLEDGED, 1)
    with engine.connect() as conn:
        assert get_complaint(conn, cid).store_status == "in_progress"
    _move(engine, cid, ComplaintStatus.RESOLVED, 10, note="refunded 6.00", refund="adj_1")
    _move(engine, cid, ComplaintStatus.CLOSED, 30)
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
    assert rec.status == "closed" and rec.store_status == "closed"
    assert rec.closed_at == T0 + timedelta(hours=10)  # settled by the resolution; the close does not move it
    assert rec.adjustment_id == "adj_1"
    assert [e.status for e in rec.history] == ["opened", "acknowledged", "resolved", "closed"]
    assert [e.seq for e in rec.history] == [1, 2, 3, 4]
    assert rec.history[2].note == "refunded 6.00"
    _move(engine, cid, ComplaintStatus.REOPENED, 40, note="charged again")
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
    assert (rec.status, rec.store_status, rec.closed_at) == ("reopened", "open", None)


@pytest.mark.parametrize(("path", "bad"), [
    ([ComplaintStatus.CLOSED], ComplaintStatus.ACKNOWLEDGED),  # closed: only reopened
    ([ComplaintStatus.CLOSED], ComplaintStatus.RESOLVED),
    ([ComplaintStatus.ACKNOWLEDGED], ComplaintStatus.REOPENED),  # not settled: nothing to reopen
    ([], ComplaintStatus.OPENED),
])
def test_a_move_the_lifecycle_forbids_is_a_conflict_and_writes_nothing(
    engine: Engine, path: list[ComplaintStatus], bad: ComplaintStatus
) -> None:
    cid = _open(engine)
    for n, status in enumerate(path, start=1):
        _move(engine, cid, status, n)
    with pytest.raises(ConflictError, match=r"cannot become|reopened, not opened"):
        _move(engine, cid, bad, 20)
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
        audits = access_log(conn)
    assert len(rec.history) == 1 + len(path)
    assert len(audits) == 1 + len(path)  # the opening and each move; the refused one is not audited


def test_conflict_names_both_statuses(engine: Engine) -> None:
    cid = _open(engine)
    _move(engine, cid, ComplaintStatus.CLOSED, 1)
    with pytest.raises(ConflictError) as info:
        _move(engine, cid, ComplaintStatus.ACKNOWLEDGED, 2)
    assert info.value.details == {"from": "closed", "to": "acknowledged"}


def test_refund_must_exist_be_the_same_line_and_only_settle_a_resolution(engine: Engine) -> None:
    cid = _open(engine)
    with pytest.raises(NotFoundError):
        _move(engine, cid, ComplaintStatus.RESOLVED, 1, refund="adj_missing")
    _adjustment(engine, "adj_other", OTHER)
    with pytest.raises(ConflictError, match="another line"):
        _move(engine, cid, ComplaintStatus.RESOLVED, 1, refund="adj_other")
    _adjustment(engine, "adj_mine")
    with pytest.raises(InvalidInputError):
        _move(engine, cid, ComplaintStatus.ACKNOWLEDGED, 1, refund="adj_mine")
    with engine.connect() as conn:
        assert get_complaint(conn, cid).status == "opened"


def test_links_are_checked_when_opening(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="no finding"):
        _open(engine, links={"finding_id": "fnd_missing"})
    with pytest.raises(InvalidInputError):
        _open(engine, links={"record_id": "r1"})


def test_writes_are_audited_with_pseudonyms(engine: Engine) -> None:
    cid = _open(engine)
    _move(engine, cid, ComplaintStatus.RESOLVED, 2)
    with engine.connect() as conn:
        log = access_log(conn)
    assert [r.action for r in log] == ["complaint.resolve", "complaint.create"]
    assert {r.subject_msisdn_pseudonym for r in log} == {PSEUDO(LINE)}
    assert {r.resource for r in log} == {f"complaint/{cid}"}
    assert all(LINE not in (r.reason or "") for r in log)


def test_overdue_complaints_escalate_one_level_per_event_and_only_once(engine: Engine) -> None:
    late = _open(engine, "unexplained_charge")  # ack 4 h, resolve 48 h
    fresh = _open(engine, "network_quality", at=T0 + timedelta(hours=70))  # ack 24 h
    settled = _open(engine, "unexplained_charge")
    _move(engine, settled, ComplaintStatus.RESOLVED, 1)
    at = T0 + timedelta(hours=5)  # acknowledgement overdue: supervisor
    with engine.begin() as conn:
        first = escalate_overdue(conn, now=at, audit=SLA)
    assert [(e.complaint_id, e.from_level, e.to_level) for e in first] == [(late, 0, 1)]
    with engine.begin() as conn:
        assert escalate_overdue(conn, now=at, audit=SLA) == []  # nothing new: nothing written
    at = T0 + timedelta(hours=48 + 25)  # resolution overdue by more than the margin: manager
    with engine.begin() as conn:
        second = escalate_overdue(conn, now=at, audit=SLA)
    assert [(e.complaint_id, e.from_level, e.to_level) for e in second] == [(late, 1, 2)]
    with engine.connect() as conn:
        rec = get_complaint(conn, late)
        assert get_complaint(conn, fresh).escalation_level == 0
        assert get_complaint(conn, settled).escalation_level == 0
    assert rec.escalation_level == Escalation.MANAGER
    assert [(e.kind, e.status) for e in rec.history] == [("status", "opened"), ("escalation", "opened"), ("escalation", "opened")]
    assert "manager (level 2)" in (rec.history[-1].note or "")


def test_a_jump_of_two_levels_writes_two_events(engine: Engine) -> None:
    cid = _open(engine, "fraud")  # resolve 24 h, manager after 24 h more
    with engine.begin() as conn:
        (esc,) = escalate_overdue(conn, now=T0 + timedelta(hours=60), audit=SLA)
    assert (esc.from_level, esc.to_level) == (0, 2)
    with engine.connect() as conn:
        assert [e.kind for e in get_complaint(conn, cid).history].count("escalation") == 2


def test_rows_written_outside_the_lifecycle_are_read_and_repaired(engine: Engine) -> None:
    """A complaint inserted and closed by a writer that only knows the coarse status (as the API does)."""
    c = table_of(Complaint)
    with engine.begin() as conn:
        conn.execute(insert(c).values(complaint_id="cmp_api", msisdn=LINE, category="billing_error", opened_at=T0,
                                      closed_at=None, status="open", channel="web", text="wrong bill"))
        conn.execute(update(c).where(c.c.complaint_id == "cmp_api").values(status="in_progress"))
        conn.execute(update(c).where(c.c.complaint_id == "cmp_api").values(status="closed", closed_at=T0 + timedelta(hours=3)))
    with engine.connect() as conn:
        rec = get_complaint(conn, "cmp_api")
    assert rec.status == "closed" and rec.due_at == T0 + timedelta(hours=48)
    assert [(e.status, e.recorded) for e in rec.history] == [("opened", False), ("closed", False)]
    assert rec.history[-1].at == T0 + timedelta(hours=3)
    _move(engine, "cmp_api", ComplaintStatus.REOPENED, 5)
    with engine.connect() as conn:
        rec = get_complaint(conn, "cmp_api")
        stored = conn.execute(select(table_of(ComplaintEvent).c.status).order_by(table_of(ComplaintEvent).c.seq)).scalars().all()
        due = conn.execute(select(c.c.due_at, c.c.lifecycle).where(c.c.complaint_id == "cmp_api")).one()
    assert stored == ["opened", "closed", "reopened"]
    assert all(e.recorded for e in rec.history)
    # reopened at 5 h: a billing error is due 48 h from the reopening
    assert due.lifecycle == "reopened" and due.due_at == T0 + timedelta(hours=5 + 48)


def test_unknown_complaint_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFoundError), engine.begin() as conn:
        move_complaint(conn, "cmp_nope", "acknowledged", at=T0, audit=DESK)


def test_check_constraints_keep_statuses_closed(engine: Engine) -> None:
    cid = _open(engine)
    with pytest.raises(Exception, match="CHECK"), engine.begin() as conn:
        conn.execute(text("UPDATE complaints SET lifecycle = 'lost' WHERE complaint_id = :c"), {"c": cid})


def test_sla_attainment_uses_the_deadline_stored_at_opening(engine: Engine) -> None:
    from fairtel.care import SlaPolicy
    from fairtel.kpi import ComplaintFact
    from fairtel.kpi._service import sla_attainment

    tight = SlaPolicy(resolve={"default": 72, "unexplained_charge": 1})
    with engine.begin() as conn:
        cid = open_complaint(conn, msisdn=LINE, category="unexplained_charge", text="6 yuan", at=T0, audit=DESK,
                             policy=tight).complaint_id
    _move(engine, cid, ComplaintStatus.RESOLVED, 2)  # within today's 48 h, not within the 1 h promised then
    c = table_of(Complaint)
    with engine.connect() as conn:
        r = conn.execute(select(c).where(c.c.complaint_id == cid)).one()
    fact = ComplaintFact(r.complaint_id, r.category, r.channel, r.opened_at, r.closed_at, r.due_at)
    figures = sla_attainment([fact], T0 + timedelta(days=5))
    assert (figures["resolved"], figures["resolved_in_time"]) == (1, 0)


def test_the_assistants_complaint_fills_the_link_columns(engine: Engine) -> None:
    from fairtel.care import ComplaintRequest
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.store import StoreCareData

    data = StoreCareData(engine, Path("unused-lake"), load_catalog(default_catalog_path()), clock=lambda: T0,
                         pseudonymize=PSEUDO)
    cid = data.record_complaint(LINE, ComplaintRequest(category="unexplained_charge", text="扣了我6元", channel="chat",
                                                       conversation_id="conv_9", links={"record_id": "r-17"}))
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
        log = access_log(conn)
    assert rec.conversation_id == "conv_9" and rec.finding_id is None
    assert rec.text == "扣了我6元\n[record_id=r-17]"  # no column for a usage record: it stays with the words
    assert rec.history[0].actor == "assistant"
    assert [(r.action, r.actor, r.subject_msisdn_pseudonym) for r in log] == [("complaint.create", "assistant", PSEUDO(LINE))]
