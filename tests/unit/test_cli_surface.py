"""Every command of DESIGN.md exists; those not landed say so and exit non-zero."""

import pytest
from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()
DESIGN_COMMANDS = [
    ["demo"], ["synth"], ["load"], ["ingest"], ["watch"], ["rate"], ["bill"], ["rerate"], ["quote"],
    ["explain"], ["assure"], ["fraud", "train"], ["fraud", "evaluate"], ["fraud", "score"], ["churn", "train"],
    ["churn", "evaluate"], ["churn", "score"], ["advise"], ["assistant", "train"], ["assistant", "evaluate"],
    ["assistant", "chat"], ["kpi"], ["serve"], ["catalog", "validate"],
]


@pytest.mark.parametrize("cmd", DESIGN_COMMANDS, ids=" ".join)
def test_command_exists(cmd: list[str]) -> None:
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0, result.output
    assert "No such command" not in result.output
