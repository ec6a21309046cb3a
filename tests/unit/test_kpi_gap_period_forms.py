"""Every KPI command reads its ``--period`` one way: ``YYYY-MM`` (the month also in one digit) or ``YYYYMM``, the form
the regulator's tables use; anything else is refused (``time_invalid``) naming the option and both forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.core.time import BadTimeError

runner = CliRunner()
TZ = "Asia/Shanghai"


@pytest.mark.parametrize(("text", "key"), [("2026-03", "2026-03"), ("202603", "2026-03"), ("2026-3", "2026-03"),
                                           (" 202612 ", "2026-12")])
def test_both_forms_name_the_same_month(text: str, key: str) -> None:
    from fairtel.kpi import parse_month

    period = parse_month(text, TZ)
    assert (period.key, period.tz) == (key, TZ)


@pytest.mark.parametrize("text", ["2026-13", "202613", "2026-00", "202600", "9999-12", "2026/03", "20263", "2026-003",
                                  "２０２６０３", "March", ""])
def test_a_value_that_is_no_month_is_refused_naming_the_option_and_the_forms(text: str) -> None:
    from fairtel.kpi import parse_month

    with pytest.raises(BadTimeError) as caught:
        parse_month(text, TZ, option="--period")
    message = str(caught.value)
    assert message.startswith("--period: ") and "YYYY-MM or YYYYMM" in message and repr(text) in message


def _kpi(home: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, ["kpi", *args, "--json", "--home", str(home)])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("command", [[], ["complaints"]], ids=["kpi", "kpi complaints"])
def test_every_kpi_command_takes_both_forms(tmp_path: Path, command: list[str]) -> None:
    code, compact = _kpi(tmp_path, *command, "--period", "202603")
    assert code == 0, compact
    code, dashed = _kpi(tmp_path, *command, "--period", "2026-03")
    assert code == 0, dashed
    assert compact["period"] == dashed["period"] == "2026-03"
    assert compact["subscribers"] == dashed["subscribers"]


@pytest.mark.parametrize("command", [[], ["complaints"]], ids=["kpi", "kpi complaints"])
@pytest.mark.parametrize("bad", ["2026-13", "202613", "9999-12", "2026/03"])
def test_every_kpi_command_refuses_a_wrong_month_alike(tmp_path: Path, command: list[str], bad: str) -> None:
    code, out = _kpi(tmp_path, *command, "--period", bad)
    assert code == 2, out
    error = out["error"]
    assert error["code"] == "time_invalid", error
    assert error["message"].startswith("--period: ") and "YYYY-MM or YYYYMM" in error["message"], error
