"""A reassigned number: the assistant tells its new holder only what is theirs (the rule rating applies: usage
before the line's activation is not this line's, consent before it is a previous holder's). A number is closed and
activated again for another customer with a later ``activated_at``; the new holder's questions about points,
complaints, value-added services, an earlier month's bill and the roaming cap are answered from their holding only,
in both languages, over the store's data port as ``fairtel assistant chat`` and ``POST /chat`` build it.

Before: the new holder was told the earlier holder's 504 points, their open complaint, their confirmed
subscription, their March bill line by line and their 50-yuan roaming cap."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, open_app

from fairtel.care import Assistant, ComplaintRequest, IntentPrediction, detect_language
from fairtel.cli import app as fairtel
from fairtel.cli._home import home_catalog
from fairtel.core.errors import ConflictError, NotFoundError
from fairtel.store import ConsentEvent, LoyaltyEntry, StoreCareData, import_subscribers
from fairtel.store._schema import table_of

home = base.home  # the fixture: a home with three subscribers and their rated March usage
CN = timezone(timedelta(hours=8))
EARLIER = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # when the first holder did everything below
REASSIGNED = datetime(2026, 4, 20, 10, 0, tzinfo=CN)  # the new holder's activation
NOW = datetime(2026, 4, 25, 4, 0, tzinfo=UTC)

_WORDS = (("积分", "loyalty_points"), ("points", "loyalty_points"), ("投诉", "complaint"), ("complaint", "complaint"),
          ("增值业务", "vas_list"), ("services", "vas_list"), ("账单", "bill_inquiry"), ("bill", "bill_inquiry"),
          ("漫游", "roaming"), ("roaming", "roaming"))


def _classify(text: str) -> IntentPrediction:
    label = next((intent for word, intent in _WORDS if word in text.lower()), "out_of_scope")
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def _port(home: Path, at: datetime) -> StoreCareData:
    app = open_app(home)
    return StoreCareData(app.db, app.settings.lake_dir, home_catalog(app, None, []), clock=lambda: at)


def _first_holder_history(home: Path) -> None:
    """The first holder of A: the March bill, 504 points, a complaint, a confirmed subscription, a 50-yuan cap."""
    out = CliRunner().invoke(fairtel, ["bill", "--period", "2026-03", "--issue", "--home", str(home)])
    assert out.exit_code == 0, out.output
    port = _port(home, EARLIER)
    port.record_complaint(A, ComplaintRequest(category="unexplained_charge", text="我已经退订了，怎么还在扣费？"))
    port.set_roaming_cap(A, Decimal("50"))
    with port.engine.begin() as conn:
        conn.execute(table_of(LoyaltyEntry).insert().values(entry_id="pts-h1", msisdn=A, kind="earn", points=504,
                                                            reason="账单积分 2026-02", booked_at=EARLIER))
        for n, event in enumerate(("ordered", "confirmed")):
            conn.execute(table_of(ConsentEvent).insert().values(
                event_id=f"ce-h1-{event}", subscription_id="sub-h1", msisdn=A, offer_id="vas-music-10", event=event,
                at=EARLIER + timedelta(minutes=n), channel="app", evidence={}, recorded_at=EARLIER, source="test"))


def _reassign(home: Path, tmp_path: Path) -> None:
    """The register closes A, then gives it to another customer with a later activation."""
    app = open_app(home)
    head = "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
    for n, row in enumerate((f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,closed,zh,sh,2026-04-10T12:00:00+08:00\n",
                             f"{A},c9,payg,{REASSIGNED.isoformat()},active,zh,bj,\n")):
        path = tmp_path / f"register-{n}.csv"
        path.write_text(head + row, encoding="utf-8")
        with app.db.begin() as conn:
            assert import_subscribers(conn, path).accepted == 1


def _assistant(home: Path) -> Assistant:
    return Assistant(_classify, _port(home, NOW))


def test_a_conversation_kept_for_the_number_is_not_carried_over_to_its_next_holder(home: Path, tmp_path: Path) -> None:
    _first_holder_history(home)
    bot = _assistant(home)
    assert "504" in bot.reply("我有多少积分", msisdn=A).text  # the first holder's running conversation
    before = bot._sessions[A]
    _reassign(home, tmp_path)
    after = bot.reply("我有多少积分", msisdn=A)
    assert "504" not in after.text
    conv = bot._sessions[A]
    assert conv.conversation_id != before.conversation_id and not any("504" in text for _, text in conv.transcript)


@pytest.fixture
def recycled(home: Path, tmp_path: Path) -> Path:
    _first_holder_history(home)
    before = _assistant(home)
    conv = before.start(A, language="zh")
    assert "504" in before.say(conv, "我有多少积分").text  # the first holder's, while the number was theirs
    _reassign(home, tmp_path)
    return home


# each question, what of the earlier holder's it must not tell and what it tells the new holder instead
ASKED = [
    ("zh", "我有多少积分", ("504",), "当前积分余额 0 分"),
    ("zh", "我的投诉处理得怎么样了", ("cmp", "不明扣费"), "没有"),
    ("zh", "我订了哪些增值业务", ("畅听音乐包", "已订购"), ""),
    ("zh", "3月账单多少钱", ("39.00", "bill_"), "没有找到您的账单"),
    ("zh", "漫游上限是多少", ("50.00",), "您还没有设置漫游消费上限"),
    ("en", "how many points do I have", ("504",), "balance on"),
    ("en", "how is my complaint going", ("cmp", "unexplained charge"), ""),
    ("en", "which value-added services do I have", ("Music pack",), ""),
    ("en", "how much was my March bill", ("39.00", "bill_"), "no bill"),
    ("en", "what is my roaming cap", ("50.00",), "haven't set a roaming spending cap"),
]


@pytest.mark.parametrize(("lang", "question", "absent", "present"), ASKED, ids=[f"{a[0]}-{a[1]}" for a in ASKED])
def test_the_new_holder_is_told_none_of_the_earlier_holders_records(
    recycled: Path, lang: str, question: str, absent: tuple[str, ...], present: str,
) -> None:
    bot = _assistant(recycled)
    text = bot.say(bot.start(A, language=lang), question).text
    assert not [word for word in absent if word in text], text
    assert present in text, text


def test_the_new_holder_spends_and_cancels_only_what_is_theirs(recycled: Path) -> None:
    port = _port(recycled, NOW)
    bot = Assistant(_classify, port)
    data = bot.dialog.data
    with pytest.raises(ConflictError, match="balance 0"):
        data.redeem_points(A, 100, "test")
    with pytest.raises(NotFoundError, match="no subscription sub-h1"):
        data.cancel_subscription(A, "sub-h1")
    # the earlier holder's records are kept (staff may read them): only the new holder is not told them
    assert port.loyalty(A).balance == 504 and [s.subscription_id for s in port.subscriptions(A)] == ["sub-h1"]
    # what the new holder does is theirs, and told
    port.set_roaming_cap(A, Decimal("80"))
    assert "80.00" in bot.say(bot.start(A, language="zh"), "漫游上限是多少").text
