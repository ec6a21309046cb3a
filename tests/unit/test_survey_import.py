"""NPS answers from an operator directory: stored once, bad lines refused with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fairtel.bootstrap import bootstrap
from fairtel.cli._surveys import import_surveys
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.store import Survey
from fairtel.store._schema import table_of


def _line(**kw: object) -> str:
    row = {"survey_id": "nps-1", "msisdn": "8613800000001", "answered_at": "2026-09-03T10:00:00+08:00", "score": 9,
           "channel": "sms", "comment": None} | kw
    return json.dumps(row)


def test_answers_are_stored_once(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
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
    result = CliRunner().invoke(cli, ["care", "import-surveys", str(path), "--json", "--home", home])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"read": 1, "inserted": 1, "skipped": 0}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_line(score="ten") + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["care", "import-surveys", str(bad), "--home", home])
    assert result.exit_code != 0 and "score" in result.output
