"""`fairtel catalog validate` and `fairtel catalog show`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()
BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "catalog" / "broken.toml"


def test_validate_lists_every_problem_and_exits_2() -> None:
    result = runner.invoke(app, ["catalog", "validate", str(BROKEN)])
    assert result.exit_code == 2
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(str(BROKEN))]
    assert len(lines) == 24
    assert f"{BROKEN}:113: plans[2].rules[0].rate: unknown rate 'data-3-per-gb' [unknown_reference]" in lines
    assert f"{BROKEN}:8: operator.currency: 'RMB' is not a known ISO 4217 currency code [bad_currency]" in lines


def test_validate_json() -> None:
    result = runner.invoke(app, ["catalog", "validate", str(BROKEN), "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and len(data["problems"]) == 24
    assert {"file", "line", "field", "message", "code"} <= set(data["problems"][0])


def test_validate_default_catalog() -> None:
    result = runner.invoke(app, ["catalog", "validate", str(default_catalog_path())])
    assert result.exit_code == 0, result.output
    assert "valid: 4 plans, 6 zones, 4 roaming zones" in result.stdout
    data = json.loads(runner.invoke(app, ["catalog", "validate", str(default_catalog_path()), "--json"]).stdout)
    assert data["valid"] is True and data["counts"]["offers"] == 8


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "[file_not_found]" in result.stdout


def test_show_default_and_one_plan() -> None:
    result = runner.invoke(app, ["catalog", "show"])
    assert result.exit_code == 0, result.output
    for needle in ("basic-39", "unlimited-129", "payg", "senior-19", "intl-premium", "roam-world", "vas-cloud-8"):
        assert needle in result.stdout
    one = runner.invoke(app, ["catalog", "show", "--plan", "payg", "--json"])
    data = json.loads(one.stdout)
    assert [p["plan_id"] for p in data["plans"]] == ["payg"]
    assert data["plans"][0]["rules"][0] == "payg/voice-domestic-peak"
    assert runner.invoke(app, ["catalog", "show", "--plan", "gold"]).exit_code == 2
    assert runner.invoke(app, ["catalog", "show", str(BROKEN)]).exit_code == 2
