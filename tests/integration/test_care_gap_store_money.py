"""The assistant's data port over a real home (``StoreCareData``) found wanting by a subscriber's walk-through: the money
it says before a bill is what the bill run will bill (adjustments by billing's carry rule, the plan fee pro-rated, usage
held off the bill left out), a month with nothing rated yet still has its fee, every change it makes is audited as the
API audits it, it reads back the caller's complaints and prices a call abroad from home.

Before: a refund a bill had carried was counted again in the next month (the ledger row's ``bill_id`` stays empty: it
is bill lines that carry entries), a refund naming the bill it refunds was never shown as still to come, a month with
no rated lines was "no bill or charges", a line activated mid-month was told the whole fee, usage held off the bill
(made after the line's suspension) was added to the total, and the assistant's cancellations, redemptions, fault
reports and hand-offs left no audit row."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import CN, A, B, C, P, as_json, open_app

from fairtel.care import ComplaintRequest, TicketRequest
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.time import Period
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Adjustment, ConsentEvent, LoyaltyEntry, StoreCareData, Subscriber
from fairtel.store._care import ticket_text
from fairtel.store._schema import Bill, table_of

home = base.home  # a home with three subscribers and their rated March usage (A basic-39, B payg, C senior-19 from 16 March)
PSEUDONYM = Pseudonymizer("a test secret of the home, 32 chars", domain="msisdn")


def _port(home: Path, now: datetime) -> StoreCareData:
    app = open_app(home)
    return StoreCareData(app.db, app.settings.lake_dir, home_catalog(app, None, []), clock=lambda: now, pseudonymize=PSEUDONYM)


def _refund(port: StoreCareData, adjustment_id: str, msisdn: str, minor: int, at: datetime, *, bill_id: str | None = None,
            period: str | None = None, reason: str = "charge without a confirmed order") -> None:
    with port.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id=adjustment_id, kind="refund", msisdn=msisdn, bill_id=bill_id, finding_id=None, amount_minor=minor,
            currency="CNY", reason=reason, created_at=at, created_by="agent1", period=period))


def _items(port: StoreCareData, msisdn: str, period: str) -> dict[str, int]:
    bill = port.bill(msisdn, period)
    assert bill is not None
    return {i.kind: i.amount_minor for i in bill.items}


# -- 2. adjustments: what the next bill carries, once ---------------------------------------------------------
def test_a_refund_a_bill_carried_is_not_counted_again_next_month(home: Path) -> None:
    april = datetime(2026, 4, 10, 12, tzinfo=CN)
    port = _port(home, april)
    _refund(port, "adj-before-run", A, 600, datetime(2026, 4, 2, 9, tzinfo=CN))  # booked in April, before March is billed
    assert _items(port, A, P)["adjustment"] == -600  # March's bill, not issued yet, would carry it
    assert "adjustment" not in _items(port, A, "2026-04")
    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["adjustments_carried"] == 1
    april_bill = port.bill(A, "2026-04")
    assert april_bill is not None and not april_bill.issued
    assert "adjustment" not in {i.kind for i in april_bill.items} and april_bill.total_minor == 3900  # the fee alone


def test_a_refund_naming_the_bill_it_refunds_is_still_to_come(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    port = _port(home, datetime(2026, 4, 10, 12, tzinfo=CN))
    with port.engine.connect() as conn:
        march = conn.execute(select(table_of(Bill).c.bill_id).where(table_of(Bill).c.msisdn == A)).scalar_one()
    _refund(port, "adj-of-march", A, 300, datetime(2026, 4, 3, tzinfo=CN), bill_id=march)
    _refund(port, "adj-corrects-april", A, 100, datetime(2026, 4, 4, tzinfo=CN), period="2026-04")  # carried by May's bill
    assert _items(port, A, "2026-04") == {"plan_fee": 3900, "adjustment": -300}
    assert "adjustment" not in _items(port, A, P)  # March's bill was issued before: its own lines only
    may = _port(home, datetime(2026, 5, 3, tzinfo=CN))
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 1
    assert _items(may, A, "2026-05") == {"plan_fee": 3900, "adjustment": -100}


# -- 16. a month not rated yet; the fee as billed; usage held off the bill -------------------------------------
def test_a_month_with_nothing_rated_yet_has_its_fee_and_pending_adjustments(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    port = _port(home, datetime(2026, 4, 3, 9, tzinfo=CN))
    _refund(port, "adj-1", A, 600, datetime(2026, 4, 2, tzinfo=CN))
    bill = port.bill(A, "2026-04")
    assert bill is not None and not bill.issued and not bill.rated
    assert [(i.kind, i.amount_minor) for i in bill.items] == [("plan_fee", 3900), ("adjustment", -600)] and bill.total_minor == 3300
    assert port.bill(A, "2026-02") is None  # a past month this home rated nothing of: not known
    assert port.bill(A, "2026-06") is None  # nor one not begun


def test_the_provisional_bill_is_what_the_bill_run_bills(home: Path) -> None:
    """C joined on 16 March (16 of 31 days of the 19.00 fee); A's line was suspended before its calls, which the bill
    run holds off the bill: the provisional answer says what the issued bill then says, and the held usage apart."""
    with open_app(home).db.begin() as conn:
        conn.execute(update(table_of(Subscriber)).where(table_of(Subscriber).c.msisdn == A).values(
            status="suspended", suspended_at=datetime(2026, 3, 5, 9, tzinfo=CN)))
    port = _port(home, datetime(2026, 3, 28, tzinfo=CN))
    before = {m: port.bill(m, P) for m in (A, B, C)}
    v1 = port.explain_charge(A, "v1", "zh")
    assert v1 is not None and v1.held == "line_suspended" and v1.amount_minor == 300  # its cost if released
    issued = as_json(home, "bill", "--period", P, "--issue")
    after = {m: port.bill(m, P) for m in (A, B, C)}
    for m in (A, B, C):
        b, a = before[m], after[m]
        assert b is not None and a is not None and a.issued and not b.issued
        assert b.total_minor == a.total_minor, m
    assert before[C] is not None and [(i.kind, i.amount_minor) for i in before[C].items] == [("plan_fee", 981)]
    assert before[A] is not None and before[A].total_minor == 3900 and before[A].held_minor == 300
    assert "voice" not in {i.kind for i in before[A].items}
    assert issued["bills"] == 3


def test_usage_rating_held_is_no_charge(home: Path) -> None:
    """Rated after the suspension, the calls carry rating's hold (``verdict`` line_suspended) in the lake itself."""
    app = open_app(home)
    with app.db.begin() as conn:
        conn.execute(update(table_of(Subscriber)).where(table_of(Subscriber).c.msisdn == A).values(
            status="suspended", suspended_at=datetime(2026, 3, 5, 9, tzinfo=CN)))
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    port = _port(home, datetime(2026, 3, 28, tzinfo=CN))
    held = {c.record_id: c.held for c in port.charges(A, P)}
    assert held == {"v1": "line_suspended", "v2": "line_suspended"}
    bill = port.bill(A, P)
    assert bill is not None and [(i.kind, i.amount_minor) for i in bill.items] == [("plan_fee", 3900)] and bill.held_minor == 300


# -- 6. every change the assistant makes is audited as the API audits it ----------------------------------------
def test_changes_made_in_chat_are_audited_under_the_subscribers_pseudonym(home: Path) -> None:
    now = datetime(2026, 4, 2, 4, 0, tzinfo=UTC)
    port = _port(home, now)
    with port.engine.begin() as conn:
        conn.execute(table_of(LoyaltyEntry).insert().values(entry_id="pts-a", msisdn=A, kind="earn", points=500, reason="bill",
                                                            booked_at=now))
        for event, at in (("ordered", datetime(2026, 3, 1, tzinfo=UTC)), ("confirmed", datetime(2026, 3, 1, 0, 5, tzinfo=UTC))):
            conn.execute(table_of(ConsentEvent).insert().values(
                event_id=f"ce-{event}", subscription_id="sub-9", msisdn=A, offer_id="vas-news-5", event=event, at=at,
                channel="sms", evidence={}, recorded_at=at, source="test"))
    assert port.cancel_subscription(A, "sub-9").state == "cancelled"
    port.redeem_points(A, 50, "聊天中兑换")
    fault = port.open_ticket(A, TicketRequest("no_signal", "武汉市洪山区", "上周", "没有信号，地点：武汉市洪山区，开始时间：上周（于对话 chat_01abc 中报告）"))
    handoff = port.hand_off(A, "asked first (human_agent): 转人工\nuser: 转人工", "chat_01abc")
    cmp = port.record_complaint(A, ComplaintRequest("billing_error", "账单不对", conversation_id="chat_01abc"))
    t = table_of(AccessAudit)
    with port.engine.connect() as conn:
        rows = conn.execute(select(t.c.actor, t.c.role, t.c.action, t.c.resource, t.c.subject_msisdn_pseudonym)
                            .order_by(t.c.audit_id)).all()
        entry = conn.execute(select(table_of(LoyaltyEntry).c.entry_id).where(table_of(LoyaltyEntry).c.kind == "redeem")).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("assistant", "system", "subscription.cancel", "subscription/sub-9", PSEUDONYM(A)),  # as POST /subscriptions/{id}/cancel
        ("assistant", "system", "loyalty.redeem", f"loyalty/{entry}", PSEUDONYM(A)),
        ("assistant", "system", "ticket.open", f"ticket/{fault}", PSEUDONYM(A)),
        ("assistant", "system", "ticket.open", f"ticket/{handoff}", PSEUDONYM(A)),
        ("assistant", "system", "complaint.create", f"complaint/{cmp}", PSEUDONYM(A)),
    ]
    with port.engine.connect() as conn:
        assert A not in str(conn.execute(select(t)).all())


# -- 4, 12, 21: complaints read back, calls from home, words in Chinese ---------------------------------------
def test_the_callers_complaints_are_read_back_newest_first(home: Path) -> None:
    port = _port(home, datetime(2026, 4, 2, 9, tzinfo=CN))
    first = port.record_complaint(A, ComplaintRequest("unexplained_charge", "不明扣费"))
    port.clock = lambda: datetime(2026, 4, 3, 9, tzinfo=CN)
    second = port.record_complaint(A, ComplaintRequest("network_quality", "没信号"))
    port.record_complaint(B, ComplaintRequest("other", "someone else's"))
    mine = port.complaints(A)
    assert [(c.complaint_id, c.category, c.status) for c in mine] == [(second, "network_quality", "opened"),
                                                                       (first, "unexplained_charge", "opened")]
    assert mine[1].due_at == datetime(2026, 4, 4, 9, tzinfo=CN) and mine[1].settled_at is None  # 48 h for unexplained charges
    assert port.complaints(C) == []


def test_a_call_abroad_is_priced_from_home_not_as_roaming(home: Path) -> None:
    port = _port(home, datetime(2026, 4, 2, 9, tzinfo=CN))
    hk = port.destination(A, "HK")
    assert hk is not None and (hk.dialling_code, hk.zone_id) == ("852", "intl-1")
    assert {r.kind: (r.rule_id, r.price, r.per) for r in hk.rates}["voice"] == ("intl/voice-intl-1", Decimal("1.50"), "min")
    roaming = port.roaming(A, "HK")
    assert roaming is not None and {r.kind: r.price for r in roaming.rates}["voice"] != Decimal("1.50")
    us = port.destination(A, "US")
    assert us is not None and us.zone_id == "intl-2"


def test_a_refunds_reason_reads_in_chinese_on_a_chinese_answer(home: Path) -> None:
    """A guard: billing words a refund's reason in Chinese now (``core.reasons``), and the assistant's bill says it so."""
    port = _port(home, datetime(2026, 3, 30, tzinfo=CN))
    _refund(port, "adj-msc", A, 600, datetime(2026, 3, 30, tzinfo=CN), reason="confirmation not made by the subscriber")
    as_json(home, "bill", "--period", P, "--issue")
    bill = port.bill(A, P)
    assert bill is not None and bill.issued
    (refund,) = [i for i in bill.items if i.kind == "adjustment"]
    assert refund.description.zh == "退款：非您本人操作的订购确认" and refund.amount_minor == -600
    assert refund.description.en == "Refund: confirmation not made by the subscriber"


def test_a_chinese_fault_tickets_chat_is_read_back(home: Path) -> None:
    text = ticket_text("没有信号，地点：武汉市洪山区，开始时间：上周（于对话 chat_01abc 中报告）", "no_signal")
    assert text.conversation_id == "chat_01abc" and text.reported.startswith("没有信号")
    assert ticket_text("no signal at home since yesterday (reported in chat chat_01bob)", "no_signal").conversation_id == "chat_01bob"
