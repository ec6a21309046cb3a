"""Every command's help is for users: no internal tracker references ("issue #8"), and a flag (``--json``,
``--help``) is listed as a flag, not as an option taking a value (``--json <bool>``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fairtel.cli import app

# help strings another part of the tree still has to change (see the report of this fix)
PENDING: set[tuple[str, ...]] = set()  # every group's help is clean


def _paths() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out: list[tuple[str, ...]] = [()]

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "commands"):  # a group (typer carries its own click)
            for name, sub in cmd.commands.items():
                out.append((*path, name))
                walk(sub, (*path, name))

    walk(root, ())
    return out


def _param(path: tuple[str, ...]) -> object:
    if path in PENDING:
        return pytest.param(path, marks=pytest.mark.xfail(reason="help text changed by its owner", strict=False))
    return path


@pytest.mark.parametrize("path", [_param(p) for p in _paths()], ids=lambda p: " ".join(p) or "fairtel")
def test_help_has_no_tracker_references_and_flags_take_no_value(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = result.output
    # a group's listing shows its subcommands' one-line help: the pending ones are their owners' to change
    pending = {p[len(path)] for p in PENDING if len(p) == len(path) + 1 and p[: len(path)] == path}
    tracked = [line for line in text.splitlines() if re.search(r"issue\s*#\s*\d", line, re.IGNORECASE)]
    assert all(re.match(r"\W*(\S+)", line).group(1) in pending for line in tracked), text  # type: ignore[union-attr]
    assert "<bool>" not in text, text
    assert re.search(r"--help\s+Show this message", text), text


def test_a_flag_and_an_option_with_a_value_side_by_side() -> None:
    text = CliRunner().invoke(app, ["demo", "--help"], terminal_width=200).output
    assert re.search(r"--json\s+Print the summary as JSON", text), text
    assert re.search(r"--seed\s+<int>", text), text  # an option that takes a value still shows it
