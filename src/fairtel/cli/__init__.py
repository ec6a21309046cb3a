"""The ``fairtel`` command line: the user's first contact. Command names follow DESIGN.md."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from fairtel import __version__
from fairtel.cli import (
    _assistant,
    _assure,
    _backup,
    _billing,
    _care,
    _catalog,
    _churn,
    _consent,
    _demo,
    _fraud,
    _kpi,
    _load,
    _mediation,
    _merchants,
    _rating,
    _serve,
    _synth,
)
from fairtel.core.errors import FairtelError

PRIVATE_UMASK = 0o077  # files 0600, directories 0700

app = typer.Typer(
    name="fairtel",
    help="fairtel: every charge correct, consented and explainable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class CliState:
    home: Path | None = None
    actor: str | None = None  # who runs the command, as the access audit records it (default: the OS user)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fairtel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="FAIRTEL_HOME", help="Directory for everything fairtel writes (default ./var)."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", envvar="FAIRTEL_ACTOR",
                     help="Who runs the command, as the access audit records what it shows in clear (default: the OS user)."),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    # What a command writes (home, exports, backups) holds personal data: owner-only files and directories,
    # whatever the umask; the caller's umask is back when the command ends (commands run in-process too).
    previous = os.umask(PRIVATE_UMASK)
    ctx.call_on_close(lambda: os.umask(previous))
    ctx.obj = CliState(home=home, actor=actor)


# One module per capability; each registers its commands (or says it has not landed yet).
for module in (_demo, _synth, _load, _mediation, _catalog, _rating, _billing, _assure, _merchants, _consent, _fraud, _churn, _assistant, _care, _kpi, _serve, _backup):
    module.register(app)


def main() -> None:
    os.umask(PRIVATE_UMASK)  # before anything is written, for the whole process (see ``_root``)
    try:
        app()
    except FairtelError as exc:  # anything a command did not handle itself
        from fairtel.cli._ui import fail

        raise SystemExit(fail(exc, as_json=_wants_json()).exit_code) from None
    except Exception as exc:
        problem = _database_error(exc)
        if problem is None:
            raise
        from fairtel.cli._ui import fail

        raise SystemExit(fail(problem, as_json=_wants_json()).exit_code) from None


def _wants_json() -> bool:
    """Whether the command line asked for JSON (``--json`` before any ``--``): an error is then JSON too."""
    args = sys.argv[1:]
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def _database_error(exc: Exception) -> FairtelError | None:
    """A database that could not be reached or used (down, restarting, missing, refusing the login), as the
    ``database_unavailable`` error naming it without its password; None for any other error."""
    if "sqlalchemy" not in sys.modules:  # no database was touched
        return None
    from fairtel.store._engine import unavailable

    return unavailable(exc)
