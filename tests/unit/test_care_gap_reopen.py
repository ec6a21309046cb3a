"""The complaint lifecycle's timers after a reopening, and events in the repeated hour of a clock change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fairtel.care import (
    Complaint,
    Escalation,
    escalations,
    open_complaint,
    sla_state,
    surveys_due,
    transition,
)

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
# 2026-10-25 03:00 CEST the clocks go back to 02:00 CET: 02:40 CEST (00:40 UTC) comes before 02:20 CET (01:20 UTC)
FIRST_PASS = datetime(2026, 10, 25, 2, 40, tzinfo=BERLIN)
SECOND_PASS = datetime(2026, 10, 25, 2, 20, fold=1, tzinfo=BERLIN)


def _reopened(at: datetime = T0 + timedelta(hours=100)) -> Complaint:
    """An unexplained charge (acknowledge 4 h, resolve 48 h) acknowledged and resolved in time, reopened later."""
    c = open_complaint("c-1", "8613800138000", "unexplained_charge", "扣了钱", at=T0)
    c = transition(c, "acknowledged", at=T0 + timedelta(hours=1), by="agent")
    c = transition(c, "resolved", at=T0 + timedelta(hours=10), by="agent")
    return transition(c, "reopened", at=at, by="subscriber")


def test_a_reopened_complaint_is_due_from_its_reopening() -> None:
    reopened = T0 + timedelta(hours=100)
    state = sla_state(_reopened(reopened), reopened + timedelta(hours=1))
    assert state.resolve_due == reopened + timedelta(hours=48)
    assert state.resolved_in_time is None and state.escalation is Escalation.NONE
    assert escalations([_reopened(reopened)], reopened + timedelta(hours=1)) == []


def test_a_reopened_complaint_must_be_acknowledged_again() -> None:
    reopened = T0 + timedelta(hours=100)
    c = _reopened(reopened)
    # as the store asks: with the deadline stored for the reopened term
    state = sla_state(c, reopened + timedelta(hours=5), due_at=reopened + timedelta(hours=48))
    assert state.acknowledge_due == reopened + timedelta(hours=4)
    assert state.acknowledged_in_time is False and state.escalation is Escalation.SUPERVISOR
    again = transition(c, "acknowledged", at=reopened + timedelta(hours=2), by="agent")
    state = sla_state(again, reopened + timedelta(hours=5), due_at=reopened + timedelta(hours=48))
    assert state.acknowledged_in_time is True and state.escalation is Escalation.NONE


def test_resolved_reopened_resolved_has_two_terms_each_with_its_deadline() -> None:
    reopened = T0 + timedelta(hours=100)
    c = transition(_reopened(reopened), "resolved", at=reopened + timedelta(hours=50), by="agent")
    assert [(t.started_at, t.due_at, t.settled_at, t.reopened) for t in c.terms()] == [
        (T0, T0 + timedelta(hours=48), T0 + timedelta(hours=10), False),
        (reopened, reopened + timedelta(hours=48), reopened + timedelta(hours=50), True)]
    assert c.opened_at == T0 and c.term_started_at == reopened
    assert sla_state(c, reopened + timedelta(days=9)).resolved_in_time is False  # 50 h against 48 h


def test_a_move_in_the_repeated_hour_is_not_before_the_previous_one() -> None:
    c = open_complaint("c-2", "8613800138000", "billing_error", "账单不对", at=FIRST_PASS - timedelta(hours=1))
    c = transition(c, "acknowledged", at=FIRST_PASS, by="agent")
    c = transition(c, "resolved", at=SECOND_PASS, by="agent")  # 40 minutes later, though its wall clock is earlier
    assert c.resolved_at == SECOND_PASS


def test_a_survey_is_due_for_a_resolution_in_the_repeated_hour() -> None:
    c = open_complaint("c-3", "8613800138000", "price", "太贵", at=FIRST_PASS - timedelta(hours=1))
    c = transition(c, "resolved", at=SECOND_PASS, by="agent")
    assert surveys_due([c], set(), since=FIRST_PASS) == [c]
