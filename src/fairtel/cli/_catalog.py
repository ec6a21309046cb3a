"""Placeholder: this capability has not landed yet; its commands say so."""

from __future__ import annotations

import typer

from fairtel.cli._ui import stub_command, stub_group  # noqa: F401


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help='Tariff catalogs.', no_args_is_help=True)
    stub_command(sub, 'validate', 2, 'catalog validation')
    app.add_typer(sub, name='catalog')
