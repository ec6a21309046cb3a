"""An invalid input's JSON error keeps each problem's machine-readable code: ``details.problems`` is the text of
each problem (as before) and ``details.problem_details`` the same problems as objects, with their ``code``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app as fairtel
from fairtel.core.errors import InvalidInputError, NotFoundError, Problem

runner = CliRunner()


def test_to_dict_carries_each_problems_code_next_to_the_text() -> None:
    err = InvalidInputError([Problem("u.csv", 4, "msisdn", "no subscriber 8613900000001", "unknown"),
                             Problem("u.csv", None, None, "empty file")], what="usage u.csv")
    out = err.to_dict()
    assert out["code"] == "input_invalid" and out["message"] == "usage u.csv: 2 problems"
    assert out["details"]["problems"] == ["u.csv:4 [msisdn]: no subscriber 8613900000001", "u.csv: empty file"]
    assert out["details"]["problem_details"] == [
        {"file": "u.csv", "line": 4, "field": "msisdn", "message": "no subscriber 8613900000001", "code": "unknown"},
        {"file": "u.csv", "line": None, "field": None, "message": "empty file", "code": "invalid"},
    ]
    assert "problem_details" not in err.details  # the API answers the problems its own way (``error_details``)
    assert NotFoundError("no plan x").to_dict() == {"code": "not_found", "message": "no plan x"}


def test_a_commands_json_error_names_the_problems_code(tmp_path: Path) -> None:
    op = tmp_path / "op"
    (op / "usage").mkdir(parents=True)
    (op / "catalog.toml").write_text("[operator\nname = 1\n", encoding="utf-8")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n", encoding="utf-8")
    result = runner.invoke(fairtel, ["load", str(op), "--home", str(tmp_path / "h"), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "catalog_invalid"
    (text,) = error["details"]["problems"]
    (problem,) = error["details"]["problem_details"]
    assert text.startswith(f"{op / 'catalog.toml'}:1: TOML syntax")
    assert problem["code"] == "toml_syntax" and problem["line"] == 1 and problem["file"] == str(op / "catalog.toml")
