"""The assistant's data port over a home billed by the pipeline answers what it could not before: how the plan
fee of an issued bill was charged (a bill of only the fee was "no charges"), the refunds of the ledger (pending, or
carried by which bill; a past month carrying only a refund was "no bill"), the line's tickets, a complaint about an
explained charge linked to the finding about that record, and a resolved complaint reopened by its subscriber."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, BOB, PERIOD, Seeded
from sqlalchemy import select, update

from fairtel.care import Assistant, ComplaintRequest, ComplaintStatus, TicketRequest, store_status
from fairtel.care._intent_model import BUILTIN_MODEL_FILE, IntentModel
from fairtel.core.errors import ConflictError, NotFoundError
from fairtel.core.money import Money
from fairtel.privacy import Pseudonymizer
from fairtel.store import StoreCareData
from fairtel.store._schema import Adjustment, Complaint, table_of

NOW = datetime(2026, 11, 12, 2, 0, tzinfo=UTC)
PSEUDONYM = Pseudonymizer("a test secret of the home, 32 chars", domain="msisdn")


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return IntentModel.load(BUILTIN_MODEL_FILE)


def _port(seeded: Seeded) -> StoreCareData:
    return StoreCareData(seeded.engine, seeded.settings.lake_dir, seeded.catalog, clock=lambda: NOW, pseudonymize=PSEUDONYM)


def _talk(model: IntentModel, port: StoreCareData, msisdn: str, messages: list[str]):  # type: ignore[no-untyped-def]
    a = Assistant(model, port)
    conv = a.start(msisdn)
    return [a.say(conv, m) for m in messages]


def test_the_plan_fee_of_an_issued_bill_is_explained(seeded: Seeded, model: IntentModel) -> None:
    port = _port(seeded)
    fee = port.plan_fee(BOB, PERIOD)
    assert fee is not None and fee.plan_id == "unlimited-129" and fee.charged == Money.of("129.00", "CNY")
    assert (fee.days, fee.period_days) == (31, 31)
    (asked,) = _talk(model, port, BOB, ["10月为什么扣了我129元"])
    assert "129.00 元是套餐月费" in asked.text and "无限流量 129 元" in asked.text and "在网 31 天" in asked.text


def test_a_refund_is_told_pending_and_a_month_carrying_only_it_has_a_bill(seeded: Seeded, model: IntentModel) -> None:
    port = _port(seeded)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id="adj-wall-1", kind="refund", msisdn=ALICE, bill_id=seeded.ids["bill_a"], finding_id=None,
            amount_minor=300, currency="CNY", reason="wallpaper charge not confirmed", created_at=NOW, created_by="agent1",
            period=PERIOD, source=None, record_id=None, rule_id=None, old_amount_minor=None, new_amount_minor=None))
    (refund,) = port.adjustments(ALICE)
    assert refund.pending and refund.carried_by == "2026-11" and refund.amount == Money.of("3.00", "CNY")
    assert refund.corrects == PERIOD
    status, bill = _talk(model, port, ALICE, ["has my refund arrived?", "what's my bill for November?"])
    assert "3.00 CNY" in status.text and "not applied yet" in status.text and "2026-11" in status.text
    assert "-3.00 CNY" in bill.text  # the month's provisional bill carries it


def test_tickets_are_read_back_newest_first(seeded: Seeded, model: IntentModel) -> None:
    port = _port(seeded)
    tid = port.open_ticket(BOB, TicketRequest("no_signal", "文三路", "昨天", "no_signal 文三路 since 昨天"))
    tickets = port.tickets(BOB)
    assert tickets[0].ticket_id == tid and tickets[0].status == "open" and tickets[0].category == "no_signal"
    (progress,) = _talk(model, port, BOB, ["我报的故障处理得怎么样了"])
    assert tid in progress.text and "没有信号" in progress.text
    assert [t.ticket_id for t in port.tickets(BOB)] == [tid]  # nothing new opened


def test_a_complaint_about_a_record_links_the_finding_about_it(seeded: Seeded) -> None:
    port = _port(seeded)
    cid = port.record_complaint(ALICE, ComplaintRequest("unexplained_charge", "I never ordered horoscope",
                                                        links={"record_id": "r-4"}))
    with seeded.engine.connect() as conn:
        row = conn.execute(select(table_of(Complaint)).where(table_of(Complaint).c.complaint_id == cid)).one()
    assert row.finding_id == "fnd-1" and "[record_id=r-4]" in row.text


def test_a_resolved_complaint_is_reopened_by_its_subscriber_only(seeded: Seeded) -> None:
    port = _port(seeded)
    cid = port.record_complaint(BOB, ComplaintRequest("billing_error", "bill too high"))
    with pytest.raises(ConflictError):
        port.reopen_complaint(BOB, cid, "not satisfied")  # not resolved yet
    t = table_of(Complaint)
    with seeded.engine.begin() as conn:
        conn.execute(update(t).where(t.c.complaint_id == cid).values(lifecycle="resolved", status=store_status(ComplaintStatus.RESOLVED),
                                                               closed_at=NOW))
    with pytest.raises(NotFoundError):
        port.reopen_complaint(ALICE, cid, "not mine")
    after = port.reopen_complaint(BOB, cid, "我对处理结果不满意")
    assert after.status == "reopened" and after.due_at is not None and after.due_at > NOW


def test_an_agents_credit_is_told_in_words_not_as_its_stored_code(seeded: Seeded, model: IntentModel) -> None:
    from fairtel.billing._model import care_credit_reason

    port = _port(seeded)
    reason = care_credit_reason("goodwill for the outage", "CNY", complaint="cmp-9")
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id="adj-care-1", kind="credit", msisdn=BOB, bill_id=seeded.ids["bill_b"], finding_id=None,
            amount_minor=500, currency="CNY", reason=reason, created_at=NOW, created_by="agent1",
            period=None, source=None, record_id=None, rule_id=None, old_amount_minor=None, new_amount_minor=None))
    (credit,) = [a for a in port.adjustments(BOB) if a.adjustment_id == "adj-care-1"]
    assert "care-credit" not in credit.reason_in("en") and "goodwill for the outage" in credit.reason_in("en")
    assert "客服" in credit.reason_in("zh")
    (status,) = _talk(model, port, BOB, ["has my refund arrived?"])
    assert "care-credit" not in status.text and "goodwill for the outage" in status.text
