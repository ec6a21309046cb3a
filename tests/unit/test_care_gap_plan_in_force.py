"""The assistant's data port answers with the plan in force, not the register's latest plan: a plan change made
on the 15th applies from the next billing period (次月生效), so this month's plan, allowances, roaming prices and
provisional bill are the old plan's, and the change is told as pending with the day it takes effect. The port's
plan reading (one query for the lines asked about) follows ``store.plan_timeline``'s rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.store import StoreCareData, connect, import_subscribers, migrate, plan_timeline
from fairtel.store._care import plan_in_force, plan_spells

A, B, C = "8613800138000", "8613900139000", "8613700137000"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,plan_since\n"
LEARNT = datetime(2026, 10, 1, tzinfo=UTC)
CHANGED = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)  # the 15th, on the operator's clock (Asia/Shanghai)
NOW = datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Asia/Shanghai


def _row(msisdn: str, plan: str, language: str = "zh", since: str = "") -> str:
    return f"{msisdn},cust-{msisdn[-4:]},{plan},2025-01-05T10:00:00+08:00,active,{language},Shanghai,{since}\n"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + _row(A, "basic-39") + _row(B, "basic-39", "en") + _row(C, "payg"), encoding="utf-8")
    # A and B change to unlimited-129 on the 15th (from November); C's change is dated back to October
    second.write_text(HEADER + _row(A, "unlimited-129") + _row(B, "unlimited-129", "en")
                      + _row(C, "basic-39", since="2026-10-01T00:00:00+08:00"), encoding="utf-8")
    with e.begin() as conn:
        assert import_subscribers(conn, first, now=LEARNT).accepted == 3
        assert import_subscribers(conn, second, now=CHANGED).accepted == 3
    yield e
    e.dispose()


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _port(engine: Engine, lake: Path, catalog: Catalog) -> StoreCareData:
    return StoreCareData(engine, lake, catalog, clock=lambda: NOW)


def test_the_line_is_on_its_old_plan_with_the_change_pending(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    line = _port(engine, tmp_path / "lake", catalog).line(A)
    assert line is not None
    assert (line.plan_id, line.plan_name.zh) == ("basic-39", "基础套餐 39 元")
    assert line.pending_plan_id == "unlimited-129" and line.pending_plan_name is not None
    assert line.pending_plan_name.en == "Unlimited 129"
    assert line.pending_from is not None and line.pending_from == NOVEMBER
    assert line.pending_from.strftime("%Y-%m-%d") == "2026-11-01"  # the operator's day, not UTC's 31 October
    dated_back = _port(engine, tmp_path / "lake", catalog).line(C)
    assert dated_back is not None and (dated_back.plan_id, dated_back.pending_plan_id) == ("basic-39", None)


def test_once_the_period_starts_the_new_plan_is_in_force(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    later = StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: datetime(2026, 11, 2, tzinfo=UTC)).line(A)
    assert later is not None and (later.plan_id, later.pending_plan_id, later.pending_from) == ("unlimited-129", None, None)


def test_allowances_are_those_of_the_plan_of_the_period(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    port = _port(engine, tmp_path / "lake", catalog)
    assert {a.allowance_id for a in port.allowances(A, "2026-10")} == {"basic-39/voice", "basic-39/sms", "basic-39/data"}
    assert {a.allowance_id for a in port.allowances(A, "2026-11")} == {
        "unlimited-129/voice", "unlimited-129/sms", "unlimited-129/data"}


def test_roaming_prices_are_those_of_the_plan_in_force(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    """A catalog without the pending plan: the prices of today's usage are still the plan in force's."""
    without = replace(catalog, plans=tuple(p for p in catalog.plans if p.id != "unlimited-129"))
    roaming = _port(engine, tmp_path / "lake", without).roaming(A, "HK")
    assert roaming is not None and [r.rule_id for r in roaming.rates] == [
        "roam/voice-roam-1", "roam/sms-roam-1", "roam/data-roam-1"]


def test_the_provisional_bill_charges_the_old_plans_fee(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    part = tmp_path / "lake" / "rated" / "period=2026-10" / "part.parquet"
    part.parent.mkdir(parents=True)
    pl.DataFrame(schema={"msisdn": pl.String, "kind": pl.String, "roaming_country": pl.String,
                         "amount_minor": pl.Int64}).write_parquet(part)
    bill = _port(engine, tmp_path / "lake", catalog).bill(A, "2026-10")
    assert bill is not None and not bill.issued
    assert [(i.kind, i.amount_minor, i.description.en) for i in bill.items] == [("plan_fee", 3900, "Plan fee (Basic 39)")]


def _classify(text: str) -> IntentPrediction:
    label = "plan_advice" if ("套餐" in text or "plan" in text.lower()) else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


@pytest.mark.parametrize(("msisdn", "message", "said"), [
    (A, "我现在是什么套餐", ("“基础套餐 39 元”", "2026-11-01 起改为“无限流量 129 元”", "本月仍按“基础套餐 39 元”计费")),
    (B, "which plan am I on", ('"Basic 39"', 'change to "Unlimited 129" takes effect on 2026-11-01',
                                'still billed under "Basic 39"')),
])
def test_the_assistant_names_the_plan_in_force_and_the_pending_change(engine: Engine, tmp_path: Path, catalog: Catalog,
                                                                       msisdn: str, message: str,
                                                                       said: tuple[str, ...]) -> None:
    assistant = Assistant(_classify, _port(engine, tmp_path / "lake", catalog))
    reply = assistant.say(assistant.start(msisdn), message)
    assert reply.intent == "plan_advice"
    for words in said:
        assert words in reply.text, reply.text
    assert "Your current plan is \"Unlimited" not in reply.text and "当前的套餐是“无限" not in reply.text


def test_without_a_pending_change_nothing_is_said_of_one(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    assistant = Assistant(_classify, _port(engine, tmp_path / "lake", catalog))
    reply = assistant.say(assistant.start(C), "我现在是什么套餐")
    assert "“基础套餐 39 元”" in reply.text and "起改为" not in reply.text


def test_plan_spells_follow_the_register_timeline(tmp_path: Path) -> None:
    """Histories with changes learnt in one period, a change back, and one dated back over a pending one."""
    e = migrate(connect(f"sqlite:///{tmp_path / 'history.db'}"))
    steps = [
        (LEARNT, {A: ("basic-39", ""), B: ("basic-39", ""), C: ("payg", "")}),
        (CHANGED, {A: ("unlimited-129", ""), B: ("unlimited-129", ""), C: ("basic-39", "")}),
        (datetime(2026, 10, 25, tzinfo=UTC), {A: ("payg", ""), B: ("basic-39", ""),
                                              C: ("unlimited-129", "2026-10-01T00:00:00+08:00")}),
        (datetime(2026, 12, 3, tzinfo=UTC), {A: ("basic-39", ""), B: ("payg", "2027-02-01T00:00:00+08:00"),
                                             C: ("unlimited-129", "")}),
    ]
    with e.begin() as conn:
        for n, (at, rows) in enumerate(steps):
            path = tmp_path / f"step-{n}.csv"
            path.write_text(HEADER + "".join(_row(m, p, since=s) for m, (p, s) in rows.items()), encoding="utf-8")
            assert import_subscribers(conn, path, now=at).accepted == 3
        timeline: dict[str, list[tuple[datetime, str]]] = {}
        for r in plan_timeline(conn).to_pylist():
            timeline.setdefault(r["msisdn"], []).append((r["effective_from"], r["plan_id"]))
        spells = plan_spells(conn, [A, B, C])
    e.dispose()
    assert spells == timeline
    # B: on basic-39 (the change to unlimited-129 was changed back before it took effect), payg from February
    assert plan_in_force(spells[B], "payg", at=NOW).plan_id == "basic-39"
    later = plan_in_force(spells[B], "payg", at=datetime(2026, 12, 10, tzinfo=UTC))
    assert (later.plan_id, later.pending_plan_id) == ("basic-39", "payg")
    assert later.pending_from == datetime(2027, 1, 31, 16, 0, tzinfo=UTC)
    assert plan_in_force(None, "payg", at=NOW).plan_id == "payg"  # no history: the register's plan
