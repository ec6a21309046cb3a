"""`fairtel catalog show` shows a catalog as it is written: a name holding ``[bold]…[/bold]`` is text, not Rich
markup that vanishes, and a rate's rounding is spelt as the catalog spells it (``half-up``, not ``half_up``)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app

runner = CliRunner()


def _catalog(tmp_path: Path) -> Path:
    text = default_catalog_path().read_text(encoding="utf-8")
    for old, new in (('en = "Domestic"', 'en = "[bold]more[/bold]"'),
                     ('en = "Demo Telecom"', 'en = "[red]Demo[/red]"')):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_names_are_shown_as_written_not_as_markup(tmp_path: Path) -> None:
    path = _catalog(tmp_path)
    result = runner.invoke(app, ["catalog", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "[bold]more[/bold]" in result.stdout  # was: "more", the markup eaten
    assert "[red]Demo[/red]" in result.stdout


def test_rounding_is_spelt_as_the_catalog_spells_it(tmp_path: Path) -> None:
    path = _catalog(tmp_path)
    decimals = {r.rounding_decimals for r in load_catalog(path).rates if r.rounding.value == "half_up"}
    result = runner.invoke(app, ["catalog", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert decimals and any(f"half-up {d}" in result.stdout for d in decimals)
    assert "half_up" not in result.stdout
