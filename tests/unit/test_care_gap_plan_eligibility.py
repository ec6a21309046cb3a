"""The assistant's plan advice (``HomeAdvisor``) follows the same rule as ``fairtel advise``: it does not offer
the senior plan to a line whose age is not known (the register holds none), offers a plan sold only through
some channels only on those channels, and reads a plan's sale window on the port's clock, its cached answers
following the plans on sale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.store import StoreCareData, connect, import_subscribers, migrate

LINE = "8613800138011"
NOW = datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
SEPT = datetime(2026, 9, 10, 3, 0, tzinfo=UTC)  # a Thursday, 11:00 in Shanghai


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = migrate(connect(f"sqlite:///{tmp_path / 'fairtel.db'}"))
    register = tmp_path / "subscribers.csv"
    register.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                        f"{LINE},cu1,basic-39,2025-01-05T10:00:00+08:00,active,en,Shanghai\n", encoding="utf-8")
    with e.begin() as conn:
        assert import_subscribers(conn, register, now=SEPT).accepted == 1
    yield e
    e.dispose()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """September: 100 min of peak calls, 10 SMS and 1 GiB: 19.00 on senior-19, 25.00 on payg, 39.00 on basic-39."""
    rows = [{"record_id": "v0", "kind": "voice", "direction": "out", "started_at": SEPT, "duration_s": 6000,
             "peer": "8613911112222"},
            {"record_id": "d0", "kind": "data", "started_at": SEPT + timedelta(hours=1), "bytes_down": 1 << 30}]
    rows += [{"record_id": f"s{i}", "kind": "sms", "direction": "out", "started_at": SEPT + timedelta(minutes=i),
              "peer": "8613911112222"} for i in range(10)]
    part = tmp_path / "lake" / "usage" / "period=2026-09" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    pl.DataFrame([r | {"msisdn": LINE, "source": "msc"} for r in rows],
                 schema={"record_id": pl.String, "kind": pl.String, "direction": pl.String,
                         "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_down": pl.Int64,
                         "peer": pl.String, "msisdn": pl.String, "source": pl.String}).write_parquet(part)
    return tmp_path / "lake"


def _payg(line: str) -> Catalog:
    text = default_catalog_path().read_text(encoding="utf-8")
    head = 'id = "payg"\n'
    catalog, problems = parse_catalog(text.replace(head, head + line + "\n"), file="t.toml")
    assert catalog is not None, problems
    return catalog


def _classify(text: str) -> IntentPrediction:
    return IntentPrediction("plan_advice", 0.99, detect_language(text), False)


def test_the_senior_plan_is_not_advised_to_a_line_whose_age_is_not_known(engine: Engine, lake: Path) -> None:
    port = StoreCareData(engine, lake, load_catalog(default_catalog_path()), clock=lambda: NOW)
    advice = port.plan_advice(LINE)
    assert advice is not None and advice.best_plan == "payg"  # senior-19 would cost less: it is for 60 and over
    assert advice.monthly_saving.amount == 14
    reply = Assistant(_classify, port).say(Assistant(_classify, port).start(LINE), "is there a cheaper plan for me?")
    assert "Senior" not in reply.text and "Pay as you go" in reply.text, reply.text


def test_a_plan_sold_only_in_the_app_is_advised_only_on_the_app(engine: Engine, lake: Path) -> None:
    catalog = _payg('eligibility = { channels = ["app"] }')
    app = StoreCareData(engine, lake, catalog, clock=lambda: NOW)  # the assistant answers on the app by default
    advice = app.plan_advice(LINE)
    assert advice is not None and advice.best_plan == "payg"
    web = StoreCareData(engine, lake, catalog, clock=lambda: NOW, consent_channel="web").plan_advice(LINE)
    assert web is not None and web.best_plan == "basic-39" and web.monthly_saving.amount == 0


def test_the_sale_window_is_read_on_the_ports_clock_and_the_cached_answer_follows_it(engine: Engine, lake: Path) -> None:
    catalog = _payg("eligibility = { sale_until = 2026-11-01T00:00:00+08:00 }")
    now = [NOW]
    port = StoreCareData(engine, lake, catalog, clock=lambda: now[0])
    first = port.plan_advice(LINE)
    assert first is not None and first.best_plan == "payg"  # on sale on the port's day, whatever today is
    now[0] = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    later = port.plan_advice(LINE)
    assert later is not None and later.best_plan == "basic-39"  # its sale ended: not the answer kept from before
