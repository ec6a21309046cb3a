"""NPS answers imported (``fairtel care import-surveys``, ``fairtel load``) only for lines in the register, each
value kept whole, and a stored answer never silently kept beside a different one under its id.

Before: an answer from a number that is no subscriber was stored and counted in the month's NPS; a channel longer
than the column was cut to 16 characters; an id already stored with another answer was counted as ``skipped``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from fairtel.bootstrap import App, bootstrap
from fairtel.cli._surveys import import_surveys
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.store import Customer, Subscriber, Survey
from fairtel.store._schema import table_of

LINE, STRANGER = "8613800000001", "8699999999999"
AT = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    fapp = bootstrap(load_settings(home=tmp_path / "home"))
    with fapp.db.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cu-1", created_at=AT))
        conn.execute(table_of(Subscriber).insert().values(
            msisdn=LINE, customer_id="cu-1", plan_id="basic-39", activated_at=AT, status="active", language="zh", region=None,
            updated_at=AT))
    yield fapp
    fapp.close()


def _line(**kw: object) -> str:
    row = {"survey_id": "t-1", "msisdn": LINE, "answered_at": "2026-10-05T10:00:00+08:00", "score": 10, "channel": "app",
           "comment": None} | kw
    return json.dumps(row)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "surveys.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stored(app: App) -> list[tuple[str, str, int, str]]:
    v = table_of(Survey)
    with app.db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(v.c.survey_id, v.c.msisdn, v.c.score, v.c.channel).order_by(v.c.survey_id))]


def test_an_answer_from_a_number_not_in_the_register_is_refused_with_its_line(app: App, tmp_path: Path) -> None:
    path = _write(tmp_path, _line(), _line(survey_id="t-2", msisdn=STRANGER), _line(survey_id="t-3", score=6))
    with pytest.raises(InvalidInputError) as err:
        import_surveys(app, path)
    assert [(p.file, p.line, p.field, p.code) for p in err.value.problems] == [(str(path), 2, "msisdn", "unknown")]
    assert STRANGER in err.value.problems[0].message
    assert _stored(app) == []  # the whole file or none of it, as for any bad line

    path = _write(tmp_path, _line(), _line(survey_id="t-3", score=6), _line(survey_id="t-3", score=6))
    assert import_surveys(app, path) == {"read": 3, "inserted": 2, "skipped": 1}
    assert _stored(app) == [("t-1", LINE, 10, "app"), ("t-3", LINE, 6, "app")]


def test_a_channel_longer_than_the_store_keeps_is_refused_not_cut(app: App, tmp_path: Path) -> None:
    path = _write(tmp_path, _line(channel="a-very-long-channel-name-here"), _line(survey_id="t-2", channel=7))
    with pytest.raises(InvalidInputError) as err:
        import_surveys(app, path)
    assert [(p.line, p.field) for p in err.value.problems] == [(1, "channel"), (2, "channel")]
    assert "16" in err.value.problems[0].message
    assert _stored(app) == []
    path = _write(tmp_path, _line(channel="x" * 16), _line(survey_id="t-2", channel=None))
    assert import_surveys(app, path) == {"read": 2, "inserted": 2, "skipped": 0}
    assert _stored(app) == [("t-1", LINE, 10, "x" * 16), ("t-2", LINE, 10, "sms")]


def test_an_id_stored_with_another_answer_is_a_conflict_not_skipped(app: App, tmp_path: Path) -> None:
    first = _write(tmp_path, _line(comment="好"), _line(survey_id="t-2", score=3))
    assert import_surveys(app, first) == {"read": 2, "inserted": 2, "skipped": 0}
    # the same answers again, the instant written in another offset: the same answers, skipped
    again = _write(tmp_path, _line(comment="好", answered_at="2026-10-05T02:00:00Z"), _line(survey_id="t-2", score=3))
    assert import_surveys(app, again) == {"read": 2, "inserted": 0, "skipped": 2}
    changed = _write(tmp_path, _line(score=0, comment="changed"), _line(survey_id="t-2", score=3), _line(survey_id="t-4"))
    with pytest.raises(InvalidInputError) as err:
        import_surveys(app, changed)
    assert [(p.line, p.field, p.code) for p in err.value.problems] == [(1, "survey_id", "conflict")]
    assert "stored with other content" in err.value.problems[0].message
    assert _stored(app) == [("t-1", LINE, 10, "app"), ("t-2", LINE, 3, "app")]  # the stored answer kept, t-4 not stored


def test_the_command_names_the_file_line_and_field(app: App, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fairtel.cli import app as cli

    path = _write(tmp_path, _line(msisdn=STRANGER))
    result = CliRunner().invoke(cli, ["care", "import-surveys", str(path), "--json", "--home", str(app.settings.home)])
    assert result.exit_code != 0
    assert f"{path}:1 [msisdn]" in result.output, result.output
