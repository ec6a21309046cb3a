"""A record rated after its bill and charged by a rerate (``late-usage``, ``late-vas``) is stored with the old amount
0, not empty, so ``fairtel explain`` worded its charge as a tariff change ("priced again after a tariff change, 0.00
→ 0.60"): no tariff changed for it and it was never billed at 0.00. The entry's reason code decides; a billed record
priced again from 0 (an allowance that covered it) is still a tariff correction."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel.rating._explain import Correction, correction_words

AT = datetime(2026, 11, 27, 4, tzinfo=UTC)
LATE = "late-usage period=2026-10 record=late00003 new=0.60 rule=voice/domestic currency=CNY"


def test_a_late_charge_is_worded_as_charged_after_the_bill() -> None:
    late = Correction("adj1", 65, AT, 0, 60, reason=LATE)
    assert late.late
    en = correction_words(late, "CNY", "en")
    assert en == "Charged after the bill on 2026-11-27: 0.65 CNY, on your next bill"
    assert "tariff" not in en
    zh = correction_words(late, "CNY", "zh")
    assert zh.startswith("补收：2026-11-27 本话单在出账后计费") and "资费调整" not in zh
    carried = Correction("adj1", 65, AT, 0, 60, carried_in="2026-11", reason=LATE)
    assert correction_words(carried, "CNY", "en") == "Charged after the bill on 2026-11-27: 0.65 CNY, on the 2026-11 bill"
    vas = Correction("adj2", 500, AT, 0, 500, reason="late-vas period=2026-10 record=v1 rule=vas/x amount=5.00 currency=CNY")
    assert correction_words(vas, "CNY", "en").startswith("Charged after the bill on 2026-11-27: 5.00 CNY")


def test_a_billed_record_priced_again_from_zero_is_still_a_tariff_correction() -> None:
    again = Correction("adj3", 60, AT, 0, 60,
                       reason="rerate-usage period=2026-10 record=r1 old=0.00 new=0.60 currency=CNY")
    assert not again.late
    assert correction_words(again, "CNY", "en").startswith("Correction on 2026-11-27: priced again after a tariff change")
    unknown = Correction("adj4", 60, AT, 0, 60)  # a caller that does not pass the reason: worded as before
    assert "tariff change" in correction_words(unknown, "CNY", "en")
