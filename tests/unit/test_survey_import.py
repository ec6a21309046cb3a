"""NPS answers from an operator directory: stored once, bad lines refused with file, line and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fairtel.bootstrap import App, bootstrap
from fairtel.cli._surveys import import_surveys
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.store import Customer, Subscriber, Survey
from fairtel.store._schema import table_of


def _register(app: App) -> App:
    """The home with the line the answers are from in its register (an answer from another number is refused)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with app.db.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cu-1", created_at=at))
        conn.execute(table_of(Subscriber).insert().values(msisdn="8613800000001", customer_id="cu-1", plan_id="basic-39",
                                                          activated_at=at, status="active", language="zh", region=None, updated_at=at))
    return app


def _line(**kw: object) -> str:
    row = {"survey_id": "nps-1", "msisdn": "8613800000001", "answered_at": "2026-09-03T10:00:00+08:00", "score": 9,
           "channel": "sms", "comment": None} | kw
    return json.dumps(row)


def test_answers_are_stored_once(tmp_path: Path) -> None:
    app = _register(bootstrap(load_settings(home=tmp_path / "home")))
    path = tmp_path / "surveys.jsonl"
    path.write_text(_line() + "\n" + _line(survey_id="nps-2", score=3, comment="扣费不明") + "\n", encoding="utf-8")
    assert import_surveys(app, path) == {"read": 2, "inserted": 2, "skipped": 0}
    assert import_surveys(app, path) == {"read": 2, "inserted": 0, "skipped": 2}
    with app.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(Survey))).scalar() == 2
    app.close()


def test_bad_lines_name_their_line_and_field(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    path = tmp_path / "surveys.jsonl"
    path.write_text("\n".join([_line(), _line(score=11), "{not json", _line(answered_at="yesterday"),
                               _line(msisdn="")]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        import_surveys(app, path)
    got = {(p.line, p.field) for p in err.value.problems}
    assert got == {(2, "score"), (3, None), (4, "answered_at"), (5, "msisdn")}
    with app.db.connect() as conn:  # nothing stored from a file with a bad line
        assert conn.execute(select(func.count()).select_from(table_of(Survey))).scalar() == 0
    app.close()


def test_the_command_imports_and_reports(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fairtel.cli import app as cli

    path = tmp_path / "surveys.jsonl"
    path.write_text(_line() + "\n", encoding="utf-8")
    home = str(tmp_path / "home")
    _register(bootstrap(load_settings(home=tmp_path / "home"))).close()
    result = CliRunner().invoke(cli, ["care", "import-surveys", str(path), "--json", "--home", home])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"read": 1, "inserted": 1, "skipped": 0}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_line(score="ten") + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["care", "import-surveys", str(bad), "--home", home])
    assert result.exit_code != 0 and "score" in result.output


def test_ids_repeated_in_one_file_and_values_the_database_would_cut(tmp_path: Path) -> None:
    """The same answer twice in a file is one answer (a duplicate); another answer under an id already read, an id
    longer than the store keeps (it was cut, so two ids became one) or a number that is not E.164 is refused
    with its line; nothing reaches the database half-way."""
    app = _register(bootstrap(load_settings(home=tmp_path / "home")))
    again = tmp_path / "again.jsonl"
    again.write_text(_line() + "\n" + _line() + "\n", encoding="utf-8")
    assert import_surveys(app, again) == {"read": 2, "inserted": 1, "skipped": 1}
    bad = tmp_path / "bad.jsonl"
    long_id = "nps-" + "x" * 40
    bad.write_text("\n".join([_line(survey_id="nps-9"), _line(survey_id="nps-9", score=2), _line(survey_id=long_id),
                              _line(survey_id="nps-8", msisdn="+86 138"), _line(survey_id="nps-7", comment="a\x00b")]) + "\n",
                   encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        import_surveys(app, bad)
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "survey_id"), (3, "survey_id"), (4, "msisdn"), (5, "comment")]
    with app.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(Survey))).scalar() == 1
    app.close()


def test_complaints_repeated_in_one_file_are_one_and_conflicts_are_refused(tmp_path: Path) -> None:
    from fairtel.cli._care import import_complaints

    app = bootstrap(load_settings(home=tmp_path / "home"))
    row = {"complaint_id": "cmp-1", "msisdn": "8613800000001", "at": "2026-09-03T10:00:00+08:00",
           "category": "vas", "channel": "hotline", "text": "不认识这笔扣费"}
    path = tmp_path / "complaints.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert import_complaints(app, path) == {"read": 2, "inserted": 1, "duplicate": 1}
    path.write_text(json.dumps(row | {"complaint_id": "cmp-2"}) + "\n" + json.dumps(row | {"complaint_id": "cmp-2", "text": "x"})
                    + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        import_complaints(app, path)
    assert [(p.line, p.field) for p in err.value.problems] == [(2, "complaint_id")]
    app.close()
