"""What agents read never shows a resident ID or bank-card number in clear: a ticket note, a complaint's words,
evidence (numbers inside ids included: a switch's id may carry the caller's number)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fairtel.api._cases import _scrub
from fairtel.api._tickets import _note_out
from fairtel.store._care import TicketNoteEntry

ID_CARD = "11010519491231002X"  # passes the GB 11643 check
CARD = "6222021234567890128"  # passes Luhn


class _Acc:
    """Just what the two readers use of an agent's access: their name for a login, how they see a number and the
    numbering plan numbers in free text are read by (the home country's, kept with the pseudonyms)."""

    pseudonyms = SimpleNamespace(home_country="CN")

    def login_name(self, username: str) -> str:
        return username

    def show(self, digits: str) -> str:
        return digits[:3] + "****" + digits[-4:]


def test_a_ticket_note_never_shows_an_id_or_card_number() -> None:
    entry = TicketNoteEntry(1, "tkt-1", datetime(2026, 11, 1, tzinfo=UTC), "agent1", None,
                            f"caller gave ID {ID_CARD} and card {CARD}")
    shown = _note_out(_Acc(), entry).note  # type: ignore[arg-type]
    assert ID_CARD not in shown and CARD not in shown and "ID" in shown


def test_evidence_masks_numbers_also_inside_ids() -> None:
    acc: Any = SimpleNamespace(show=_Acc().show)
    out = _scrub(acc, {"record": "call_8613800138000_7f3e", "note": "call 8613800138000 back"})
    assert "8613800138000" not in out["record"] and "8613800138000" not in out["note"]
    assert "861****8000" in out["note"]
