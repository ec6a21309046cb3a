"""A credit an agent posts keeps its reason as the ``care-credit`` code: the agent's words its note, the complaint and
the record it names; it fits a bill line (a Chinese note is not percent-encoded nine bytes a letter) and always
parses, and a statement words it in Chinese and English."""

from __future__ import annotations

import pytest

from fairtel.billing import line_text
from fairtel.billing._model import REASON_LIMIT, care_credit_reason, decode_reason, encode_reason
from fairtel.catalog import Catalog, default_catalog_path, load_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def test_the_reason_carries_the_agents_words_and_links() -> None:
    text = care_credit_reason("客户称未拨打尼日利亚电话 核实后退还", "CNY", complaint="cmp_01m8dwqve0ekx8jyvxktghhat7",
                              record="1790675646.25258-1381")
    assert text.startswith("care-credit note=客户称未拨打尼日利亚电话%20核实后退还 ") and len(text) <= REASON_LIMIT
    assert decode_reason(text) == ("care-credit", {"note": "客户称未拨打尼日利亚电话 核实后退还", "complaint": "cmp_01m8dwqve0ekx8jyvxktghhat7",
                                                   "record": "1790675646.25258-1381", "currency": "CNY"})
    assert decode_reason(care_credit_reason("goodwill", "CNY")) == ("care-credit", {"note": "goodwill", "currency": "CNY"})


@pytest.mark.parametrize("note", ["退" * 180, "refund " * 26, "a=b %20 c\tdone " * 12])
def test_a_long_note_is_cut_to_fit_and_still_parses(note: str) -> None:
    text = care_credit_reason(note, "CNY", complaint="cmp_01m8dwqve0ekx8jyvxktghhat7", record="r" * 120)
    assert len(text) <= REASON_LIMIT
    decoded = decode_reason(text)
    assert decoded is not None and decoded[0] == "care-credit" and decoded[1]["complaint"] == "cmp_01m8dwqve0ekx8jyvxktghhat7"
    assert decoded[1]["note"].endswith("…") and " ".join(note.split()).startswith(decoded[1]["note"].removesuffix("…").rstrip())


def test_other_codes_decode_as_before() -> None:
    text = encode_reason("late-usage", "CNY", period="2026-10", record="r 1", new="2.00")
    assert text == "late-usage period=2026-10 record=r%201 new=2.00 currency=CNY"


def test_the_statement_words_a_care_credit(catalog: Catalog) -> None:
    reason = care_credit_reason("通话中断，善意补偿", "CNY", complaint="cmp-9")
    zh = line_text("adjustment", rule_id=None, catalog=catalog, language="zh", description=f"credit: {reason}")
    en = line_text("adjustment", rule_id=None, catalog=catalog, language="en", description=f"credit: {reason}")
    assert zh == "减免：客服调账退款（投诉 cmp-9，通话中断，善意补偿）"
    assert en == "Credit: customer care credit (complaint cmp-9, 通话中断，善意补偿)"


def test_the_reason_alone_is_worded_for_the_assistants_ledger_rows(catalog: Catalog) -> None:
    from fairtel.billing._statement import reason_words

    reason = care_credit_reason("goodwill: dropped calls", "CNY", record="r-1")
    assert reason_words(reason, catalog=catalog, language="zh") == "客服调账退款（话单 r-1，goodwill: dropped calls）"
    assert reason_words(reason, catalog=catalog, language="en") == "customer care credit (record r-1, goodwill: dropped calls)"
    assert reason_words("typed by hand", catalog=catalog, language="en") == "typed by hand"
