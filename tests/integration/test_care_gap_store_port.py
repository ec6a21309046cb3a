"""The assistant's data port over a real home (``StoreCareData``): a charge is explained as ``fairtel explain``
tells it (the tariff the bill was issued under, the corrections issued since, numbers masked), the roaming cap
is set in chat after a yes (a cap row as ``PUT /me/roaming-cap`` writes it, audited under the subscriber's
pseudonym), data prices are per MiB, and a redemption booked in chat is worded in the conversation's language.

Before: the port explained a charge with the home's current catalog and no corrections (after a tariff change
and a rerate, "1.20 元/分钟" steps that did not give the 3.00 charged, and nothing of the 0.60 credited), could
not set the cap (the assistant told the subscriber to go to the app), priced data "元/MB" and booked every
chat redemption as "redeemed in chat"."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, B, open_app
from test_rating_gap_explain_rerate import _corrected

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.cli import app as fairtel
from fairtel.cli._home import home_catalog
from fairtel.core.errors import InvalidInputError, NotFoundError
from fairtel.core.money import Money
from fairtel.privacy import Pseudonymizer, mask_msisdn
from fairtel.store import AccessAudit, LoyaltyEntry, RoamingCap, StoreCareData
from fairtel.store._schema import table_of

home = base.home  # the fixture: a home with three subscribers and their rated March usage
NOW = datetime(2026, 4, 2, 4, 0, tzinfo=UTC)
PSEUDONYM = Pseudonymizer("a test secret of the home, 32 chars", domain="msisdn")


def _port(home: Path, *, audited: bool = True) -> StoreCareData:
    app = open_app(home)
    return StoreCareData(app.db, app.settings.lake_dir, home_catalog(app, None, []), clock=lambda: NOW,
                         pseudonymize=PSEUDONYM if audited else None)


def _classify(text: str) -> IntentPrediction:
    lowered = text.lower()
    label = ("roaming" if "漫游" in text or "roaming" in lowered else
             "loyalty_points" if "积分" in text or "points" in lowered else "out_of_scope")
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_a_charge_is_explained_with_the_billed_tariff_and_the_correction_since(home: Path) -> None:
    _corrected(home)  # billed at 1.50 a minute, then the tariff corrected to 1.20 and the period rerated
    charge = _port(home).explain_charge(A, "v1", "zh")
    assert charge is not None and charge.explanation is not None
    zh, en = charge.explanation.zh, charge.explanation.en
    changed = "资费“港澳台长途 1.50 元/分钟”由 1.50 元/分钟调整为 1.20 元/分钟"  # what of its tariff changed
    assert f"资费：按出账时适用的资费计算；此后本话单适用的资费已调整：{changed}\n" in zh
    assert "1.50 元/分钟" in zh and "注意" not in zh and "（此后资费已调整）" not in zh
    assert "合计：3.00 元" in zh and f"本话单由 3.00 元改为 2.40 元（{changed}），将在下期账单中抵扣 0.60 元" in zh
    assert zh.rstrip().endswith("更正后本话单计：2.40 元")
    assert "3.00 CNY → 2.40 CNY (the rate “Calls to HK/MO/TW 1.50 CNY/min” changed from 1.50 CNY/min to " \
        "1.20 CNY/min); 0.60 CNY credited on your next bill" in en and "note:" not in en
    # the usage record is told too, and no number in clear: the text is said in chat and carried to agents
    assert "对方号码" in zh and "85261234567" not in zh + en
    assert A not in zh + en and mask_msisdn(A) in zh and mask_msisdn(A) in en
    # one lookup for both: the chat says what `fairtel explain` prints
    for lang, text in (("zh", zh), ("en", en)):
        out = CliRunner().invoke(fairtel, ["explain", "v1", "--home", str(home), "--lang", lang])
        assert out.exit_code == 0, out.output
        assert out.stdout.rstrip() == text.rstrip()


def test_a_charge_of_a_period_not_billed_is_explained_with_the_current_catalog(home: Path) -> None:
    charge = _port(home).explain_charge(A, "v1", "en")
    assert charge is not None and charge.explanation is not None
    en = charge.explanation.en
    assert "1.50 CNY/min" in en and "Total: 3.00 CNY" in en and "Correction" not in en and "Tariff:" not in en


def test_the_roaming_cap_is_set_as_the_api_sets_it_and_audited(home: Path) -> None:
    port = _port(home)
    assert port.set_roaming_cap(A, Decimal("200")) == Money.of("200.00", "CNY")
    t, audit = table_of(RoamingCap), table_of(AccessAudit)
    with port.engine.connect() as conn:
        (row,) = conn.execute(select(t).where(t.c.msisdn == A)).all()
        trail = conn.execute(select(audit).where(audit.c.action == "roaming_cap.set")).all()
    assert row.cap_id.startswith("cap") and row.amount_minor == 20000 and row.currency == "CNY"
    assert row.set_by == "assistant" and row.set_at.replace(tzinfo=UTC) == NOW
    assert [(r.actor, r.resource, r.subject_msisdn_pseudonym) for r in trail] == [("assistant", "roaming_cap", PSEUDONYM(A))]
    assert A not in str([tuple(r) for r in trail])
    facts = port.roaming(A, "JP")
    assert facts is not None and facts.cap == Money.of("200.00", "CNY")
    assert port.set_roaming_cap(A, None) is None  # removed: a new row without an amount
    facts = port.roaming(A, "JP")
    assert facts is not None and facts.cap is None
    with port.engine.connect() as conn:
        assert conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == A)
                            .order_by(t.c.set_at, t.c.cap_id)).all() == [(20000, "CNY"), (None, None)]


def test_a_roaming_cap_out_of_bounds_or_for_no_line_is_refused(home: Path) -> None:
    port = _port(home, audited=False)
    for amount in ("-1", "100000.01", "12.345"):
        with pytest.raises(InvalidInputError):
            port.set_roaming_cap(A, Decimal(amount))
    with pytest.raises(NotFoundError):
        port.set_roaming_cap("8613811112222", Decimal("100"))
    assert port.set_roaming_cap(B, Decimal("100000")) == Money.of("100000.00", "CNY")
    with port.engine.connect() as conn:
        assert conn.execute(select(table_of(RoamingCap).c.msisdn)).scalars().all() == [B]
        assert conn.execute(select(table_of(AccessAudit))).all() == []  # no pseudonymizer given: not audited here


def test_the_assistant_sets_the_cap_in_chat_after_a_yes(home: Path) -> None:
    port = _port(home)
    assistant = Assistant(_classify, port)
    conv = assistant.start(A)
    roam = assistant.say(conv, "去日本漫游怎么收费？")
    assert "可以直接告诉我" in roam.text and "App 或网上营业厅" not in roam.text
    assert "元/MiB" in roam.text and "元/MB" not in roam.text
    ask = assistant.say(conv, "把漫游上限设为200元")
    assert ask.waiting_for == "confirm"
    done = assistant.say(conv, "确认")
    assert done.action == "roaming_cap_set" and "已将您的每月漫游消费上限设为 200.00 元" in done.text
    assert done.data == {"cap": "200.00", "currency": "CNY"}
    after = assistant.say(conv, "去日本漫游怎么收费？")
    assert "您设置的每月漫游消费上限为 200.00 元" in after.text
    en = assistant.say(assistant.start(B), "what does roaming in Japan cost?")
    assert "CNY per MiB" in en.text and "per MB" not in en.text


def test_a_redemption_in_chat_is_booked_in_the_conversations_language(home: Path) -> None:
    port = _port(home)
    with port.engine.begin() as conn:
        conn.execute(table_of(LoyaltyEntry).insert(), [
            {"entry_id": f"pts-{m}", "msisdn": m, "kind": "earn", "points": 500, "reason": "bill", "booked_at": NOW}
            for m in (A, B)])
    assistant = Assistant(_classify, port)
    zh = assistant.start(A)  # registered in Chinese
    assert assistant.say(zh, "兑换100积分").waiting_for == "confirm"
    assert assistant.say(zh, "确认").action == "points_redeemed"
    en = assistant.start(B)  # registered in English
    assert assistant.say(en, "redeem 50 points please").waiting_for == "confirm"
    assert assistant.say(en, "yes").action == "points_redeemed"
    t = table_of(LoyaltyEntry)
    with port.engine.connect() as conn:
        booked = conn.execute(select(t.c.msisdn, t.c.points, t.c.reason).where(t.c.kind == "redeem").order_by(t.c.msisdn)).all()
    assert [tuple(r) for r in booked] == [(A, 100, "聊天中兑换"), (B, 50, "redeemed in chat")]
