"""What the number scrubber finds in free text: ID-card and bank-card numbers (hidden by a fixed mark, from every
reader), phone numbers written with dots, and every spelling of one number under one pseudonym (its E.164
form's, the one the audit files the subscriber under). What it leaves: the digits of ids (``cmp-0000099``,
``v0012340180``), dates, amounts and addresses. And ``fairtel care complaint-history`` shows a note's third-party
number masked, as the API does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.care._dialog import _scrub
from fairtel.core.settings import load_settings
from fairtel.privacy import (
    CARD_NUMBER_MARK,
    HOME_COUNTRY_CODE,
    ID_NUMBER_MARK,
    Pseudonymizer,
    e164_of,
    has_number,
    hide_identity_numbers,
    pseudonymise_numbers,
    replace_numbers,
)
from fairtel.store import access_log, import_subscribers

ID_VALID = "11010519491231002X"  # the check character agrees (GB 11643)
ID_VALID_DIGIT = "420102199001011236"
ID_TYPO = "420102199001011234"  # one digit wrong: the check fails, the birth date (1990-01-01) is a real one
NOT_AN_ID = "123456789012345678"  # 18 digits, no check, no date: a long id
CARD = "6222021234567890128"  # 19 digits, Luhn
VISA = "4111111111111111"  # 16 digits, Luhn
NOT_A_CARD = "4111111111111112"  # 16 digits, Luhn fails: a long id


def tag(digits: str) -> str:
    return f"<{digits}>"


def _luhn_completed(body: str) -> str:
    """``body`` with the check digit that makes it pass Luhn."""
    for d in "0123456789":
        total = sum(
            int(c) if i % 2 == 0 else (2 * int(c) - 9 if int(c) > 4 else 2 * int(c))
            for i, c in enumerate(reversed(body + d))
        )
        if total % 10 == 0:
            return body + d
    raise AssertionError(body)


# ---- ID cards and bank cards: hidden by a mark, never replaced, never shown ---------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"ID {ID_VALID}", f"ID {ID_NUMBER_MARK}"),
        (f"ID {ID_VALID.lower()}", f"ID {ID_NUMBER_MARK}"),
        (f"身份证{ID_VALID_DIGIT}，", f"身份证{ID_NUMBER_MARK}，"),
        (f"ID {ID_TYPO}", f"ID {ID_NUMBER_MARK}"),  # the walk's example: a wrong digit hides no one's birth date
        ("ID 420102 19900101 1236", f"ID {ID_NUMBER_MARK}"),  # grouped 6-8-4
        ("ID ４２０１０２１９９００１０１１２３６", f"ID {ID_NUMBER_MARK}"),  # full-width
        (f"card {CARD}", f"card {CARD_NUMBER_MARK}"),
        ("card 6222 0212 3456 7890 128", f"card {CARD_NUMBER_MARK}"),
        ("card 4111-1111-1111-1111.", f"card {CARD_NUMBER_MARK}."),
        ("card ４１１１ １１１１ １１１１ １１１１", f"card {CARD_NUMBER_MARK}"),
    ],
)
@pytest.mark.parametrize("standalone", [False, True])
def test_id_card_and_bank_card_numbers_are_hidden(text: str, expected: str, standalone: bool) -> None:
    seen: list[str] = []

    def replace(digits: str) -> str:
        seen.append(digits)
        return tag(digits)

    assert replace_numbers(text, replace, standalone=standalone) == expected
    assert seen == []  # never handed to a replacement that might show it (an agent's mask keeps 9 digits of 18)
    assert has_number(text)


@pytest.mark.parametrize(
    "text",
    [
        f"record {NOT_AN_ID}",
        f"ref {NOT_A_CARD}",
        "iccid 89860012345678901234",
        f"iccid {_luhn_completed('898600123456789012')}",  # a SIM card's number passes Luhn too: not a bank card
    ],
)
def test_long_ids_that_are_no_id_card_or_bank_card_are_left(text: str) -> None:
    assert replace_numbers(text, tag) == text
    assert replace_numbers(text, tag, standalone=True) == text


def test_the_marks_hold_no_digit_and_are_left_as_they_are() -> None:
    text = f"ID {ID_VALID}, card {CARD}, tel 13800138000"
    once = replace_numbers(text, tag, standalone=True)
    assert once == f"ID {ID_NUMBER_MARK}, card {CARD_NUMBER_MARK}, tel <13800138000>"
    assert not re.search(r"\d", ID_NUMBER_MARK + CARD_NUMBER_MARK)
    assert replace_numbers(once, lambda d: d, standalone=True) == once


def test_a_number_with_a_letter_after_it_is_still_a_number() -> None:
    assert replace_numbers("13800138000x 13800138000X", tag) == "<13800138000>x <13800138000>X"


def test_identity_numbers_alone_can_be_hidden_leaving_numbers_as_written() -> None:
    text = f"call 138-0013-8000 or 138.0013.8000 about cmp-0000099; ID {ID_VALID}, card 6222 0212 3456 7890 128"
    assert hide_identity_numbers(text) == (
        f"call 138-0013-8000 or 138.0013.8000 about cmp-0000099; ID {ID_NUMBER_MARK}, card {CARD_NUMBER_MARK}"
    )


# ---- phone numbers with dots; dates, amounts and addresses are not numbers --------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("138.0013.8000", "<13800138000>"),
        ("call 138.0013.8000.", "call <13800138000>."),
        ("+86.138.0013.8000", "<8613800138000>"),
        ("+86 138.0013.8000", "<8613800138000>"),
        ("86.138.0013.8000", "<8613800138000>"),
        ("138．0013．8000", "<13800138000>"),  # full-width dots
        ("010.6552.9988", "<01065529988>"),
        ("１３８ ００１３ ８０００", "<13800138000>"),
        ("138\u00a00013\u00a08000", "<13800138000>"),
    ],
)
def test_dotted_and_spaced_numbers_are_found(text: str, expected: str) -> None:
    assert replace_numbers(text, tag) == expected
    assert replace_numbers(text, tag, standalone=True) == expected


@pytest.mark.parametrize(
    "text",
    [
        "amount 12345.67",
        "from 192.168.100.200",
        "on 2026.10.03",
        "on 03.10.2026",
        "version 1.2.3",
        "ratio 0.93",
        "bill/2026-10",
        "2026-10-03T20:00:00+08:00",
        "12.5.1234567.8",
    ],
)
def test_dates_amounts_and_addresses_with_dots_are_left(text: str) -> None:
    assert replace_numbers(text, tag) == text.replace("1234567", "<1234567>")


# ---- one number, one pseudonym however written ---------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "138-0013-8000",
        "138 0013 8000",
        "138.0013.8000",
        "１３８００１３８０００",
        "+86 138 0013 8000",
        "86-138-0013-8000",
        "0086 138 0013 8000",
        "8613800138000",
    ],
)
def test_every_spelling_of_a_number_gets_its_e164_pseudonym(written: str) -> None:
    p = Pseudonymizer("k" * 32)
    assert pseudonymise_numbers(f"caller {written}, see complaint cmp-0000099", p) == (
        f"caller {p('8613800138000')}, see complaint cmp-0000099"
    )


def test_e164_of_prefixes_home_mobile_numbers_only() -> None:
    assert HOME_COUNTRY_CODE == "86"
    assert e164_of("13800138000") == "8613800138000"
    assert e164_of("19912345678") == "8619912345678"
    assert e164_of("008613800138000") == "8613800138000"
    for as_is in ("8613800138000", "12125550123", "01065529988", "1380013800", "0000099", "10086"):
        assert e164_of(as_is) == as_is
    # without ``e164`` the replacement sees the digits as written (what a display masks)
    assert replace_numbers("13800138000", tag) == "<13800138000>"
    assert replace_numbers("13800138000", tag, e164=True) == "<8613800138000>"


def test_the_assistants_masking_agrees_with_the_register_form() -> None:
    """The assistant's transcript keeps the caller's own number however written, masks any other, and hides an
    ID card (a subscriber proving who they are in chat)."""
    said = _scrub(f"I am Zhang Wei, ID card {ID_VALID}, my line 138 0013 8000, call 139.0013.9000", ("8613800138000",))
    assert ID_VALID not in said and ID_NUMBER_MARK in said
    assert said.endswith("my line 13800138000, call 139****9000")


# ---- ids are not numbers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "complaint cmp-0000099",
        "nps-0000012 sub-0000123",
        "record v0012340180",
        "finding fnd_01jd1234567xyz",
        "survey srv_1234567",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "complaint/cmp-0000099",
    ],
)
def test_digits_inside_ids_are_the_ids(text: str) -> None:
    assert replace_numbers(text, tag, standalone=True) == text
    assert pseudonymise_numbers(text, Pseudonymizer("k" * 32)) == text


def test_a_number_next_to_an_id_is_still_replaced() -> None:
    p = Pseudonymizer("k" * 32)
    text = "complaint cmp-0000099 (13800138000); channel SIP/8613900139000-0000001a"
    assert pseudonymise_numbers(text, p) == (
        f"complaint cmp-0000099 ({p('8613800138000')}); channel SIP/{p('8613900139000')}-0000001a"
    )


# ---- the command line shows a note as the API does ------------------------------------------------------
LINE = "8613800138000"


def test_complaint_history_masks_a_third_party_number_in_a_note(tmp_path: Path) -> None:
    from fairtel.cli import app

    home = tmp_path / "home"
    fapp = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{LINE},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    fapp.db.dispose()
    complaints = tmp_path / "complaints.jsonl"
    complaints.write_text(
        json.dumps(
            {
                "complaint_id": "cmp-0000099",
                "msisdn": LINE,
                "at": "2026-03-02T09:00:00+08:00",
                "category": "vas",
                "text": "6 yuan, and my friend 13900139000 too",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    runner = CliRunner()

    def care(*args: str) -> str:
        res = runner.invoke(app, ["care", *args, "--home", str(home)])
        assert res.exit_code == 0, res.output
        return res.stdout

    care("import-complaints", str(complaints))
    care(
        "complaint-ack",
        "cmp-0000099",
        "--note",
        f"refunded, call 13900139000 back; line 13800138000; ID {ID_VALID}; cmp-0000099",
    )
    history = json.loads(care("complaint-history", "cmp-0000099", "--json"))
    assert [e["note"] for e in history["history"] if e["note"]] == [
        f"refunded, call 86139****9000 back; line 13800138000; ID {ID_NUMBER_MARK}; cmp-0000099"
    ]
    assert history["text"] == "6 yuan, and my friend 86139****9000 too"  # the words as the notes: a third party masked
    shown = care("complaint-history", "cmp-0000099")
    assert "13900139000" not in shown and ID_VALID not in shown and "86139****9000" in shown
    # the audit names the complaint as it is called (not ``cmp-p…``), and no number in clear
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.connect() as conn:
        rows = [r for r in access_log(conn) if r.action == "complaint.history"]
    fapp.db.dispose()
    assert len(rows) == 2 and {r.resource for r in rows} == {"complaint/cmp-0000099"}
