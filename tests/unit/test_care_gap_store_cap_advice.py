"""The home's data port behind the assistant: the roaming cap in force is read without a country ("我的漫游上限是多少"),
removing a cap never set writes no cap row, and plan advice asked before any billing month has ended is priced on
the month so far (as ``HomeAdvisor`` promises) instead of saying the feature is not open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from test_care_gap_plan_advice import LIGHT, SEPT, _usage

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.store import StoreCareData, connect, import_subscribers, migrate
from fairtel.store._schema import RoamingCap, table_of

LATE_SEPT = datetime(2026, 9, 29, 4, 0, tzinfo=UTC)  # September, the only month with usage, has not ended


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    register = tmp_path / "subscribers.csv"
    register.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                        f"{LIGHT},cu1,unlimited-129,2025-01-05T10:00:00+08:00,active,en,Shanghai\n", encoding="utf-8")
    with e.begin() as conn:
        assert import_subscribers(conn, register, now=SEPT).accepted == 1
    yield e
    e.dispose()


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _classify(text: str) -> IntentPrediction:
    label = "plan_advice" if ("套餐" in text or "plan" in text.lower()) else "roaming" if (
        "漫游" in text or "roaming" in text.lower()) else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def _caps(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table_of(RoamingCap))).scalar_one())


def test_the_roaming_cap_in_force_is_read_and_told(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    port = StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: LATE_SEPT)
    assert port.roaming_cap(LIGHT) is None
    assistant = Assistant(_classify, port)
    none = assistant.say(assistant.start(LIGHT, language="zh"), "我的漫游上限是多少")
    assert none.waiting_for is None and "您还没有设置漫游消费上限" in none.text, none.text
    port.set_roaming_cap(LIGHT, Decimal("200"))
    cap = port.roaming_cap(LIGHT)
    assert cap is not None and cap.amount == Decimal("200.00") and cap.currency == "CNY"
    told = assistant.say(assistant.start(LIGHT), "what is my roaming cap")
    assert "Your monthly roaming spending cap is 200.00 CNY" in told.text, told.text
    port.set_roaming_cap(LIGHT, None)
    assert port.roaming_cap(LIGHT) is None


def test_removing_a_cap_never_set_writes_nothing(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    assistant = Assistant(_classify, StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: LATE_SEPT))
    conv = assistant.start(LIGHT, language="zh")
    said = [assistant.say(conv, m) for m in ("取消漫游上限", "确认")]
    assert "您还没有设置漫游消费上限，无需取消" in said[0].text, said[0].text
    assert all(r.action != "roaming_cap_set" for r in said) and _caps(engine) == 0


def test_advice_before_any_month_has_ended_is_priced_on_the_month_so_far(engine: Engine, tmp_path: Path,
                                                                         catalog: Catalog) -> None:
    _usage(tmp_path / "lake")
    port = StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: LATE_SEPT)
    advice = port.plan_advice(LIGHT)
    assert advice is not None and advice.current_plan == "unlimited-129" and advice.best_plan != "unlimited-129"
    assert advice.reason is not None and "2026-09" in advice.reason.zh and "尚未结束" in advice.reason.zh
    assistant = Assistant(_classify, port)
    zh = assistant.say(assistant.start(LIGHT, language="zh"), "有没有更便宜的套餐")
    assert "暂未开放" not in zh.text and f"换成“{advice.best_plan_name.zh}”" in zh.text, zh.text
    en = assistant.say(assistant.start(LIGHT), "is there a cheaper plan for me?")
    assert "isn't available" not in en.text and "so far this month (2026-09" in en.text, en.text
