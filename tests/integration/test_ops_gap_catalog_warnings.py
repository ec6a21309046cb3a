"""The catalog a newcomer copies from docs/catalog.md validates without a warning, and ``fairtel load DIR`` says the
warnings of the catalog it stores (a roaming zone a plan prices no data in leaves that usage unrated), as
``fairtel catalog validate`` does: it said nothing of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import parse_catalog
from fairtel.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"
WORLD_RULE = '''
[[rule_sets.rules]]
id = "roam/data-world"
'''


def _example() -> str:
    return re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)[0]


def test_the_worked_example_has_no_warning() -> None:
    catalog, problems = parse_catalog(_example(), file="docs/catalog.md")
    assert problems == [] and catalog is not None
    assert list(catalog.warnings) == [] and catalog.roaming_gap() is None


def test_load_says_the_catalogs_warnings(tmp_path: Path) -> None:
    text = _example()
    start = text.index(WORLD_RULE)
    gap = text[:start] + text[text.index("\n[[", start + len(WORLD_RULE)):]  # no data rule in roam-world
    assert "roam/data-world" not in gap
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "catalog.toml").write_text(gap, encoding="utf-8")
    home = tmp_path / "home"
    res = CliRunner().invoke(app, ["load", str(operator), "--home", str(home), "--no-usage"])
    assert res.exit_code == 0, (res.output, res.exception)
    said = [line for line in res.stderr.splitlines() if line.startswith("warning: ")]
    assert len(said) == 1 and "roaming_rule_gap" in said[0] and "roam-world" in said[0], res.stderr
    assert str(operator / "catalog.toml") in said[0]  # with the file and line, as `catalog validate` says it
    res = CliRunner().invoke(app, ["load", str(operator), "--home", str(home), "--no-usage", "--json"])
    warnings = json.loads(res.stdout)["catalog"]["warnings"]
    assert len(warnings) == 1 and "roaming_rule_gap" in warnings[0], warnings
