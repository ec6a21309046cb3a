"""`fairtel catalog show` tells who may order each plan (``[plans.eligibility]``): a tariff author checking a
catalog sees the senior plan's age limit, a withdrawn plan and a plan sold through some channels only, in the
table and in ``--json``, without reading the TOML."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()


def _catalog(tmp_path: Path) -> Path:
    text = default_catalog_path().read_text(encoding="utf-8")
    old = "eligibility = { min_age = 60 }"
    assert old in text
    text = text.replace(old, 'eligibility = { min_age = 60, on_sale = false, channels = ["store", "app"], '
                             'sale_from = "2026-01-01T00:00:00+08:00" }', 1)
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_table_tells_who_may_order(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "show", str(_catalog(tmp_path))], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "who may order" in result.stdout
    senior = next(line for line in result.stdout.splitlines() if line.startswith("senior-19"))
    assert "withdrawn from sale" in senior
    assert "aged 60 or over" in senior
    assert "through app, store" in senior
    assert "on sale 2026-01-01T00:00+08:00 to …" in senior
    basic = next(line for line in result.stdout.splitlines() if line.startswith("basic-39"))
    assert basic.rstrip().endswith("anyone")


def test_json_carries_the_conditions(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "show", str(_catalog(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    plans = {p["plan_id"]: p for p in json.loads(result.stdout)["plans"]}
    assert plans["senior-19"]["eligibility"] == {
        "on_sale": False, "sale_from": "2026-01-01T00:00:00+08:00", "sale_until": None, "min_age": 60,
        "max_age": None, "channels": ["app", "store"],
    }
    assert plans["basic-39"]["eligibility"]["on_sale"] is True
    assert plans["basic-39"]["eligibility"]["min_age"] is None
