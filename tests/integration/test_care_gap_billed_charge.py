"""The assistant explains a charge of a billed month as its bill charged it (the lines the bill was issued from, as
``fairtel bill statement`` and ``fairtel explain`` do), never as the period was rated again since.

Before: after a tariff change, a rerate and the month rated again, the assistant read the rated lines as they stood:
the Hong Kong call billed 4.50 was told as "这笔 通话 费用 3.00 元 … 合计：3.00 元" (the new tariff's steps), then
"更正：本话单由 4.50 元改为 3.00 元，已退还 1.50 元", an answer that contradicts itself and the bill. Now the charge is
4.50 under the tariff the bill was issued under, the correction says the 1.50 is deducted on the next bill, and a
call rated after the bill is marked as on no bill (``on_bill`` False); a month not billed yet is told as rated."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from fairtel_seed import ALICE, PERIOD, Seeded, seed
from test_api_gap_issued_bill_lines import NOVEMBER, _rate_again

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.cli._home import home_catalog
from fairtel.store import StoreCareData

NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    home = tmp_path_factory.mktemp("home")
    s = seed(home)
    _rate_again(s, home)  # HK calls 1.50 → 1.00 a minute, rerated; a late October call; a November SMS
    yield s
    s.engine.dispose()


def _port(s: Seeded) -> StoreCareData:
    return StoreCareData(s.app.db, s.settings.lake_dir, home_catalog(s.app, None, []), clock=lambda: NOW)


def test_a_billed_charge_is_told_as_its_bill_charged_it(seeded: Seeded) -> None:
    charge = _port(seeded).explain_charge(ALICE, "r-1", "zh")
    assert charge is not None and charge.explanation is not None
    assert charge.amount_minor == 450 and charge.on_bill is True
    zh, en = charge.explanation.zh, charge.explanation.en
    assert "1.50 元/分钟" in zh and "合计：4.50 元" in zh and "3.00 元/分钟" not in zh
    changed = "资费“港澳台长途 1.50 元/分钟”由 1.50 元/分钟调整为 1.00 元/分钟"  # what of its tariff changed
    assert f"资费：按出账时适用的资费计算；此后本话单适用的资费已调整：{changed}\n" in zh
    billed, again = zh.split("重新计费后的计价：")  # the bill's pricing first, as the bill charged it
    assert "计费 3 分钟 × 1.50 元/分钟 = 4.5 元" in billed and "× 1.00 元/分钟" not in billed
    assert f"本话单由 4.50 元改为 3.00 元（{changed}），将在下期账单中抵扣 1.50 元" in billed and "已退还" not in zh
    assert "计费 3 分钟 × 1.00 元/分钟 = 3 元" in again  # then as the rerate priced it
    assert "Total: 4.50 CNY" in en and "1.50 CNY credited on your next bill" in en


def test_the_months_charges_are_the_bills_and_late_usage_is_marked_apart(seeded: Seeded) -> None:
    port = _port(seeded)
    october = {c.record_id: c for c in port.charges(ALICE, PERIOD)}
    assert (october["r-1"].amount_minor, october["r-1"].on_bill) == (450, True)
    assert (october["r-late"].amount_minor, october["r-late"].on_bill) == (200, False)
    assert [(c.record_id, c.on_bill) for c in port.charges(ALICE, NOVEMBER)] == [("r-nov", None)]


def _classify(text: str) -> IntentPrediction:
    label = "charge_explain" if "为什么" in text or "why" in text.lower() else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_the_assistant_says_the_billed_amount_with_the_correction_after_it(seeded: Seeded) -> None:
    assistant = Assistant(_classify, _port(seeded))
    conv = assistant.start(ALICE, language="zh")
    reply = assistant.say(conv, "10月5日那个电话为什么收4.50元？")
    assert reply.text.startswith("2026-10-05 的这笔通话费用 4.50 元，由计费规则"), reply.text
    assert "合计：4.50 元" in reply.text and "将在下期账单中抵扣 1.50 元" in reply.text
    assert "3.00 元，由计费规则" not in reply.text and "已退还" not in reply.text
