"""A phone number in an agent's note on a complaint is stored as a token (``care.tokenise_note``) and read back as the
agent wrote it (``care.resolve_note``): its digits as typed, spaces, dashes and ``+`` left out, a number dialled at
home as dialled (``13800138000`` in China, ``015123456789`` in Germany), a number an id holds as the id holds it, as
every note read before tokens. The table of note numbers keeps the E.164 number (what erasure matches), the stored
note how it was written, in letters only."""

from __future__ import annotations

import re

import pytest

from fairtel.care._complaints import NOTE_NUMBER_ERASED, note_token, note_tokens, resolve_note, tokenise_note
from fairtel.privacy import Pseudonymizer

KEY = Pseudonymizer("k" * 32, domain="msisdn")


@pytest.mark.parametrize(("country", "note", "shown", "e164"), [
    ("CN", "call 139 0013 9000 back", "call 13900139000 back", "8613900139000"),
    ("CN", "call +86 139-0013-9000 back", "call 8613900139000 back", "8613900139000"),
    ("CN", "call 0086 139 0013 9000 back", "call 008613900139000 back", "8613900139000"),
    ("CN", "号码１３９００１３９０００，已回拨", "号码13900139000，已回拨", "8613900139000"),
    ("CN", "ticket cmp-13900139000-01 closed", "ticket cmp-13900139000-01 closed", "8613900139000"),
    ("DE", "called back on 0151 2345 6789", "called back on 015123456789", "4915123456789"),
    ("DE", "called back on +49 151 2345 6789", "called back on 4915123456789", "4915123456789"),
])
def test_a_number_is_read_back_as_written(country: str, note: str, shown: str, e164: str) -> None:
    stored, numbers = tokenise_note(note, lambda n: note_token(n, KEY), home_country=country)
    assert not re.search(r"\d{3}", stored.replace("cmp-", "").replace("-01", "")), stored  # no digit of the number
    assert list(numbers.values()) == [e164]  # the table keeps E.164: what erasure matches
    assert note_tokens(stored) == {note_token(e164, KEY)}  # one token per number, however written
    assert resolve_note(stored, numbers) == shown
    erased = resolve_note(stored, {}) or ""
    assert NOTE_NUMBER_ERASED in erased and not re.search(r"\d{7}", erased), erased  # forgotten: no spelling of it


def test_one_number_written_two_ways_has_one_token_and_reads_back_each_way() -> None:
    stored, numbers = tokenise_note("rang 138 0013 8000, then +86 138 0013 8000", lambda n: note_token(n, KEY))
    assert numbers == {note_token("8613800138000", KEY): "8613800138000"}
    assert resolve_note(stored, numbers) == "rang 13800138000, then 8613800138000"
