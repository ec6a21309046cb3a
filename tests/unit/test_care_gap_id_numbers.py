"""Resident ID-card numbers (居民身份证号码) and bank-card numbers in complaints, their notes and survey comments are
never stored as written by the command line (each is kept as its mark, ``[身份证号 ID number]``), and never shown
by it: ``care complaints --json``, ``care complaint-history --json`` and a move's ``--json`` answer hide them as
the API does, also in a complaint stored before they were hidden on the way in. The subscriber's own words and
number stay as written (a number in an agent's note is stored as a token, ``care.tokenise_note``, and read back as
the number)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.privacy import CARD_NUMBER_MARK, ID_NUMBER_MARK
from fairtel.store import Complaint, ComplaintEvent, Survey, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE = "8613800138000"
ID_NUMBER = "110101199003071234"  # a resident ID-card number with a valid check character
CARD = "4111 1111 1111 1111"  # a payment card's number (Luhn)


def _app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def _cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{LINE},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with _app(home) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    return home


def _stored_texts(home: Path) -> list[str]:
    with _app(home) as fapp, fapp.db.connect() as conn:
        texts = [r[0] for r in conn.execute(select(table_of(Complaint).c.text))]
        notes = [r[0] for r in conn.execute(select(table_of(ComplaintEvent).c.note)) if r[0]]
        comments = [r[0] for r in conn.execute(select(table_of(Survey).c.comment)) if r[0]]
    return [*texts, *notes, *comments]


def test_an_imported_complaint_keeps_the_mark_not_the_id_number(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "complaints.jsonl"
    src.write_text(json.dumps({"complaint_id": "cmp-id-1", "msisdn": LINE, "at": "2026-11-20T10:00:00+08:00",
                               "category": "billing_error", "text": f"身份证号{ID_NUMBER}，卡号 {CARD}，多扣了6元"}) + "\n",
                   encoding="utf-8")
    _cli("care", "import-complaints", str(src), "--home", str(home))
    (stored,) = _stored_texts(home)
    assert stored == f"身份证号{ID_NUMBER_MARK}，卡号 {CARD_NUMBER_MARK}，多扣了6元"
    listed = _cli("care", "complaints", "--home", str(home), "--json").stdout
    assert ID_NUMBER not in listed and "1111" not in listed
    assert json.loads(listed)[0]["msisdn"] == LINE  # the subscriber's number still shown (and audited)


def test_a_complaint_recorded_on_the_command_line_keeps_the_mark(home: Path) -> None:
    _cli("care", "complain", "--msisdn", LINE, "--text", f"我的身份证 {ID_NUMBER} 被冒用了，扣费不对",
         "--home", str(home), "--json")
    (stored,) = _stored_texts(home)
    assert ID_NUMBER not in stored and ID_NUMBER_MARK in stored and "扣费不对" in stored


def test_the_id_number_a_stored_complaint_holds_is_never_printed(home: Path) -> None:
    cid = json.loads(_cli("care", "complain", "--msisdn", LINE, "--text", "多扣了6元", "--home", str(home),
                          "--json").stdout)["complaint_id"]
    c = table_of(Complaint)
    with _app(home) as fapp, fapp.db.begin() as conn:  # as a complaint stored before numbers were hidden on the way in
        conn.execute(update(c).where(c.c.complaint_id == cid).values(text=f"身份证 {ID_NUMBER} 多扣了6元"))
    listed = json.loads(_cli("care", "complaints", "--home", str(home), "--json").stdout)
    assert listed[0]["text"] == f"身份证 {ID_NUMBER_MARK} 多扣了6元"
    history = _cli("care", "complaint-history", cid, "--home", str(home), "--json").stdout
    assert json.loads(history)["text"] == f"身份证 {ID_NUMBER_MARK} 多扣了6元"
    assert ID_NUMBER not in history
    moved = _cli("care", "complaint-ack", cid, "--home", str(home), "--json").stdout
    assert ID_NUMBER not in moved and json.loads(moved)["text"] == f"身份证 {ID_NUMBER_MARK} 多扣了6元"


def test_a_note_keeps_the_mark_and_the_subscribers_own_number(home: Path) -> None:
    cid = json.loads(_cli("care", "complain", "--msisdn", LINE, "--text", "多扣了6元", "--home", str(home),
                          "--json").stdout)["complaint_id"]
    _cli("care", "complaint-ack", cid, "--note", f"核实身份证 {ID_NUMBER}，回拨 13800138000", "--home", str(home))
    (stored,) = [t for t in _stored_texts(home) if t.startswith("核实")]
    # the number kept apart, as a token (``care.tokenise_note``) whose number an erasure can forget
    assert stored.startswith(f"核实身份证 {ID_NUMBER_MARK}，回拨 [tel:") and "13800138000" not in stored
    history = _cli("care", "complaint-history", cid, "--home", str(home), "--json").stdout
    (shown,) = [e["note"] for e in json.loads(history)["history"] if e["note"] and e["note"].startswith("核实")]
    # read back as written (the subscriber's own number, shown to the desk as typed)
    assert shown == f"核实身份证 {ID_NUMBER_MARK}，回拨 13800138000"
    assert ID_NUMBER not in history


def test_survey_comments_keep_the_mark(home: Path, tmp_path: Path) -> None:
    _cli("care", "survey", "--msisdn", LINE, "--score", "3", "--comment", f"身份证{ID_NUMBER}办卡太慢", "--home", str(home))
    src = tmp_path / "surveys.jsonl"
    src.write_text(json.dumps({"survey_id": "srv-1", "msisdn": LINE, "answered_at": "2026-11-20T10:00:00+08:00",
                               "score": 9, "comment": f"ID {ID_NUMBER}, card {CARD}: quick fix"}) + "\n", encoding="utf-8")
    _cli("care", "import-surveys", str(src), "--home", str(home))
    assert sorted(_stored_texts(home)) == sorted([f"ID {ID_NUMBER_MARK}, card {CARD_NUMBER_MARK}: quick fix",
                                                  f"身份证{ID_NUMBER_MARK}办卡太慢"])
