"""Placeholder: this capability has not landed yet; its commands say so."""

from __future__ import annotations

import typer

from fairtel.cli._ui import stub_command, stub_group  # noqa: F401


def register(app: typer.Typer) -> None:
    stub_command(app, 'rate', 4, 'rating kernels')
    stub_command(app, 'bill', 4, 'bill runs')
    stub_command(app, 'rerate', 4, 'rerating')
    stub_command(app, 'quote', 4, 'tariff quotes')
    stub_command(app, 'explain', 4, 'charge explanations')
