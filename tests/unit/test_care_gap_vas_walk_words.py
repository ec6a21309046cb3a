"""Words from the unexplained-charge walk:

- the assistant said "您没有确认这项订购" of a charge the subscriber confirmed an hour after it was made: a refused
  ``not_confirmed`` charge is one not confirmed *before the charge*, in zh and en;
- a charge sent after its provider was suspended, dated before (``merchant_suspended_late``), is named and explained;
- the demo catalog's comment named the synthetic operator's fee-stealing merchants (the ground truth);
- the demo summary said "suspension advised: none" though the ranking's leaders scored high, on fewer subscriptions
  than the policy's floor: it now says which and why they are not advised."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from test_care_gap_dialog import ME, TZ, Records, _talk

from fairtel.care import ChargeFacts, Text
from fairtel.care._answers import REFUSAL_WHY, VERDICT_NAMES
from fairtel.catalog import default_catalog_path
from fairtel.rating._explain import VERDICT_WORDS


def _confirmed_after(verdict: str) -> Records:
    data = Records()
    data.charge_list[(ME, "2026-10")] = [ChargeFacts(
        "wa1", "vas", datetime(2026, 10, 9, 9, tzinfo=TZ), 0, "CNY", "offer/vas-horoscope-6",
        offer_id="vas-horoscope-6", offer_name=Text("星座运势", "Horoscope"), subscription_id="w-a", verdict=verdict,
        consent_state="confirmed", confirmed_at=datetime(2026, 10, 9, 10, tzinfo=TZ))]
    return data


def test_a_confirmation_after_the_charge_is_told_as_not_confirmed_before_it() -> None:
    zh = _talk(_confirmed_after("not_confirmed"), ["10月星座运势那笔扣费是什么"])[0].text
    assert "扣费前您没有确认这项订购" in zh and "因您没有确认" not in zh, zh
    en = _talk(_confirmed_after("not_confirmed"), ["why was I charged for horoscope in October?"])[0].text
    assert "you had not confirmed the order before the charge" in en and "never confirmed" not in en, en


def test_a_charge_sent_after_the_suspension_is_explained() -> None:
    zh = _talk(_confirmed_after("merchant_suspended_late"), ["10月星座运势那笔扣费是什么"])[0].text
    assert "该服务商被暂停后才提交这笔扣费" in zh, zh
    en = _talk(_confirmed_after("merchant_suspended_late"), ["why was I charged for horoscope in October?"])[0].text
    assert "the provider sent the charge after it was suspended" in en, en
    for table in (REFUSAL_WHY, VERDICT_NAMES, VERDICT_WORDS):
        zh_words, en_words = table["merchant_suspended_late"]
        assert zh_words and en_words


def test_the_demo_catalog_names_no_fee_stealing_merchant() -> None:
    comments = [line for line in default_catalog_path().read_text(encoding="utf-8").splitlines()
                if line.lstrip().startswith("#")]
    assert not [c for c in comments if "steal" in c or "sp-luckystar" in c or "sp-pixelart" in c], comments


def test_providers_scoring_high_on_too_few_subscriptions_are_named_not_advised() -> None:
    from fairtel.cli._assure import withheld_advice
    from fairtel.cli._demo import _advice

    ranking = pl.DataFrame({"provider_id": ["sp-pixelart", "sp-luckystar", "sp-melody", "sp-big"],
                            "score": [4.33, 2.67, 0.4, 1.5], "subscriptions": [6, 6, 40, 25], "charges": [9, 8, 60, 30],
                            "rank": [1, 2, 4, 3]})
    assert [w["provider_id"] for w in withheld_advice(ranking)] == ["sp-pixelart", "sp-luckystar"]
    said = _advice(ranking)
    assert said.startswith("sp-big; not advised: sp-pixelart (score 4.33, 6 subscriptions, 9 charges), sp-luckystar")
    assert "fewer than 20 subscriptions or charges" in said
    assert _advice(ranking.filter(pl.col("provider_id") == "sp-melody")) == "none"
