"""Placeholder: this capability has not landed yet; its commands say so."""

from __future__ import annotations

import typer

from fairtel.cli._ui import stub_command, stub_group


def register(app: typer.Typer) -> None:
    stub_group(app, 'churn', ['train', 'evaluate', 'score'], 7, 'churn early warning')
    stub_command(app, 'advise', 7, 'best-plan advice')
