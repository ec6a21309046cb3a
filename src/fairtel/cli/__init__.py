"""The ``fairtel`` command line: the user's first contact. Command names follow DESIGN.md."""

from __future__ import annotations

import errno
import importlib
import os
import sys
import traceback
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer import _click as click  # the click typer carries and builds its commands with (not the ``click`` package)
from typer.core import TyperCommand, TyperGroup

from fairtel import __version__
from fairtel.cli import _ui  # noqa: F401  (its help fix applies to every command's help, the root's included)
from fairtel.core.errors import FairtelError, FileSystemError

PRIVATE_UMASK = 0o077  # files 0600, directories 0700

# Every command, in the order ``fairtel --help`` lists them, with the module that registers it and the first
# paragraph of its help (what the listing shows). A module is imported only when one of its commands runs or shows
# its own help: each capability pulls in its own libraries (Polars, DuckDB, SQLAlchemy, scikit-learn...), and a
# command should not pay for all of them. tests/unit/test_cli_gap_startup.py checks this table against what the
# modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("_demo", "Synthesise an operator, take it through every stage that exists, print a summary."),
    "synth": ("_synth", "Write an operator directory: catalog, subscribers, consent events, usage files in several "
                        "formats,\ncomplaints and the ground truth of every injected case (docs/formats.md)."),
    "load": ("_load", "Import an operator directory (catalog, subscribers, consent events) and ingest its usage files."),
    "ingest": ("_mediation", "Mediation: read, validate, deduplicate and stitch usage records into the lake. Per file\n"
                             "read = accepted + rejected + duplicate; rejects keep the original record and its position."),
    "watch": ("_mediation", "Ingest files as they arrive in INBOX (polling); a file moves to done/ or failed/ only once "
                            "its\nresults are committed. Write files under a .tmp name and rename them when complete."),
    "rate": ("_rating", "Rate a period's clean usage from the lake into rated lines (a rerun replaces them)."),
    "quote": ("_rating", "Price canonical usage records read as JSON on stdin (one object or a list); prints a JSON "
                         "list."),
    "explain": ("_rating", "The chain from a usage record to its amount: plan, rule, rate steps, allowance, amount, and "
                           "the\ncorrections issued for it since its bill; as the statement a subscriber reads (numbers "
                           "masked)."),
    "rerate": ("_billing", "Rate an issued period again under the current tariff; differences become adjustment "
                           "entries."),
    "assure": ("_assure", "Run the charge-assurance detectors: unconsented, after-cancellation, duplicate and "
                          "mis-priced\ncharges, machine-speed and replayed confirmations, bill shock, roaming without a "
                          "welcome notice."),
    "advise": ("_churn", "Best plan for each subscriber: their actual months priced under every plan they could order, "
                         "by the rating engine."),
    "serve": ("_serve", "Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web console (/)."),
    "backup": ("_backup", "Copy the home, consistently, to DEST: a directory that is itself a home (restore: verify it "
                          "with\n--verify, then put it back as the home). Refused while an ingest, a watch or a "
                          "rating/bill run writes the\nhome. Recorded in the access audit (who, when, where to) before "
                          "anything is copied."),
    "catalog": ("_catalog", "Tariff catalogs: check one, or show what it contains."),
    "bill": ("_billing", "Bill runs and itemised statements."),
    "merchants": ("_merchants", "Value-added providers (merchants): suspend a provider's billing rights, lift it, list "
                                "them."),
    "consent": ("_consent", "The VAS consent ledger: check event files, show subscription states."),
    "fraud": ("_fraud", "Fraud and abnormal-user detection."),
    "churn": ("_churn", "Churn early warning."),
    "assistant": ("_assistant", "The bilingual assistant: chat, and train and evaluate its intent engine."),
    "care": ("_care", "Customer care: complaints and NPS surveys."),
    "kpi": ("_kpi", "Service KPIs, and the complaints report per category."),
    "users": ("_serve", "Logins for people and API keys for systems."),
    "home": ("_backup", "The home and the database it is bound to."),
    "retention": ("_retention", "Data retention: remove the personal data past its retention period (the settings' "
                                "retention section)."),
    "privacy": ("_privacy", "Privacy: erase a subscriber's personal data at their request; adopt a new key."),
}

# The modules, in the order they register their commands (one module per capability; a name two modules register
# is the first's).
MODULES = ("_demo", "_synth", "_load", "_mediation", "_catalog", "_rating", "_billing", "_assure", "_merchants",
           "_consent", "_fraud", "_churn", "_assistant", "_care", "_kpi", "_serve", "_backup", "_retention", "_privacy")

_registered: dict[str, typer.Typer] = {}  # per module, the app its ``register`` filled (once per process)


def _registered_app(module: str) -> typer.Typer:
    if module not in _registered:
        own = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        importlib.import_module(f"{__name__}.{module}").register(own)
        _registered[module] = own
    return _registered[module]


class _Commands(MutableMapping[str, click.Command]):
    """The root's commands by name: listed from ``COMMANDS`` without importing anything, built from their module's
    registration when one is asked for. A name not in the table (a command registered since) is looked for in every
    module before it is called unknown."""

    def __init__(self) -> None:
        self._built: dict[str, click.Command] = {}
        self._modules_built: set[str] = set()

    def _build(self, module: str) -> None:
        if module in self._modules_built:
            return
        self._modules_built.add(module)
        for name, command in typer.main.get_group(_registered_app(module)).commands.items():
            self._built.setdefault(name, command)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name in COMMANDS:
                self._build(COMMANDS[name][0])
            else:
                for module in MODULES:
                    self._build(module)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built

    def summary(self, name: str) -> click.Command | None:
        """What the root's help lists for a command: the command itself once built, else its line of the table."""
        if name in self._built or name not in COMMANDS:
            return self._built.get(name)
        return TyperCommand(name, help=COMMANDS[name][1])


class _LazyGroup(TyperGroup):
    """The root group: its help lists every command from ``COMMANDS``; running one imports its module only."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = self.lazy = _Commands()
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.lazy)  # the names only (``TyperGroup`` reads every command to list them)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self._listing:
            return self.lazy.summary(cmd_name)
        return self.lazy.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_LazyGroup,
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
