"""Turning CLI options into a bootstrapped application context."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from fairtel.bootstrap import App


def home_of(ctx: typer.Context, home: Path | None = None) -> Path | None:
    """A command's own ``--home`` wins over the root option; both fall back to FAIRTEL_HOME / ./var."""
    if home is not None:
        return home
    root = ctx.find_root().obj
    return getattr(root, "home", None)


def app_for(ctx: typer.Context, home: Path | None = None, **overrides: Any) -> App:
    # imported here, not with the module: every command module imports this one, and most of the command line
    # (its help, a command's own help, commands that read no settings) never needs the settings or the stores
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    return bootstrap(load_settings(home=home_of(ctx, home), **overrides))
