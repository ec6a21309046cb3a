"""Turning CLI options into a bootstrapped application context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fairtel.bootstrap import App, bootstrap
from fairtel.core.settings import load_settings


def home_of(ctx: typer.Context, home: Path | None = None) -> Path | None:
    """A command's own ``--home`` wins over the root option; both fall back to FAIRTEL_HOME / ./var."""
    if home is not None:
        return home
    root = ctx.find_root().obj
    return getattr(root, "home", None)


def app_for(ctx: typer.Context, home: Path | None = None, **overrides: Any) -> App:
    return bootstrap(load_settings(home=home_of(ctx, home), **overrides))
