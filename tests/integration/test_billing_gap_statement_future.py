"""`fairtel bill statement` for a period that has not ended says so, rather than advising
`fairtel bill --period P --issue`, which is refused (``period_not_ended``) until the period ends. An ended period
with no bill run yet still names the bill run to make."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, P

from fairtel.cli import app as fairtel

home = base.home  # a home with subscriber A, usage in P (ended long ago), no bill issued
runner = CliRunner()
FUTURE = "2099-01"


def _statement_error(home: Path, period: str) -> str:
    result = runner.invoke(fairtel, ["bill", "statement", A, "--period", period, "--home", str(home)])
    assert result.exit_code != 0, result.output
    return " ".join(result.output.split())  # as read, whatever the terminal's width


def test_a_statement_of_a_period_not_ended_says_it_has_not_ended(home: Path) -> None:
    said = _statement_error(home, FUTURE)
    assert "not_found" in said and f"no bill issued for {FUTURE}: the period has not ended yet" in said
    assert "--issue" not in said  # the bill run would refuse to issue it
    assert f"`fairtel bill --period {FUTURE}` previews them meanwhile" in said


def test_a_statement_of_an_ended_period_not_billed_names_the_bill_run(home: Path) -> None:
    said = _statement_error(home, P)
    assert f"run `fairtel bill --period {P} --issue` first" in said
