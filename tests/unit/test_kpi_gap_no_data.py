"""``fairtel kpi`` on a home without data says "n/a", never Python's ``None``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app


def test_kpi_on_a_fresh_home_says_na_not_none(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "kpi"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "None" not in result.output, result.output
    lines = {line.split("  ")[0]: line for line in result.output.splitlines()}
    assert "n/a (0 of 0 resolved" in lines["SLA attainment"]
    assert "n/a (0 answers" in lines["NPS"]
