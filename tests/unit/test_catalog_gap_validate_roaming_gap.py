"""`fairtel catalog validate` warns when plans price roaming but no roaming zone is the fallback: usage in a country
no zone lists is then left unrated (``no_roaming_zone``), which a tariff author should hear of before a bill run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()


def test_a_catalog_without_a_fallback_roaming_zone_is_valid_with_a_warning(tmp_path: Path) -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    assert text.count("fallback = true") >= 2  # a destination zone and a roaming zone
    roam = text.index("[[roaming_zones]]")
    head, tail = text[:roam], text[roam:]
    assert "fallback = true" in tail
    path = tmp_path / "catalog.toml"
    # the fallback roaming zone becomes one zone among others, listing its own country
    path.write_text(head + tail.replace("fallback = true", 'countries = ["BR"]', 1), encoding="utf-8")
    result = runner.invoke(app, ["catalog", "validate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["valid"] is True and len(out["warnings"]) == 1 and "no_roaming_zone" in out["warnings"][0]
    plain = runner.invoke(app, ["catalog", "validate", str(path)])
    assert plain.exit_code == 0 and "warning:" in plain.stderr and "no roaming zone is the fallback" in plain.stderr


def test_the_demo_catalog_has_no_warning() -> None:
    result = runner.invoke(app, ["catalog", "validate", str(default_catalog_path()), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["warnings"] == []
