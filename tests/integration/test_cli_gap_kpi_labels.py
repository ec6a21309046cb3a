"""The service-KPI table names complaint categories in words (it printed codes such as ``unexplained_charge``), and
the list of logins leaves a staff login's line empty (it printed ``None``)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app as fairtel

runner = CliRunner()
LINE = "8613800138000"


def _home(tmp_path: Path) -> Path:
    op = tmp_path / "op"
    op.mkdir()
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{LINE},C1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    home = tmp_path / "home"
    assert runner.invoke(fairtel, ["load", str(op), "--home", str(home)]).exit_code == 0
    return home


def test_kpi_names_categories_and_users_list_has_no_none(tmp_path: Path) -> None:
    home = _home(tmp_path)
    made = runner.invoke(fairtel, ["care", "complain", "--msisdn", LINE, "--text", "roaming bill far too high in Japan",
                                   "--category", "roaming", "--home", str(home)])
    assert made.exit_code == 0, made.output
    period = runner.invoke(fairtel, ["care", "complaints", "--home", str(home), "--json"])
    assert period.exit_code == 0, period.output
    shown = runner.invoke(fairtel, ["kpi", "--home", str(home)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "international roaming" in shown.output and "  roaming " not in shown.output

    added = runner.invoke(fairtel, ["users", "add", "ops1", "--role", "admin", "--password-stdin", "--home", str(home)],
                          input="a long passphrase 1\n")
    assert added.exit_code == 0, added.output
    listed = runner.invoke(fairtel, ["users", "list", "--home", str(home)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "ops1" in listed.output and "None" not in listed.output and "False" not in listed.output
