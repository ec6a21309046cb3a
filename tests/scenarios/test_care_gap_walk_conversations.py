"""The conversations of a subscriber's walk-through, through `fairtel assistant chat` with the built-in intent model on
a real home: complaints asked about rather than recorded, new requests not swallowed by a pending question, a call
abroad priced from home, a day without a charge, a month not rated yet, a fault ticket in Chinese, and every change
audited.

Before: "我的投诉处理得怎么样了" asked what the complaint was about, "转人工" and "cancel cloud storage" after a complaint
question were recorded as complaints, a bill question after "Shall I record a complaint?" got "Please reply yes or no.",
"How much to call Hong Kong?" got roaming prices, "this month" with nothing rated was "no bill or charges", and the
assistant's changes left no audit row."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent.parent / "integration"))
from test_billing_cli import CN, A, B, P, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.store import AccessAudit, Complaint, ConsentEvent, RoamingCap, TroubleTicket
from fairtel.store._schema import table_of

TODAY = "2026-04-10"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import test_billing_cli as base

    root = tmp_path_factory.mktemp("walk")
    home = base.home.__wrapped__(root)  # type: ignore[attr-defined]
    app = open_app(home)
    # a news charge on 1 March that B never ordered (the gate blocks it), and B's cloud storage subscription
    vas = rec("n1", B, kind="vas", direction=None, peer=None, duration_s=None, offer_id="vas-news-5", amount="5.00",
              currency="CNY", started_at=datetime(2026, 3, 1, 8, tzinfo=CN).astimezone(UTC))
    app.lake.write("usage", P, pa.Table.from_pylist([vas], schema=CLEAN_USAGE_SCHEMA), part="t2")
    with app.db.begin() as conn:
        for event, at in (("ordered", datetime(2026, 2, 1, tzinfo=UTC)), ("confirmed", datetime(2026, 2, 1, 0, 5, tzinfo=UTC))):
            conn.execute(table_of(ConsentEvent).insert().values(
                event_id=f"ce-cloud-{event}", subscription_id="sub-cloud", msisdn=B, offer_id="vas-cloud-8", event=event,
                at=at, channel="app", evidence={}, recorded_at=at, source="test"))
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    return home


def chat(home: Path, msisdn: str, lines: list[str]) -> list[dict[str, Any]]:
    result = CliRunner().invoke(fairtel, ["--home", str(home), "assistant", "chat", "--msisdn", msisdn, "--today", TODAY,
                                          "--script", "-", "--json"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    turns: list[dict[str, Any]] = json.loads(result.stdout)["turns"]
    assert len(turns) == len(lines)
    return turns


def _rows(home: Path, model: Any) -> list[Any]:
    with open_app(home).db.connect() as conn:
        return list(conn.execute(select(table_of(model))).all())


def test_the_walk_in_english(home: Path) -> None:
    turns = chat(home, B, [
        "why was I charged 5 yuan on March 1?", "how much is my bill for March?",
        "I want to complain, I was overcharged on my bill", "what is the status of my complaint?",
        "I want to complain", "cancel cloud storage", "yes",
        "How much to call Hong Kong?",
    ])
    offer, bill, filed, status, asked, cancel, cancelled, hk = turns
    assert filed["action"] == "complaint_recorded"
    assert status["intent"] == "complaint" and status["action"] is None and filed["reference"] in status["text"]
    assert "waiting to be taken up" in status["text"]
    assert asked["waiting_for"] == "complaint_text"
    assert cancel["intent"] == "vas_cancel" and cancel["waiting_for"] == "confirm"
    assert cancelled["action"] == "subscription_cancelled"
    assert offer["waiting_for"] == "confirm" and "blocked" in offer["text"]
    assert bill["intent"] == "bill_inquiry" and "Please reply yes or no" not in bill["text"] and bill["data"]["period"] == P
    assert "Calling Hong Kong from home (+852" in hk["text"] and "1.50 CNY per minute" in hk["text"]
    assert len([c for c in _rows(home, Complaint) if c.msisdn == B]) == 1  # the one asked for, none besides
    audit = {(r.action, r.resource) for r in _rows(home, AccessAudit)}
    assert ("subscription.cancel", "subscription/sub-cloud") in audit


def test_the_walk_in_chinese(home: Path) -> None:
    turns = chat(home, A, [
        "我的投诉处理得怎么样了", "我要退款", "转人工",
        "我不想投诉，只想问问3月账单", "把漫游上限设为200元", "确认", "取消漫游上限", "确认",
        "打香港的电话怎么收费", "3月6号那笔话费是什么", "这个月话费多少",
        "我家没有信号", "武汉市洪山区", "上周开始的",
    ])
    status, refund, agent, march, _, _, cap, removed, hk, day, month, _, _, fault = turns
    assert status["intent"] == "complaint" and "没有登记过投诉" in status["text"] and status["waiting_for"] is None
    assert refund["waiting_for"] == "complaint_text"
    assert agent["action"] == "handed_off"
    assert march["intent"] == "bill_inquiry" and march["data"]["period"] == P
    assert cap["waiting_for"] == "confirm" and removed["action"] == "roaming_cap_set" and removed["data"]["cap"] is None
    assert "从国内拨打香港（+852" in hk["text"] and "1.50 元/分钟" in hk["text"]
    assert day["text"].startswith("2026-03-06 没有收费记录。2026-03 有这些收费")
    assert month["data"]["period"] == "2026-04" and "合计 39.00 元" in month["text"]
    assert "2026-04 还没有已计费的通话、短信或流量记录" in month["text"]
    assert fault["action"] == "ticket_opened"
    assert [c for c in _rows(home, Complaint) if c.msisdn == A] == []  # nothing recorded as a complaint
    tickets = {t.ticket_id: t for t in _rows(home, TroubleTicket) if t.msisdn == A}
    assert tickets[fault["reference"]].summary.startswith("没有信号，地点：武汉市洪山区，开始时间：上周开始的（于对话 chat_")
    assert [r.amount_minor for r in _rows(home, RoamingCap) if r.msisdn == A] == [20000, None]
    opened = {r.resource for r in _rows(home, AccessAudit) if r.action == "ticket.open"}
    assert {f"ticket/{agent['reference']}", f"ticket/{fault['reference']}"} <= opened
