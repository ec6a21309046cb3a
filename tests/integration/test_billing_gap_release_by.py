"""`--by` holding a phone number is refused by `fairtel bill release` as by `fairtel fraud decide`, worded for the
command it was given to: a release of held usage is not a fraud decision ("fraud decision: 1 problem ... shown to
analysts beside the decision" was what a release said)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import P

from fairtel.cli import app as fairtel

home = base.home
runner = CliRunner()
BY = "rev 8613800138000"


def _error(*args: str) -> dict[str, object]:
    result = runner.invoke(fairtel, [*args, "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert isinstance(error, dict)
    return error


def test_a_release_by_a_number_is_not_worded_as_a_fraud_decision(home: Path) -> None:
    error = _error("bill", "release", "--period", P, "--by", BY, "--record", "s-2", "--home", str(home))
    assert error["code"] == "input_invalid"
    said = json.dumps(error)
    assert "fraud" not in said and "analysts" not in said
    assert error["message"] == "--by: 1 problem"
    assert "must not hold a phone number" in said and "shown beside what was decided" in said


def test_a_fraud_decision_by_a_number_is_refused_the_same_way(home: Path) -> None:
    error = _error("fraud", "decide", "case-1", "--confirm", "--by", BY, "--home", str(home))
    assert error["code"] == "input_invalid" and error["message"] == "--by: 1 problem"
    assert "must not hold a phone number" in json.dumps(error)
