"""Terminal helpers: a progress bar on a terminal, plain lines when piped; JSON for scripts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fairtel.core.errors import FairtelError, NotAvailableError

console = Console()
err_console = Console(stderr=True)


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


class Reporter:
    """Progress for long work: Rich bar on a TTY, one plain line per step otherwise (or nothing with quiet)."""

    def __init__(self, progress: Progress | None, quiet: bool) -> None:
        self._progress = progress
        self._quiet = quiet
        self._tasks: dict[str, Any] = {}
        self._last_line = 0.0

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        if self._progress is not None:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task(name, total=total)
            self._progress.update(self._tasks[name], advance=advance, total=total)
        elif not self._quiet:
            now = time.monotonic()
            if now - self._last_line >= 1.0:
                err_console.print(f"{name}: +{advance:g}", highlight=False, soft_wrap=True)
                self._last_line = now

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message, highlight=False)
        elif not self._quiet:
            err_console.print(message, highlight=False, soft_wrap=True)


@contextmanager
def reporter(*, quiet: bool = False) -> Iterator[Reporter]:
    if sys.stderr.isatty() and not quiet:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=False,
        ) as p:
            yield Reporter(p, quiet)
    else:
        yield Reporter(None, quiet)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(x) for x in r])
    return t


def fail(exc: FairtelError, *, as_json: bool = False) -> typer.Exit:
    if as_json:
        print_json({"error": exc.to_dict()})
    else:
        # the message is text, not markup: a problem's "[field]" must reach the reader
        err_console.print(f"[red]{exc.code}[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(3 if isinstance(exc, NotAvailableError) else 2)


def not_available(command: str, issue: int, what: str) -> typer.Exit:
    return fail(NotAvailableError(f"`fairtel {command}` is not available yet: {what} lands with issue #{issue}"))


_LOOSE = {"allow_extra_args": True, "ignore_unknown_options": True}


def stub_command(app: typer.Typer, name: str, issue: int, what: str) -> None:
    """Register a command whose capability has not landed: it says so and exits with status 3."""

    def _cmd(ctx: typer.Context) -> None:
        raise not_available(ctx.command_path.removeprefix("fairtel ").strip() or name, issue, what)

    _cmd.__doc__ = f"Not available yet: {what} (issue #{issue})."
    app.command(name, context_settings=_LOOSE)(_cmd)


def stub_group(app: typer.Typer, group: str, subcommands: list[str], issue: int, what: str) -> None:
    sub = typer.Typer(help=f"{what[:1].upper()}{what[1:]} (issue #{issue}).", no_args_is_help=True)
    for s in subcommands:
        stub_command(sub, s, issue, what)
    app.add_typer(sub, name=group)
