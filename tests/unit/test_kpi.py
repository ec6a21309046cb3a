"""KPI arithmetic, NPS, and the complaint lifecycle with its SLA timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairtel.care import (
    ComplaintCategory,
    ComplaintStatus,
    Escalation,
    check_score,
    classify_complaint,
    escalations,
    nps,
    open_complaint,
    parse_category,
    sla_state,
    store_status,
    surveys_due,
    transition,
)
from fairtel.core.errors import ConflictError, InvalidInputError
from fairtel.kpi import (
    ComplaintFact,
    FindingFact,
    KpiInputs,
    RefundFact,
    assistant_figures,
    compute_kpis,
    per_million,
    rating_timeliness,
    sla_attainment,
)

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def test_per_million() -> None:
    assert per_million(78, 100_000_000) == Decimal("0.78")
    assert per_million(1, 3) == Decimal("333333.33")
    assert per_million(5, 0) is None


def test_nps_counts_and_score() -> None:
    r = nps([10, 9, 9, 8, 7, 6, 0, 3, 10, 5])
    assert (r.responses, r.promoters, r.passives, r.detractors) == (10, 4, 2, 4)
    assert r.score == Decimal("0.0")
    assert nps([10, 10, 6]).score == Decimal("33.3")
    assert nps([]).score is None


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200))
def test_nps_is_promoters_minus_detractors(scores: list[int]) -> None:
    r = nps(scores)
    assert r.promoters + r.passives + r.detractors == len(scores)
    exact = Decimal(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores))) / len(scores)
    assert r.score is not None and abs(r.score - exact) <= Decimal("0.05")
    assert Decimal(-100) <= r.score <= Decimal(100)


@pytest.mark.parametrize("bad", [-1, 11, "7.5", True, None])
def test_scores_are_whole_numbers_0_to_10(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        check_score(bad)


def test_assistant_recognition_and_containment() -> None:
    turns = [
        {"conversation_id": "a", "intent": "bill_inquiry", "confidence": 0.99, "classified": True, "language": "zh"},
        {"conversation_id": "a", "intent": "bill_inquiry", "confidence": None, "classified": False, "language": "zh"},
        {"conversation_id": "a", "intent": "out_of_scope", "confidence": 0.7, "classified": True, "out_of_scope": True,
         "language": "zh"},
        {"conversation_id": "b", "intent": "roaming", "confidence": 0.42, "classified": True, "language": "en"},
        {"conversation_id": "b", "intent": "human_agent", "confidence": 0.98, "classified": True, "language": "en",
         "handed_off": True},
        {"conversation_id": "c", "intent": "greeting", "confidence": 1.0, "classified": True, "language": "en"},
    ]
    f = assistant_figures(turns)
    assert (f["messages"], f["classified"], f["recognised"]) == (6, 5, 4)
    assert f["recognition_rate"] == "0.8000"
    assert f["by_language"]["zh"] == {"messages": 2, "recognised": 1, "recognition_rate": "0.5000"}
    assert (f["conversations"], f["handed_off"]) == (3, 1)
    assert f["containment_rate"] == "0.6667" and f["handoff_rate"] == "0.3333"
    strict = assistant_figures(turns, threshold=0.5)
    assert strict["recognised"] == 3  # the 0.42 roaming guess no longer counts


def test_sla_attainment_by_category_deadline() -> None:
    now = T0 + timedelta(days=10)
    complaints = [
        ComplaintFact("1", "unexplained_charge", "app", T0, T0 + timedelta(hours=47)),  # 48 h: in time
        ComplaintFact("2", "unexplained_charge", "app", T0, T0 + timedelta(hours=49)),  # late
        ComplaintFact("3", "network_quality", "app", T0, T0 + timedelta(hours=70)),  # 72 h: in time
        ComplaintFact("4", "network_quality", "app", T0, None),  # open, past 72 h
        ComplaintFact("5", "price", "app", now - timedelta(hours=1), None),  # open, not due
    ]
    s = sla_attainment(complaints, now)
    assert s == {"resolved": 3, "resolved_in_time": 2, "attainment": "0.5000", "open": 2, "open_overdue": 1}  # 2 in time of 3 settled + 1 overdue


def test_compute_kpis_end_to_end() -> None:
    inputs = KpiInputs(
        period="2026-09", subscribers=2_000_000, now=T0 + timedelta(days=40),
        complaints=[ComplaintFact(str(i), "unexplained_charge" if i < 3 else "network_quality", "app", T0, None)
                    for i in range(5)],
        survey_scores=[10, 9, 3],
        findings=[FindingFact("unconsented_charge", 600, "CNY"), FindingFact("duplicate_charge", 1000, "CNY"),
                  FindingFact("bill_shock", None, None)],
        refunds=[RefundFact(600, "CNY", "fnd-1"), RefundFact(250, "CNY")],
        timeliness=[(T0, T0 + timedelta(minutes=3)), (T0, T0 + timedelta(minutes=15)), (T0, T0 + timedelta(hours=1))],
    )
    d = compute_kpis(inputs).to_dict()
    assert d["complaints"]["total"] == 5 and d["complaints"]["per_million"] == "2.50"
    assert d["complaints"]["unexplained_charge"] == 3 and d["complaints"]["unexplained_charge_per_million"] == "1.50"
    assert d["complaints"]["by_category"]["network_quality"] == {"count": 2, "per_million": "1.00"}
    assert d["nps"]["nps"] == "33.3"
    assert d["charges"]["unexplained_findings"] == 2 and d["charges"]["amount_at_stake"] == "16.00"
    assert d["charges"]["refunds"] == 2 and d["charges"]["refunds_for_findings"] == 1 and d["charges"]["refunded"] == "8.50"
    assert d["rating_timeliness"] == {"records": 3, "within_window": 2, "window_minutes": 15, "share": "0.6667"}
    assert d["sla"]["open_overdue"] == 5
    assert not d["notes"]


def test_timeliness_per_file_weighs_each_file_by_its_records() -> None:
    got = rating_timeliness([(T0, T0 + timedelta(seconds=40), 900), (T0, T0 + timedelta(minutes=20), 100)])
    assert got == {"records": 1000, "within_window": 900, "window_minutes": 15, "share": "0.9000"}
    assert rating_timeliness([(T0, T0 + timedelta(seconds=61), 5)], within=timedelta(seconds=60))["within_window"] == 0  # type: ignore[index]


def test_missing_timeliness_is_said_not_guessed() -> None:
    d = compute_kpis(KpiInputs(period="2026-09", subscribers=0, now=T0)).to_dict()
    assert d["rating_timeliness"] is None and d["complaints"]["per_million"] is None
    assert len(d["notes"]) == 2
    assert rating_timeliness([]) == {"records": 0, "within_window": 0, "window_minutes": 15, "share": None}


def test_complaint_lifecycle() -> None:
    c = open_complaint("c1", "8613800138000", "unexplained_charge", "never ordered", at=T0)
    assert c.status is ComplaintStatus.OPENED and store_status(c.status) == "open"
    c = transition(c, "acknowledged", at=T0 + timedelta(hours=1), by="agent1")
    assert store_status(c.status) == "in_progress" and c.acknowledged_at == T0 + timedelta(hours=1)
    c = transition(c, "resolved", at=T0 + timedelta(hours=20), by="agent1", note="refunded")
    assert c.resolved_at == T0 + timedelta(hours=20) and store_status(c.status) == "closed"
    c = transition(c, "reopened", at=T0 + timedelta(hours=30), by="subscriber")
    assert c.resolved_at is None and store_status(c.status) == "open"
    c = transition(c, "closed", at=T0 + timedelta(hours=40), by="agent2")
    assert c.resolved_at == T0 + timedelta(hours=40)
    with pytest.raises(ConflictError):
        transition(c, "acknowledged", at=T0 + timedelta(hours=41), by="agent2")
    with pytest.raises(ConflictError):
        transition(c, "reopened", at=T0, by="subscriber")  # before the previous event


def test_sla_timers_and_escalation() -> None:
    c = open_complaint("c1", "8613800138000", ComplaintCategory.UNEXPLAINED_CHARGE, "?", at=T0)
    assert sla_state(c, T0 + timedelta(hours=1)).escalation is Escalation.NONE
    late_ack = sla_state(c, T0 + timedelta(hours=5))  # acknowledge within 4 h
    assert late_ack.acknowledged_in_time is False and late_ack.escalation is Escalation.SUPERVISOR
    assert sla_state(c, T0 + timedelta(hours=48 + 25)).escalation is Escalation.MANAGER
    done = transition(c, "resolved", at=T0 + timedelta(hours=3), by="a")
    state = sla_state(done, T0 + timedelta(days=30))
    assert state.acknowledged_in_time and state.resolved_in_time and state.escalation is Escalation.NONE
    regulator = open_complaint("c2", "8613800138001", "price", "?", at=T0, channel="regulator")
    order = escalations([done, c, regulator], T0 + timedelta(hours=80))
    assert [s.complaint_id for s in order] == ["c1", "c2"] and all(s.escalation is Escalation.MANAGER for s in order)


def test_categories_and_surveys_due() -> None:
    assert parse_category("vas") is ComplaintCategory.UNEXPLAINED_CHARGE
    assert parse_category("Fraud") is ComplaintCategory.FRAUD
    with pytest.raises(InvalidInputError):
        parse_category("weather")
    assert classify_complaint("我从来没有订购过这个业务，为什么扣费") is ComplaintCategory.UNEXPLAINED_CHARGE
    assert classify_complaint("the signal at home is terrible") is ComplaintCategory.NETWORK_QUALITY
    assert classify_complaint("hello") is ComplaintCategory.OTHER
    a = transition(open_complaint("a", "861", "price", "?", at=T0), "resolved", at=T0 + timedelta(hours=2), by="x")
    b = transition(open_complaint("b", "862", "price", "?", at=T0), "resolved", at=T0 + timedelta(hours=3), by="x")
    c = open_complaint("c", "863", "price", "?", at=T0)
    assert [x.complaint_id for x in surveys_due([c, b, a], {"862"}, since=T0)] == ["a"]
