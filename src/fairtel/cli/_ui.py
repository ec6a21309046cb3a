"""Terminal helpers: a progress bar on a terminal, plain lines when piped; JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


def _flags_show_no_value() -> None:
    """Help lists a flag (``--json``, ``--help``) without a value: typer's rich help shows every option's type,
    a flag's too (``--json <bool>``), as if it took one. Every command module imports this one, so the help of
    every command is covered."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "flags_without_value", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    display_type_rich.flags_without_value = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value()


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


LINE_EVERY_S = 1.0  # piped, a step's progress line at most this often (its last one always)


def _elapsed(seconds: float) -> str:
    """As the bar's clock shows it: 0:01:05."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _count(value: float) -> str:
    """A progress count as written: a whole number in full digits (``1310720``, never ``1.31072e+06``), a
    fraction with up to three decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


class Reporter:
    """Progress for long work: a Rich bar on a terminal; otherwise plain lines on stderr, "rate: 3 of 8 (0:00:41)"
    (how far a step got, as the bar says it, and how long the work has run), for each step at most one a second and
    always its last (once it reaches its total, when the next step begins, or when the work ends). ``quiet`` (a
    command's ``--json``, whose document carries its notes) leaves the notes out, not the progress; ``lines``
    False leaves the plain lines out too."""

    def __init__(self, progress: Progress | None, quiet: bool, *, lines: bool = True) -> None:
        self._progress = progress
        self._quiet = quiet
        self._lines = lines and progress is None
        self._tasks: dict[str, Any] = {}
        self._done: dict[str, float] = {}
        self._totals: dict[str, float] = {}
        self._shown: dict[str, tuple[float, float]] = {}  # step: (the count its last line showed, when)
        self._started = time.monotonic()

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        # a step that reached its total and is stepped again with a total is a new round of it (one stage run per
        # period, several models fitted under one name): counted from 0 again, never "7 of 1"
        again = total is not None and self._done.get(name, 0) >= self._totals.get(name, float("inf"))
        if self._progress is not None:
            if name not in self._tasks:  # the description is markup: a file name keeps its brackets
                self._tasks[name] = self._progress.add_task(escape(name), total=total)
            elif again:
                self._progress.reset(self._tasks[name], total=total)
                self._done[name] = 0
            self._progress.update(self._tasks[name], advance=advance, total=total)
            self._done[name] = self._done.get(name, 0) + advance
            if total is not None:
                self._totals[name] = total
            return
        if not self._lines:
            return
        if name not in self._done:  # another step begins: the ones before say where they ended
            self._flush()
        elif again:
            self._done[name] = 0
        done = self._done[name] = self._done.get(name, 0) + advance
        if total is not None:
            self._totals[name] = total
        now = time.monotonic()
        last = self._shown.get(name)
        if last is None or now - last[1] >= LINE_EVERY_S or done >= self._totals.get(name, float("inf")):
            self._line(name, now)

    def _line(self, name: str, now: float) -> None:
        done = self._done[name]
        of = f" of {_count(self._totals[name])}" if name in self._totals else ""
        err_console.print(f"{name}: {_count(done)}{of} ({_elapsed(now - self._started)})", markup=False, highlight=False,
                          soft_wrap=True)
        self._shown[name] = (done, now)

    def _flush(self) -> None:
        """The last line of each step that advanced since its last one. A step with no total is over once
        flushed (a watch names one after each file): it is forgotten, so a long run keeps no count per file."""
        now = time.monotonic()
        for name in list(self._done):
            last = self._shown.get(name)
            if last is None or last[0] != self._done[name]:
                self._line(name, now)
            if name not in self._totals:
                del self._done[name], self._shown[name]

    def close(self) -> None:
        if self._lines:
            self._flush()

    def note(self, message: str) -> None:
        """A line of text, not markup: a problem's "[field]" and a file name's brackets reach the reader."""
        if self._quiet:
            return
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            err_console.print(message, markup=False, highlight=False, soft_wrap=True)


def _stderr_apart() -> bool:
    """Whether stderr leads elsewhere than stdout. With ``2>&1`` (or a test runner's one buffer for both) they are
    one stream, and a progress line would break the JSON document a ``--json`` run prints."""
    try:
        out, err = os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # no file behind them (io.UnsupportedOperation is both)
        return False
    return (out.st_dev, out.st_ino) != (err.st_dev, err.st_ino)


_open: list[Reporter] = []  # the reporters open, innermost last: one display at a time


@contextmanager
def reporter(*, quiet: bool = False) -> Iterator[Reporter]:
    """Progress for a command's work, on stderr, with ``--json`` too (``quiet``: the notes are left out, the
    document carries them; stdout holds the JSON alone). Piped, a ``--json`` run shows it only where stderr does
    not lead into stdout. Within another command's progress (a stage of ``fairtel demo``), that one shows it, and
    a quiet one shows nothing."""
    if _open:
        yield Reporter(None, True, lines=False) if quiet else _open[-1]
        return
    with ExitStack() as stack:
        if sys.stderr.isatty():
            # stdout's writes go above the bar only when stdout is the terminal too: piped, they stay in the pipe
            p = stack.enter_context(Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err_console, transient=False, redirect_stdout=sys.stdout.isatty()))
            rep = Reporter(p, quiet)
        else:
            rep = Reporter(None, quiet, lines=not quiet or _stderr_apart())
        _open.append(rep)
        try:
            yield rep
        finally:
            _open.pop()
        rep.close()


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
    return fail(NotAvailableError(f"`fairtel {command}` is not available yet: {what} is not part of this release"))


_LOOSE = {"allow_extra_args": True, "ignore_unknown_options": True}


def stub_command(app: typer.Typer, name: str, issue: int, what: str) -> None:
    """Register a command whose capability has not landed: it says so and exits with status 3."""

    def _cmd(ctx: typer.Context) -> None:
        raise not_available(ctx.command_path.removeprefix("fairtel ").strip() or name, issue, what)

    _cmd.__doc__ = f"Not available yet: {what}."
    app.command(name, context_settings=_LOOSE)(_cmd)


def stub_group(app: typer.Typer, group: str, subcommands: list[str], issue: int, what: str) -> None:
    sub = typer.Typer(help=f"{what[:1].upper()}{what[1:]} (not available yet).", no_args_is_help=True)
    for s in subcommands:
        stub_command(sub, s, issue, what)
    app.add_typer(sub, name=group)
