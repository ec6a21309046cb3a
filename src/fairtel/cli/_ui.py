"""Terminal helpers: a progress bar on a terminal, plain lines when piped; JSON for scripts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fairtel.core.errors import FairtelError, NotAvailableError


class _Console(Console):
    """Rich on a terminal; on a pipe or in a file, a table is plain lines (DESIGN.md: "plain lines when piped"):
    its title, a header line and a line per row, columns lined up with spaces, nothing cut or wrapped to a width
    (Rich lays a table out in 80 columns when it cannot ask a terminal, cutting file names and headers)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.is_terminal or not any(isinstance(o, Table) for o in objects):
            super().print(*objects, **kwargs)
            return
        for o in objects:
            if isinstance(o, Table):
                super().print(Text("\n".join(plain_lines(self, o))), soft_wrap=True, highlight=False)
            else:
                super().print(o, **kwargs)


def plain_lines(console: Console, t: Table) -> list[str]:
    """A table as plain lines. Text cells are console markup, read as the table reads them, so a pipe shows the
    same words as a terminal."""

    def text(cell: Any) -> str:
        if isinstance(cell, Text):
            s = cell.plain
        elif isinstance(cell, str):
            s = console.render_str(cell).plain
        else:
            s = str(cell)
        return " ".join(s.splitlines())

    columns = list(t.columns)
    rows = [list(r) for r in zip_longest(*[[text(c) for c in col.cells] for col in columns], fillvalue="")]
    lines = [text(t.title)] if t.title else []
    body = ([[text(c.header) for c in columns]] if t.show_header else []) + rows
    widths = [max((cell_len(r[i]) for r in body), default=0) for i in range(len(columns))]
    for r in body:
        cells = [v + " " * (widths[i] - cell_len(v)) for i, v in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    if t.caption:
        lines.append(text(t.caption))
    return lines


console = _Console()
err_console = _Console(stderr=True)


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
        self._done: dict[str, float] = {}
        self._totals: dict[str, float] = {}
        self._last_line = 0.0

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        if self._progress is not None:
            if name not in self._tasks:  # the description is markup: a file name keeps its brackets
                self._tasks[name] = self._progress.add_task(escape(name), total=total)
            self._progress.update(self._tasks[name], advance=advance, total=total)
        elif not self._quiet:
            done = self._done[name] = self._done.get(name, 0) + advance
            if total is not None:
                self._totals[name] = total
            now = time.monotonic()
            if now - self._last_line >= 1.0:  # how far it got, as the bar says it: "load: 3 of 6"
                of = f" of {self._totals[name]:g}" if name in self._totals else ""
                err_console.print(f"{name}: {done:g}{of}", markup=False, highlight=False, soft_wrap=True)
                self._last_line = now

    def note(self, message: str) -> None:
        """A line of text, not markup: a problem's "[field]" and a file name's brackets reach the reader."""
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        elif not self._quiet:
            err_console.print(message, markup=False, highlight=False, soft_wrap=True)


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
