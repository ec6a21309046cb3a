"""Scripted conversations with `fairtel assistant chat` on a small synthetic operator: every number the
assistant says is checked against the records behind it (rated lines, the catalog, the ledgers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.catalog import load_catalog
from fairtel.cli import app
from fairtel.core.money import Money
from fairtel.store import (
    AccessAudit,
    Complaint,
    LoyaltyEntry,
    RoamingCap,
    Subscriber,
    TroubleTicket,
    connect,
    consent_events_for,
    get_subscriber,
)
from fairtel.store._schema import table_of

PERIOD = "2026-09"
TODAY = "2026-09-30"


def _run(*args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("care")
    home, op = root / "home", root / "op"
    _run("synth", "--out", str(op), "--subscribers", "150", "--days", "12", "--seed", "5")
    _run("--home", str(home), "load", str(op))
    _run("--home", str(home), "rate", "--period", PERIOD)
    rated = pl.scan_parquet(str(home / "lake" / "rated" / f"period={PERIOD}" / "*.parquet")).collect()
    vas = rated.filter((pl.col("kind") == "vas") & (pl.col("amount_minor") > 0))
    engine = connect(f"sqlite:///{home / 'fairtel.db'}")
    catalog = load_catalog(op / "catalog.toml")
    # the subscriber: one with a consented VAS charge and a plan with allowances
    plans_with_allowances = {p.id for p in catalog.plans if p.allowances}
    candidates = vas.filter(pl.col("plan_id").is_in(sorted(plans_with_allowances)))["msisdn"].unique().sort()
    me = str(candidates[0])
    with engine.begin() as conn:
        sub = get_subscriber(conn, me)
        assert sub is not None
        conn.execute(table_of(LoyaltyEntry).insert(), [
            {"entry_id": "pts-1", "msisdn": me, "kind": "earn", "points": 1200, "reason": "bill paid",
             "booked_at": datetime(2026, 9, 2, tzinfo=UTC)},
            {"entry_id": "pts-2", "msisdn": me, "kind": "redeem", "points": 300, "reason": "voucher",
             "booked_at": datetime(2026, 9, 15, tzinfo=UTC)},
        ])
    stranger = next(m for m in rated["msisdn"].unique().sort().to_list() if m != me)
    return {"home": home, "op": op, "rated": rated, "me": me, "plan": sub.plan_id, "catalog": catalog,
            "engine": engine, "stranger": stranger}


def chat(operator: dict[str, Any], lines: list[str], *, lang: str = "auto", msisdn: str | None = None,
         today: str = TODAY) -> list[dict[str, Any]]:
    result = _run("--home", str(operator["home"]), "assistant", "chat", "--msisdn", msisdn or operator["me"], "--lang", lang,
                  "--today", today, "--script", "-", "--json", stdin="\n".join(lines) + "\n")
    turns: list[dict[str, Any]] = json.loads(result.stdout)["turns"]
    assert len(turns) == len(lines)
    return turns


def _expected_bill_minor(operator: dict[str, Any]) -> int:
    mine = operator["rated"].filter(pl.col("msisdn") == operator["me"])
    fee = operator["catalog"].plan(operator["plan"]).monthly_fee
    return int(mine["amount_minor"].sum()) + Money.of(fee, "CNY").to_minor()


def test_bill_inquiry_with_a_missing_month_in_chinese(operator: dict[str, Any]) -> None:
    ask, bill = chat(operator, ["帮我查一下话费", "9月的"])
    assert ask["waiting_for"] == "month" and ask["language"] == "zh"
    expected = _expected_bill_minor(operator)
    assert bill["intent"] == "bill_inquiry" and bill["data"]["total_minor"] == expected
    assert f"{Money.from_minor(expected, 'CNY').amount} 元" in bill["text"]
    assert sum(amount for _, amount in bill["data"]["items"]) == expected


def test_charge_explain_in_english(operator: dict[str, Any]) -> None:
    _bill, listing, picked = chat(operator, ["What's my bill for September?", "why was I charged this?", "1"])
    mine = operator["rated"].filter((pl.col("msisdn") == operator["me"]) & (pl.col("amount_minor") > 0))
    per_record = mine.group_by("record_id").agg(pl.col("amount_minor").sum(), pl.col("rule_id").first())
    assert listing["intent"] == "charge_explain" and listing["waiting_for"] == "charge"
    largest = int(per_record["amount_minor"].max())  # the list is ordered by amount, largest first
    assert picked["data"]["amount_minor"] == largest
    record = per_record.filter(pl.col("record_id") == picked["data"]["record_id"])
    assert int(record["amount_minor"][0]) == largest
    shown = picked["data"]["subscription_id"] if picked["data"]["verdict"] else picked["data"]["rule_id"]
    assert shown in picked["text"]
    name = operator["catalog"].name_of("rule", picked["data"]["rule_id"])
    if not picked["data"]["verdict"] and name is not None:  # said in words, not only by its id
        assert name.en in picked["text"]


def test_charge_explain_in_chinese_names_the_rule_in_chinese(operator: dict[str, Any]) -> None:
    from fairtel.care._dialog import CHARGES_SHOWN

    mine = operator["rated"].filter((pl.col("msisdn") == operator["me"]) & (pl.col("amount_minor") > 0))
    listed = mine.group_by("record_id").agg(pl.col("amount_minor").sum(), pl.col("started_at").min(),
                                            pl.col("kind").first()).sort(
        [pl.col("amount_minor"), pl.col("started_at")], descending=[True, False]).head(CHARGES_SHOWN)
    usage = [i for i, k in enumerate(listed["kind"].to_list()) if k != "vas"]
    assert usage, "the subscriber has a usage charge among those listed"
    _bill, _listing, picked = chat(operator, ["查一下9月的话费", "为什么扣了这笔钱", str(usage[0] + 1)])
    assert picked["intent"] == "charge_explain" and picked["language"] == "zh"
    assert picked["data"]["verdict"] is None and picked["data"]["record_id"] == listed["record_id"][usage[0]]
    name = operator["catalog"].name_of("rule", picked["data"]["rule_id"])
    assert name is not None and name.zh in picked["text"]
    allowance = picked["data"]["allowance_id"]
    if allowance is not None:
        allowance_name = operator["catalog"].name_of("allowance", allowance)
        assert allowance_name is not None and allowance_name.zh in picked["text"]


def test_vas_charge_is_explained_by_its_consent(operator: dict[str, Any]) -> None:
    line = operator["rated"].filter((pl.col("msisdn") == operator["me"]) & (pl.col("kind") == "vas")
                                    & (pl.col("amount_minor") > 0)).sort("started_at").row(0, named=True)
    offer = operator["catalog"].offer(line["rule_id"].removeprefix("offer/"))
    (reply,) = chat(operator, [f"why was I charged for {offer.id} in September?"])
    assert reply["intent"] == "charge_explain"
    if reply["waiting_for"] == "charge":  # the same offer charged several times: take the first listed
        reply = chat(operator, [f"why was I charged for {offer.id} in September?", "1"])[-1]
    assert reply["data"]["verdict"] == "consented" and reply["data"]["subscription_id"] == line["subscription_id"]
    assert reply["data"]["amount_minor"] == Money.of(offer.price, "CNY").to_minor()
    assert line["subscription_id"] in reply["text"] and offer.name.en in reply["text"]


def test_cancel_with_confirmation_appends_a_cancelled_event(operator: dict[str, Any]) -> None:
    with operator["engine"].connect() as conn:
        before = consent_events_for(conn, operator["me"])
    listing, ask, done = chat(operator, ["我订了哪些增值业务", "我要退订增值业务", "确认"])
    assert listing["intent"] == "vas_list" and listing["data"]["subscriptions"]
    if ask["waiting_for"] == "subscription":  # several: pick the first listed
        ask, done = chat(operator, ["我要退订增值业务", "1", "确认"])[1:]
    assert ask["waiting_for"] == "confirm"
    assert done["action"] == "subscription_cancelled"
    with operator["engine"].connect() as conn:
        after = consent_events_for(conn, operator["me"])
    new = [e for e in after if e not in before]
    assert [(e.event, e.subscription_id) for e in new] == [("cancelled", done["reference"])]
    assert len(after) == len(before) + 1  # appended; nothing updated or deleted


def test_roaming_rates_for_a_country_come_from_the_catalog(operator: dict[str, Any]) -> None:
    (reply,) = chat(operator, ["去日本漫游怎么收费？"])
    catalog = operator["catalog"]
    plan = catalog.plan(operator["plan"])
    zone = catalog.roaming_zone_for("JP")
    assert reply["data"]["zone"] == zone.id
    voice = plan.rule_for("voice", "out", "domestic", zone.id)
    rate = catalog.rate(voice.rate).steps[0]
    per_minute = rate.rate * 60 / rate.rate_unit
    assert Decimal(reply["data"]["rates"]["voice"]) == per_minute
    assert f"{per_minute.quantize(Decimal('0.01'))} 元/分钟" in reply["text"]


def test_fault_report_slot_filling_opens_a_ticket(operator: dict[str, Any]) -> None:
    turns = chat(operator, ["My phone has no signal", "near Tianhe Park, Guangzhou", "since this morning"], lang="en")
    assert [t["waiting_for"] for t in turns] == ["fault_location", "fault_since", None]
    ticket_id = turns[-1]["reference"]
    t = table_of(TroubleTicket)
    with operator["engine"].connect() as conn:
        row = conn.execute(select(t).where(t.c.ticket_id == ticket_id)).one()
    assert row.msisdn == operator["me"] and row.category == "no_signal" and row.status == "open"
    assert "Tianhe Park, Guangzhou" in row.summary and "this morning" in row.summary


def _balance(operator: dict[str, Any], msisdn: str) -> int:
    t = table_of(LoyaltyEntry)
    with operator["engine"].connect() as conn:
        rows = conn.execute(select(t.c.kind, t.c.points).where(t.c.msisdn == msisdn)).all()
    return sum(r.points if r.kind == "earn" else -r.points for r in rows)


def test_points_balance_is_the_ledger_sum(operator: dict[str, Any]) -> None:
    balance = _balance(operator, operator["me"])  # the operator directory's ledger (loaded), plus the fixture's 900
    assert balance > 900
    (reply,) = chat(operator, ["how many loyalty points do I have?"])
    assert reply["data"]["balance"] == balance and f"{balance:,} points".replace(",", "") in reply["text"].replace(",", "")


def test_another_number_is_refused_and_out_of_scope_politely(operator: dict[str, Any]) -> None:
    other = operator["stranger"]
    refused, oos_zh, oos_en = chat(operator, [f"帮我查 {other} 九月份的账单", "给我讲个笑话吧", "who won the football last night?"])
    assert refused["intent"] == "refused_other_line" and refused["data"] == {}
    assert other[-4:] in refused["text"] and str(_expected_bill_minor(operator)) not in refused["text"]
    assert oos_zh["out_of_scope"] and oos_zh["language"] == "zh"
    assert oos_en["out_of_scope"] and oos_en["language"] == "en"


def test_kpi_counts_what_the_assistant_logged(operator: dict[str, Any]) -> None:
    turns = chat(operator, ["hello", "转人工"])
    assert turns[-1]["action"] == "handed_off"
    result = _run("--home", str(operator["home"]), "kpi", "--period", PERIOD, "--json")
    kpis = json.loads(result.stdout)
    log = (operator["home"] / "care" / f"turns-{PERIOD}.jsonl").read_text().splitlines()
    assert kpis["assistant"]["messages"] == len(log)
    assert kpis["assistant"]["handed_off"] >= 1
    assert kpis["subscribers"] > 0


def test_json_and_transcript_agree(operator: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("# a comment\nhi\n\nthanks\n", encoding="utf-8")
    result = _run("--home", str(operator["home"]), "assistant", "chat", "--msisdn", operator["me"], "--today", TODAY,
                  "--script", str(script))
    assert result.stdout.count("> ") == 2 and "greeting" in result.stdout and "thanks" in result.stdout


def test_a_subscriber_naming_their_customers_other_line_is_answered_for_their_own_line(operator: dict[str, Any]) -> None:
    s = table_of(Subscriber)
    with operator["engine"].connect() as conn:
        rows = conn.execute(select(s.c.customer_id, s.c.msisdn).order_by(s.c.customer_id, s.c.msisdn)).all()
    by_customer: dict[str, list[str]] = {}
    for customer, line in rows:
        by_customer.setdefault(customer, []).append(line)
    mine, other = next(lines for lines in by_customer.values() if len(lines) >= 2)[:2]
    refused, bill, complaint = chat(operator, [f"帮我查一下{other}的账单", "我9月的账单", "我要投诉，信号太差了"], msisdn=mine)
    assert refused["intent"] == "refused_other_line" and other[-4:] in refused["text"]
    assert bill["intent"] == "bill_inquiry" and bill["line"] == mine and mine[-4:] in bill["text"]
    assert complaint["action"] == "complaint_recorded"
    c = table_of(Complaint)
    with operator["engine"].connect() as conn:
        filed = conn.execute(select(c.c.msisdn).where(c.c.complaint_id == complaint["reference"])).scalar_one()
    assert filed == mine


@pytest.mark.parametrize("message", ["I want to complain about an unexplained charge of 6 yuan",
                                     "为什么没有提醒我，我要投诉天价漫游账单", "我要退款"])
def test_an_explicit_complaint_or_refund_request_opens_a_complaint(operator: dict[str, Any], message: str) -> None:
    turns = chat(operator, ["9月的账单", message, "我没有订过这个业务却被扣了钱"])
    asked = turns[1]
    if asked["action"] != "complaint_recorded":  # a refund alone: asked what it is about, then recorded
        assert asked["waiting_for"] == "complaint_text" and turns[2]["action"] == "complaint_recorded"
        asked = turns[2]
    c = table_of(Complaint)
    with operator["engine"].connect() as conn:
        row = conn.execute(select(c.c.msisdn, c.c.category, c.c.channel).where(
            c.c.complaint_id == asked["reference"])).one()
    expected = "roaming" if "漫游" in message else "unexplained_charge"  # filed as the regulator counts them
    assert row.msisdn == operator["me"] and row.channel == "chat" and row.category == expected


def test_a_travel_month_does_not_become_the_bill_month(operator: dict[str, Any]) -> None:
    roam, bill = chat(operator, ["下个月去美国，国际漫游怎么收费？", "我的账单"])
    assert roam["intent"] == "roaming"
    assert bill["intent"] == "bill_inquiry" and bill["waiting_for"] == "month" and "2026-10" not in bill["text"]


def test_usage_of_a_past_month_is_that_months(operator: dict[str, Any]) -> None:
    (reply,) = chat(operator, ["9月流量用了多少"], today="2026-10-15")
    assert reply["intent"] == "usage_left" and reply["data"]["period"] == PERIOD
    mine = operator["rated"].filter((pl.col("msisdn") == operator["me"]) & pl.col("allowance_id").is_not_null())
    used = mine.group_by("allowance_id").agg(pl.col("allowance_used").sum())
    for allowance_id, n in used.iter_rows():
        if allowance_id in reply["data"]["allowances"]:
            assert reply["data"]["allowances"][allowance_id]["used"] == int(n or 0)


def test_setting_the_roaming_cap_is_not_answered_with_prices(operator: dict[str, Any]) -> None:
    (reply,) = chat(operator, ["set my roaming cap to 100 yuan"])
    assert reply["intent"] == "roaming" and "rates" not in reply["data"]


def _third_line(operator: dict[str, Any]) -> str:
    """A line no other test talks as: what it writes stays out of their answers."""
    lines = operator["rated"]["msisdn"].unique().sort().to_list()
    return next(m for m in reversed(lines) if m not in (operator["me"], operator["stranger"]))


def test_the_roaming_cap_is_set_in_chat_after_a_yes_and_audited(operator: dict[str, Any]) -> None:
    line = _third_line(operator)
    prices, ask, done, after = chat(operator, ["去日本漫游怎么收费？", "把漫游上限设为200元", "确认", "去日本漫游怎么收费？"],
                                    msisdn=line)
    assert "元/MiB" in prices["text"] and "元/MB" not in prices["text"] and "可以直接告诉我" in prices["text"]
    assert ask["waiting_for"] == "confirm" and done["action"] == "roaming_cap_set"
    assert done["data"] == {"cap": "200.00", "currency": "CNY"} and "200.00 元" in done["text"]
    assert "您设置的每月漫游消费上限为 200.00 元" in after["text"]
    caps, audit = table_of(RoamingCap), table_of(AccessAudit)
    with operator["engine"].connect() as conn:
        (row,) = conn.execute(select(caps).where(caps.c.msisdn == line)).all()
        trail = conn.execute(select(audit).where(audit.c.action == "roaming_cap.set")).all()
    assert row.amount_minor == 20000 and row.currency == "CNY" and row.set_by == "assistant"
    assert row.set_at.replace(tzinfo=UTC) == datetime(2026, 9, 30, 4, 0, tzinfo=UTC)  # noon of --today, Beijing time
    assert [(r.actor, r.resource) for r in trail] == [("assistant", "roaming_cap")]
    assert trail[0].subject_msisdn_pseudonym and line not in str(tuple(trail[0]))


def test_a_redemption_in_chat_is_booked_in_the_conversations_language(operator: dict[str, Any]) -> None:
    line = _third_line(operator)
    with operator["engine"].begin() as conn:
        conn.execute(table_of(LoyaltyEntry).insert().values(entry_id="pts-third", msisdn=line, kind="earn", points=500,
                                                            reason="bill paid", booked_at=datetime(2026, 9, 2, tzinfo=UTC)))
    _ask, done = chat(operator, ["兑换100积分", "确认"], msisdn=line)
    assert done["action"] == "points_redeemed"
    t = table_of(LoyaltyEntry)
    with operator["engine"].connect() as conn:
        reasons = conn.execute(select(t.c.reason).where((t.c.msisdn == line) & (t.c.kind == "redeem"))).scalars().all()
    assert reasons == ["聊天中兑换"]


def test_a_charge_explained_and_handed_off_keeps_the_number_masked(operator: dict[str, Any]) -> None:
    from fairtel.care._dialog import CHARGES_SHOWN

    me = operator["me"]
    mine = operator["rated"].filter((pl.col("msisdn") == me) & (pl.col("amount_minor") > 0))
    listed = mine.group_by("record_id").agg(pl.col("amount_minor").sum(), pl.col("started_at").min(),
                                            pl.col("kind").first()).sort(
        [pl.col("amount_minor"), pl.col("started_at")], descending=[True, False]).head(CHARGES_SHOWN)
    usage = [i for i, k in enumerate(listed["kind"].to_list()) if k != "vas"]
    _bill, _listing, picked, handed = chat(operator, ["查一下9月的话费", "为什么扣了这笔钱", str(usage[0] + 1), "转人工"])
    assert picked["intent"] == "charge_explain" and "话单" in picked["text"]
    assert me not in picked["text"] and me[-4:] in picked["text"]
    assert handed["action"] == "handed_off"
    t = table_of(TroubleTicket)
    with operator["engine"].connect() as conn:
        summary = conn.execute(select(t.c.summary).where(t.c.ticket_id == handed["reference"])).scalar_one()
    assert "话单" in summary and me not in summary
