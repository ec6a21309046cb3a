"""`fairtel load` in text says what the register import did besides its rows: a line given to a new holder had
its subscriber login disabled (named by its last four digits only), as `--json` reports it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()
LINE = "8613800138000"


def _operator(d: Path, activated: str, customer: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (d / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{LINE},{customer},basic-39,{activated},active,zh,beijing\n", encoding="utf-8")
    return d


def test_load_says_in_text_that_a_new_holders_line_lost_its_earlier_login(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    first = runner.invoke(app, ["load", str(_operator(tmp_path / "op1", "2024-01-01T00:00:00+08:00", "c1")),
                                "--no-usage", "--home", home])
    assert first.exit_code == 0, first.output
    added = runner.invoke(app, ["users", "add", "oldholder", "--role", "subscriber", "--msisdn", LINE,
                                "--password-stdin", "--home", home], input="a-long-password-1\n")
    assert added.exit_code == 0, added.output
    again = runner.invoke(app, ["load", str(_operator(tmp_path / "op2", "2026-10-20T10:00:00+08:00", "c9")),
                                "--no-usage", "--home", home])
    assert again.exit_code == 0, again.output
    notes = [line for line in again.stderr.splitlines() if line.startswith("note:") and "login" in line]
    assert notes and "8000" in notes[0], again.stderr
    assert LINE not in again.stderr
