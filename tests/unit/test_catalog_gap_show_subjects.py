"""`fairtel catalog show` shows the `[[subjects]]` map (CGRateS rating profiles): who is priced by which plan, for
which usage, from when, and whether each entry prices that usage now. After `catalog import-cgrates` this map decides
every price, and `show` (and `validate`'s summary) left it out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path, import_cgrates
from fairtel.cli import app

runner = CliRunner()
NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
LATER = """
[[subjects]]
subject = "1003"
plan = "RP_1002_LOW"
kinds = ["voice"]
from = 2099-01-01T00:00:00Z
"""


@pytest.fixture
def imported(shared_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "cat.toml"
    out.write_text(
        import_cgrates(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW).text + LATER, encoding="utf-8"
    )
    return out


def test_show_lists_the_subjects_in_the_table(imported: Path) -> None:
    result = runner.invoke(app, ["catalog", "show", str(imported)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert any(r.startswith("Subjects: who is priced by which plan") for r in rows)
    assert "1001 voice 2014-01-14T00:00:00+00:00 RP_1001 in effect" in rows
    assert "1001 voice 2010-01-14T00:00:00+00:00 RP_1002 replaced by RP_1001 (from 2014-01-14T00:00:00+00:00)" in rows
    assert "*any sms 2014-01-14T00:00:00+00:00 RP_SMS in effect" in rows
    assert "1003 voice 2099-01-01T00:00:00+00:00 RP_1002_LOW from 2099-01-01T00:00:00+00:00" in rows
    assert "6 subjects" in rows[1]


def test_show_json_has_the_subjects(imported: Path) -> None:
    result = runner.invoke(app, ["catalog", "show", str(imported), "--json"])
    assert result.exit_code == 0, result.output
    subjects = json.loads(result.stdout)["subjects"]
    assert [(s["subject"], s["plan"], s["kinds"], s["in_effect"]) for s in subjects] == [
        ("1001", "RP_1001", ["voice"], True),
        ("1001", "RP_1002", ["voice"], False),
        ("1002", "RP_1002", ["voice"], True),
        ("1003", "RP_1003", ["voice"], True),
        ("*any", "RP_SMS", ["sms"], True),
        ("1003", "RP_1002_LOW", ["voice"], False),
    ]
    old = subjects[1]
    assert old["from"] == "2010-01-14T00:00:00+00:00"
    assert old["replaced_by"] == {"plan": "RP_1001", "from": "2014-01-14T00:00:00+00:00"}
    assert subjects[4]["any_subject"] is True and subjects[5]["not_yet"] is True
    one = json.loads(runner.invoke(app, ["catalog", "show", str(imported), "--plan", "RP_1002", "--json"]).stdout)
    assert [(s["subject"], s["plan"]) for s in one["subjects"]] == [("1001", "RP_1002"), ("1002", "RP_1002")]


def test_validate_counts_the_subjects(imported: Path) -> None:
    result = runner.invoke(app, ["catalog", "validate", str(imported)])
    assert result.exit_code == 0, result.output
    assert "0 offers, 6 subjects (CNY" in result.stdout


def test_a_catalog_without_subjects_shows_none() -> None:
    result = runner.invoke(app, ["catalog", "show", str(default_catalog_path())])
    assert result.exit_code == 0 and "Subjects" not in result.stdout
    data = json.loads(runner.invoke(app, ["catalog", "show", str(default_catalog_path()), "--json"]).stdout)
    assert data["subjects"] == []
