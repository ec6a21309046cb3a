"""Placeholder: this capability has not landed yet; its commands say so."""

from __future__ import annotations

import typer

from fairtel.cli._ui import stub_command, stub_group  # noqa: F401


def register(app: typer.Typer) -> None:
    stub_command(app, 'demo', 2, 'the demo')
