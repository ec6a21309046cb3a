"""The assistant's plan advice comes from the home's own records: "有没有更便宜的套餐" / "is there a cheaper plan
for me?" is answered from the subscriber's own usage, priced under every plan as `fairtel advise` prices it, in
their language (it always said plan advice was not available: the data port was never given an advisor)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.store import StoreCareData, connect, import_subscribers, migrate

LIGHT, HEAVY, NOBODY = "8613800138000", "8613900139000", "8613700137000"
NOW = datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
SEPT = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    register = tmp_path / "subscribers.csv"
    register.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{LIGHT},cu1,unlimited-129,2025-01-05T10:00:00+08:00,active,en,Shanghai\n"
        f"{HEAVY},cu2,unlimited-129,2025-01-05T10:00:00+08:00,active,zh,Shanghai\n"
        f"{NOBODY},cu3,basic-39,2025-01-05T10:00:00+08:00,active,zh,Shanghai\n", encoding="utf-8")
    with e.begin() as conn:
        assert import_subscribers(conn, register, now=SEPT).accepted == 3
    yield e
    e.dispose()


def _usage(lake: Path) -> None:
    """September: the light user made three short calls; the heavy user used 60 GB of data."""
    rows = [(f"v{i}", LIGHT, "voice", "out", SEPT + timedelta(days=i), 120, 0, 0, "8613911112222") for i in range(3)]
    rows += [(f"d{i}", HEAVY, "data", None, SEPT + timedelta(days=i), 3600, 0, 3 * 1024**3, None) for i in range(20)]
    part = lake / "usage" / "period=2026-09" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    cols = ("record_id", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down", "peer")
    pl.DataFrame([dict(zip(cols, r, strict=True)) | {"source": "msc"} for r in rows],
                 schema={"record_id": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
                         "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_up": pl.Int64,
                         "bytes_down": pl.Int64, "peer": pl.String, "source": pl.String}).write_parquet(part)


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _classify(text: str) -> IntentPrediction:
    label = "plan_advice" if ("套餐" in text or "plan" in text.lower()) else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_a_cheaper_plan_is_advised_from_the_lines_own_usage_in_its_language(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    _usage(tmp_path / "lake")
    port = StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: NOW)
    advice = port.plan_advice(LIGHT)
    assert advice is not None and advice.current_plan == "unlimited-129" and advice.best_plan != "unlimited-129"
    assistant = Assistant(_classify, port)
    en = assistant.say(assistant.start(LIGHT), "is there a cheaper plan for me?")
    assert en.intent == "plan_advice" and "isn't available" not in en.text
    best = advice.best_plan_name.en
    assert f'"{best}" would save you about {advice.monthly_saving.amount} CNY a month' in en.text, en.text
    assert "Priced on your actual use over 1 month (2026-09): 129.00 CNY on \"Unlimited 129\"" in en.text, en.text
    zh = assistant.say(assistant.start(LIGHT, language="zh"), "有没有更便宜的套餐")
    assert f"换成“{advice.best_plan_name.zh}”每月可以节省约 {advice.monthly_saving.amount} 元" in zh.text, zh.text
    assert "按您 2026-09（1 个月）的实际用量计算：“无限流量 129 元”共 129.00 元" in zh.text, zh.text


def test_a_line_already_on_its_best_plan_is_told_so(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    _usage(tmp_path / "lake")
    assistant = Assistant(_classify, StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: NOW))
    reply = assistant.say(assistant.start(HEAVY), "有没有更便宜的套餐")
    assert "当前套餐“无限流量 129 元”已经是最划算的" in reply.text, reply.text


def test_without_usage_there_is_no_advice(engine: Engine, tmp_path: Path, catalog: Catalog) -> None:
    port = StoreCareData(engine, tmp_path / "lake", catalog, clock=lambda: NOW)
    assert port.plan_advice(LIGHT) is None  # no usage in the lake at all
    _usage(tmp_path / "lake")
    assert port.plan_advice(NOBODY) is None  # none of this line's
