"""The ``fairtel`` command line: the user's first contact. Command names follow DESIGN.md."""

from __future__ import annotations

import errno
import os
import sys
import traceback
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
    _privacy,
    _rating,
    _retention,
    _serve,
    _synth,
)
from fairtel.core.errors import FairtelError, FileSystemError

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
for module in (_demo, _synth, _load, _mediation, _catalog, _rating, _billing, _assure, _merchants, _consent, _fraud, _churn, _assistant, _care, _kpi, _serve, _backup, _retention, _privacy):
    module.register(app)


def main() -> None:
    os.umask(PRIVATE_UMASK)  # before anything is written, for the whole process (see ``_root``)
    try:
        app()
    except FairtelError as exc:  # anything a command did not handle itself
        from fairtel.cli._ui import fail

        raise SystemExit(fail(exc, as_json=_wants_json()).exit_code) from None
    except Exception as exc:
        problem = _database_error(exc) or _file_system_error(exc)
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


# what to do when the file system refuses: a read-only or full volume, missing rights, a path that is not there or
# not what it should be (other errors keep their traceback)
_CHECK_PATH = "check the path, and the home (--home / FAIRTEL_HOME)"
_FS_ADVICE = {
    errno.EROFS: "make the file system writable (remounted read-only after a disk error?), or use another directory",
    errno.EACCES: f"make it writable by the user fairtel runs as (uid {os.getuid()})",
    errno.EPERM: f"make it writable by the user fairtel runs as (uid {os.getuid()})",
    errno.ENOSPC: "free some space, or move the directory to a larger volume",
    errno.EDQUOT: "free some space, or raise the disk quota",
    errno.EIO: "the disk or the network file system failed: check it before going on",
    errno.ENOENT: _CHECK_PATH,
    errno.ENOTDIR: _CHECK_PATH,
    errno.EISDIR: _CHECK_PATH,
    errno.ENAMETOOLONG: _CHECK_PATH,
}


def _file_system_error(exc: Exception) -> FairtelError | None:
    """A file or directory that could not be read or written (an ``OSError`` naming a path), as the
    ``file_system_error`` error naming the path, what fairtel was doing with it and what to do; None for any other
    error (a genuine bug keeps its traceback)."""
    if not isinstance(exc, OSError) or exc.filename is None or exc.errno not in _FS_ADVICE:
        return None
    path = os.fsdecode(exc.filename)
    other = f" -> {os.fsdecode(exc.filename2)}" if exc.filename2 is not None else ""
    doing = _operation(exc)
    return FileSystemError(f"{path}{other}: {exc.strerror or os.strerror(exc.errno)}"
                           f"{f' (while {doing})' if doing else ''}; {_FS_ADVICE[exc.errno]}",
                           details={"path": path, "errno": errno.errorcode.get(exc.errno, str(exc.errno)),
                                    **({"operation": doing} if doing else {})})


def _operation(exc: BaseException) -> str:
    """What fairtel was doing when the error came: its innermost function on the way (``module.function``)."""
    where = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__", "")
        if module.startswith("fairtel.") and module != __name__:
            where = f"{module}.{frame.f_code.co_name}"
    return where or ""
