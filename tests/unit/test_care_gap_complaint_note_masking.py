"""An agent's note on a complaint goes into the complaint's history, which is append-only (migration 0021): nothing
erases it later, not even ``fairtel privacy erase``. So its identity data is masked when the note is made:
resident ID-card numbers whole (the ID-card mark, no digit kept), e-mail addresses (``z***@example.com``), and the
note says it was masked. Phone numbers, ids, dates and amounts stay as written (a phone number is shown by the
reader's role when read: the agent sees it, an analyst its keyed pseudonym)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fairtel.care import ComplaintStatus, open_complaint, transition
from fairtel.privacy import ID_NUMBER_MARK

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARK = "[已隐去个人信息 personal data masked]"


def _noted(note: str | None) -> str | None:
    complaint = open_complaint("cmp-0000099", "8613800138000", "billing_error", "charged twice", at=T0)
    after = transition(complaint, ComplaintStatus.ACKNOWLEDGED, at=T0 + timedelta(hours=1), by="desk-1", note=note)
    return after.events[-1].note


@pytest.mark.parametrize(("written", "kept", "gone"), [
    ("身份证号 11010519491231002X 已核对", ID_NUMBER_MARK, "11010519491231002X"),
    ("id 11010519491231002x checked", ID_NUMBER_MARK, "1231002"),
    ("reply to zhang.san@example.com", "z***@example.com", "zhang.san"),
    ("邮箱 13900139000@qq.com", "1***@qq.com", "13900139000"),
])
def test_each_kind_of_personal_data_is_masked_and_the_note_says_so(written: str, kept: str, gone: str) -> None:
    note = _noted(written)
    assert note is not None
    assert kept in note and gone not in note, note
    assert note.endswith(MARK)


def test_a_note_with_every_kind_keeps_its_words_and_ids() -> None:
    note = _noted("Customer 13900139000 (ID 110105194912310021, mail li.si@example.cn) disputes adj_01jd1234567890 "
                  "on cmp-0000099 from 2026-11-03: 12.50 CNY")
    assert note == ("Customer 13900139000 (ID " + ID_NUMBER_MARK + ", mail l***@example.cn) disputes adj_01jd1234567890 "
                    "on cmp-0000099 from 2026-11-03: 12.50 CNY " + MARK)


@pytest.mark.parametrize("written", [None, "", "checked the bill, refund on its way", "masked before: 139****9000",
                                     "call back on +86 139 0013 9000", "回电 139-0013-9000"])
def test_a_note_with_nothing_to_mask_is_kept_as_written(written: str | None) -> None:
    assert _noted(written) == written


def test_masking_a_masked_note_changes_nothing() -> None:
    from fairtel.care._complaints import mask_note

    once = mask_note("call 13900139000 or mail a.b@example.com, ID 11010519491231002X")
    assert once is not None and once.count(MARK) == 1
    assert mask_note(once) == once
