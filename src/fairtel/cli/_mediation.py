"""``fairtel ingest`` and ``fairtel watch``: mediation of usage files into clean records."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import DatabaseUnavailableError, FairtelError, InvalidInputError, Problem
from fairtel.core.time import zone
from fairtel.mediation import FileReport, Status, ingest_files, mediation_lock, watch
from fairtel.mediation._inbox import TRUNCATED, RetryLater, files_reported, watching, went_to_failed
from fairtel.mediation._ingest import switch_clock

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog
    from fairtel.cli._online_alerts import OnlineAlerts
    from fairtel.engines import OnlineResult

FORMAT_HELP = ("Reader: csv, jsonl, parquet, asterisk-csv, freeswitch-csv, freeswitch-json, 3gpp-ber, tap3, or "
               "fieldmap:PATH (a TOML field map; or a bundled one by name, e.g. fieldmap:cgrates-partial). "
               "Default: detected per file.")
TIMEZONE_HELP = ("Time zone of the switch's clock (IANA name, e.g. UTC, Europe/Berlin), for Asterisk and FreeSWITCH "
                 "CSV, which write local times without an offset. Default: the operator's (FAIRTEL_TIMEZONE). A "
                 "field map names its own (its input timezone); the other formats carry their offsets.")
SOURCE_HELP = ("Feed name for records that name no source (the dedup key is source + record_id). Default: the "
               "format (canonical CSV, JSON Lines and Parquet share 'canonical'; a field map its own name).")


def _rows(reports: list[FileReport]) -> list[list[Any]]:
    # cells are console markup: a file named ``cdr[a].csv`` must keep its brackets
    return [[escape(Path(r.file).name), escape(r.format or "-"), r.read, r.accepted, r.rejected, r.duplicate, r.held,
             r.emitted, r.status] for r in reports]


def _show(reports: list[FileReport], title: str) -> None:
    cols = ["file", "format", "read", "accepted", "rejected", "duplicate", "held", "emitted", "status"]
    console.print(table(title, cols, _rows(reports)))
    for r in reports:
        if r.message and (r.status != Status.INGESTED or went_to_failed(r)):
            err_console.print(f"{r.file}: {r.message}", markup=False, highlight=False, soft_wrap=True)
        if r.reasons:
            reasons = ", ".join(f"{k} {v}" for k, v in r.reasons.items())
            err_console.print(f"{r.file}: rejected {reasons}; see {r.rejects_file}", markup=False, highlight=False,
                              soft_wrap=True)


def _check_clock(app: App) -> None:
    """Refuse a home whose current catalog is on another clock than FAIRTEL_TIMEZONE (``Settings.clock_mismatch``),
    before any file is taken: mediation files each record under the period of its start on the settings' clock,
    rating reads periods on the catalog's, and a record filed under one and rated under the other is never billed.
    A home with no catalog loaded is not checked (``fairtel load`` checks the one it loads)."""
    from fairtel.catalog import parse_catalog
    from fairtel.store import current_catalog_text

    with app.db.connect() as conn:
        text = current_catalog_text(conn)
    catalog = None if text is None else parse_catalog(text, file="<stored catalog>")[0]
    if catalog is not None:
        app.settings.check_clock(catalog.operator.timezone)


def _check_zone(name: str | None, *, as_json: bool) -> None:
    """``--timezone`` must name a zone the system knows, before any file is read on its clock."""
    if name is None:
        return
    try:
        zone(name)
    except FairtelError:
        raise fail(InvalidInputError([Problem("--timezone", None, None, f"unknown time zone {name!r} (an IANA "
                                              "name such as UTC, Europe/Berlin, Asia/Shanghai)")],
                                     what="--timezone"), as_json=as_json) from None


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        ctx: typer.Context,
        paths: Annotated[list[Path] | None, typer.Argument(help=(
            "Usage files (a directory stands for the files in it); none with --flush-partials alone."),
            show_default=False)] = None,
        fmt: Annotated[str | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
        source: Annotated[str | None, typer.Option("--source", help=SOURCE_HELP)] = None,
        timezone: Annotated[str | None, typer.Option("--timezone", help=TIMEZONE_HELP, show_default=False)] = None,
        flush_partials: Annotated[bool, typer.Option(
            "--flush-partials", help="Afterwards, emit every partial session still held (flagged incomplete).")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print per-file results as JSON.")] = False,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default ./var or FAIRTEL_HOME).")] = None,
    ) -> None:
        """Mediation: read, validate, deduplicate and stitch usage records into the lake. Per file
        read = accepted + rejected + duplicate; rejects keep the original record and its position."""
        if not paths and not flush_partials:
            raise fail(InvalidInputError([Problem("paths", None, None, "no usage files given (name files or "
                                                  "directories, or emit held partial records with --flush-partials)")],
                                         what="ingest"), as_json=as_json)
        _check_zone(timezone, as_json=as_json)
        try:
            ctx_app = app_for(ctx, home)
            _check_clock(ctx_app)
            with reporter(quiet=as_json) as rep:
                reports = ingest_files(paths or [], settings=ctx_app.settings, fmt=fmt, source=source, report=rep,
                                       flush_partials=flush_partials, timezone=timezone)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"files": [r.to_dict() for r in reports]})
        else:
            _show(reports, "ingest")
            if flush_partials and not any(r.format == "partials" for r in reports):
                err_console.print("no partial records held: nothing to flush", highlight=False)
        if any(r.status == Status.FAILED for r in reports):
            raise typer.Exit(1)

    @app.command("watch")
    def watch_cmd(
        ctx: typer.Context,
        inbox: Annotated[Path, typer.Argument(help="Inbox directory; files move to done/ or failed/ inside it.")],
        interval: Annotated[float, typer.Option("--interval", help="Seconds between polls; with --once, how long a file must stay unchanged before it is taken.")] = 5.0,
        once: Annotated[bool, typer.Option("--once", help="One pass over the inbox, then exit.")] = False,
        fmt: Annotated[str | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
        source: Annotated[str | None, typer.Option("--source", help=SOURCE_HELP)] = None,
        timezone: Annotated[str | None, typer.Option("--timezone", help=TIMEZONE_HELP, show_default=False)] = None,
        as_json: Annotated[bool, typer.Option("--json", help=(
            "JSON on stdout: with --once the per-file results as one document; else one line per file as it is "
            "handled (JSON Lines) and, on stop, a summary line."))] = False,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default ./var or FAIRTEL_HOME).")] = None,
        rate: Annotated[bool, typer.Option("--rate", help=(
            "Rate each file's records as soon as they are committed (online rating, counters carried from file to "
            "file; the files waiting are rated together, priced as one by one in arrival order); a file moves to "
            "done/ once rated. Timeliness is logged in the lake's rating_log. While the database is unreachable "
            "the files wait in the inbox and are taken again on the next pass."))] = False,
        bill_shock: Annotated[list[str] | None, typer.Option("--bill-shock", help=(
            "With --rate: a cap preset to watch as usage is rated (repeatable), besides the roaming caps subscribers "
            "set, which are always watched."))] = None,
        cap_rate: Annotated[list[str] | None, typer.Option("--cap-rate", help=(
            "With --rate: exchange rate for a cap in another currency than the charges (a subscriber's roaming cap "
            "or a --bill-shock preset's), CUR=VALUE as assure --rate: how many units of the presets' cap currency "
            "(without --bill-shock, the operator's) one CUR is worth (repeatable)."))] = None,
        welcome_after_days: Annotated[int, typer.Option("--welcome-after-days", min=0, help=(
            "With --rate: send the welcome SMS with a country's roaming prices on the first roaming record there "
            "after none for this many days (0: no welcome SMS)."))] = 7,
    ) -> None:
        """Ingest files as they arrive in INBOX (polling); a file moves to done/ or failed/ only once its
        results are committed. Write files under a .tmp name and rename them when complete.

        SIGTERM or Ctrl-C stops at the next file (a second Ctrl-C at once) and prints a summary.

        Exit status 1 when a file went to failed/ (it failed, or was ingested but cut short), with --once too."""
        if not inbox.is_dir():
            err_console.print(f"not a directory: {inbox}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2)
        _check_zone(timezone, as_json=as_json)
        ctx_app = app_for(ctx, home)
        handled: list[FileReport] = []
        rated: list[OnlineResult] = []  # what --rate rated, commit by commit
        lines = _JsonLines()
        held = _AfterTheirFiles()  # what --rate says of a commit, once its files' own lines are out

        def on_file(r: FileReport) -> None:  # from the rating thread too
            handled.append(r)
            try:
                _on_file_line(r)
            finally:
                held.reported(r.content_hash, _say)

        def _on_file_line(r: FileReport) -> None:
            if as_json and not once:
                lines.write(r.to_dict())
            elif not as_json and not once:
                line = (f"{Path(r.file).name}: {r.status} read {r.read} accepted {r.accepted} rejected {r.rejected} "
                        f"duplicate {r.duplicate}")
                if (r.status == Status.FAILED or went_to_failed(r)) and r.message:  # the latter: "moved to failed/: …"
                    line += f": {r.message}"
                _say(line)

        def on_retry(message: str) -> None:  # on stderr, --json or not: stdout holds the files' lines
            err_console.print(message, markup=False, highlight=False, soft_wrap=True)

        try:
            _check_clock(ctx_app)
            # mediation's lock, held from the rater's start (which removes what a crash left) to the watch's end:
            # another watch of the home fails at once, naming this one, so two never rate one home; and the inbox's
            # own lock (checked writable first): a process of another home sharing the database and the inbox fails
            # too, so a file is never taken, and charged, by two homes
            with _stop_signals() as stop, mediation_lock(ctx_app.settings.home, holder=f"fairtel watch {inbox}"), \
                    watching(inbox, home=ctx_app.settings.home, holder=f"fairtel watch {inbox}"):
                alerts = _alerts(ctx_app, bill_shock or [], cap_rate or [], welcome_after_days) if rate else None
                after = (_retrying(_online_rating(ctx_app, quiet=as_json or once, tally=rated, alerts=alerts,
                                                  held=held))
                         if rate else None)
                try:
                    with reporter(quiet=as_json) as rep, switch_clock(timezone):
                        watch(inbox, settings=ctx_app.settings, interval=interval, once=once, fmt=fmt, source=source,
                              report=rep, on_file=on_file, after=after, stop=stop, on_retry=on_retry,
                              mark_reported=not once)  # --once: its files are marked once shown, below
                finally:
                    held.flush(_say)  # a commit whose files were not all reported (the watch ended first)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: what was handled is reported below
        except RetryLater as exc:  # --once while the database is unreachable: the files wait for the next run
            raise fail(_retry_error(exc), as_json=as_json) from None
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        reports = list(handled)
        rating = _rated_summary(rated, ctx_app.settings.currency) if rate else None
        if once and as_json:
            print_json({"files": [r.to_dict() for r in reports], **({"rated": rating} if rating is not None else {})})
        elif once:
            _show(reports, f"watch {inbox}")
            cut = _cut_short_line(inbox, reports)
            if cut is not None:  # the table says "ingested": the file is in failed/ all the same
                console.print(cut, markup=False, highlight=False, soft_wrap=True)
            if rating is not None:
                console.print(_rated_line(rating), markup=False, highlight=False, soft_wrap=True)
        if once:  # shown: no later run reports them again (a run stopped before this line leaves them to the next)
            files_reported(ctx_app.settings.home, reports)
        elif as_json:
            lines.write({"summary": _summary(reports)})
        else:
            err_console.print(_summary_line(inbox, reports), markup=False, highlight=False, soft_wrap=True)
        # a file cut short is in failed/ too, waiting for its complete copy: a cron job or a service manager hears
        # of it by the exit status as of a file that failed
        if any(r.status == Status.FAILED or went_to_failed(r) for r in reports):
            raise typer.Exit(1)


class _JsonLines:
    """One JSON object a line on stdout, flushed at once, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, ensure_ascii=False) + "\n"
        with self._lock:
            sys.stdout.write(line)
            sys.stdout.flush()


def _say(text: str) -> None:
    """One line on stderr, as written (no markup)."""
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


class _AfterTheirFiles:
    """Lines about files (what a commit of ``watch --rate`` rated, the alerts it sent) held until each of the files
    has had its own line: a file is rated before it moves to done/ and is reported, and an operator reads the file's
    "ingested" line first, then what was rated of it. Used from the rating thread and the watch's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[str, set[str]]] = []  # (line, the files it waits for)
        self._reported: set[str] = set()

    def hold(self, text: str, files: Collection[str], say: Callable[[str], None]) -> None:
        with self._lock:
            waiting = set(files) - self._reported
            if waiting or self._held:  # behind the lines held before it, in order
                self._held.append((text, waiting))
                return
        say(text)

    def reported(self, file: str | None, say: Callable[[str], None]) -> None:
        with self._lock:
            if file is not None:
                self._reported.add(file)
                for _, waiting in self._held:
                    waiting.discard(file)
            ready = []
            while self._held and not self._held[0][1]:
                ready.append(self._held.pop(0)[0])
            if not self._held:  # nothing waits: a commit's files are reported after it, so forget them (bounded)
                self._reported.clear()
        for text in ready:
            say(text)

    def flush(self, say: Callable[[str], None]) -> None:
        with self._lock:
            ready, self._held = [text for text, _ in self._held], []
        for text in ready:
            say(text)


def _rated_summary(results: Sequence[OnlineResult], currency: str) -> dict[str, Any]:
    """What ``watch --rate`` rated: files, records, the lines they made, records left unrated, and the amount."""
    from fairtel.core.money import Money

    minor = sum(r.amount_minor for r in results)
    return {
        "files": sum(len(r.files) for r in results),
        "records": sum(r.records for r in results),
        "lines": sum(r.lines for r in results),
        "unrated": sum(r.unrated for r in results),
        "amount": f"{Money.from_minor(minor, currency).amount:f}",
        "currency": currency,
        "periods": sorted({p for r in results for p in r.periods}),
    }


def _rated_line(s: dict[str, Any]) -> str:
    if not s["files"]:
        return "rated: nothing new to rate"
    return (f"rated: {s['files']} file(s), {s['records']} records → {s['lines']} lines, {s['unrated']} unrated; amount "
            f"{s['amount']} {s['currency']} (period {', '.join(s['periods'])})")


def _summary(reports: Sequence[FileReport]) -> dict[str, Any]:
    """What a watch did until it stopped: files by status, their records, the files that failed, and the files
    ingested (or found already ingested) yet filed in failed/, their last record cut short (``cut_short``, also
    counted under their status)."""
    by = Counter(r.status for r in reports)
    cut = [r for r in reports if went_to_failed(r)]
    return {"files": len(reports), **{s: by.get(s, 0) for s in (Status.INGESTED, Status.ALREADY, Status.EMPTY,
                                                                  Status.FAILED)},
            **{k: sum(getattr(r, k) for r in reports) for k in ("read", "accepted", "rejected", "duplicate")},
            "failed_files": [r.file for r in reports if r.status == Status.FAILED],
            "cut_short": len(cut), "cut_short_files": [r.file for r in cut]}


def _summary_line(inbox: Path, reports: Sequence[FileReport]) -> str:
    s = _summary(reports)
    cut = Counter(r.status for r in reports if went_to_failed(r))
    line = (f"watch {inbox} stopped: {s['files']} files ({s[Status.INGESTED] - cut[Status.INGESTED]} ingested, "
            f"{s['cut_short']} ingested but cut short → failed/, {s[Status.ALREADY] - cut[Status.ALREADY]} already "
            f"ingested, {s[Status.EMPTY]} empty, {s[Status.FAILED]} failed); read {s['read']} accepted "
            f"{s['accepted']} rejected {s['rejected']} duplicate {s['duplicate']}")
    if s["failed_files"]:
        line += f"; failed (see {inbox / 'failed'}): {', '.join(Path(f).name for f in s['failed_files'])}"
    if s["cut_short_files"]:
        line += f"; ingested but cut short {_cut_short_why(inbox, s['cut_short_files'])}"
    return line


def _cut_short_why(inbox: Path, files: Sequence[str]) -> str:
    return (f"({TRUNCATED}: records before the cut committed; the file and its .error.txt in {inbox / 'failed'}, "
            f"put the complete file back): {', '.join(Path(f).name for f in files)}")


def _cut_short_line(inbox: Path, reports: Sequence[FileReport]) -> str | None:
    """The line under ``watch --once``'s table for the files ingested but filed in failed/ (their last record cut
    short), which the table counts as ingested; None when there are none."""
    cut = [r.file for r in reports if went_to_failed(r)]
    if not cut:
        return None
    return f"{len(cut)} ingested but cut short → failed/ {_cut_short_why(inbox, cut)}"


@contextmanager
def _stop_signals() -> Iterator[Callable[[], bool]]:
    """SIGTERM (a service manager's stop) and a first Ctrl-C ask the watch to stop at its next safe point: before
    the next file or while it waits, once the files handed to the rater are rated. A second Ctrl-C stops at once,
    as a crash would (the commit protocols make that safe too). Outside the main thread, where no handler can be
    set, only the caller stops it."""
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopping.is_set
        return

    def handler(signum: int, _frame: object) -> None:
        if signum == signal.SIGINT and stopping.is_set():
            raise KeyboardInterrupt
        if not stopping.is_set():
            stopping.set()
            again = " (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""
            sys.stderr.write(f"stopping after the current file{again}\n")
            sys.stderr.flush()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping.is_set
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _tell(alerts: OnlineAlerts, res: OnlineResult, catalog: Any, *, quiet: bool,
          say: Callable[[str], None] | None = None) -> None:
    """The cap alerts and welcome SMS of one commit, the commit then noted as told. The commit stands whatever
    happens here: a failure is said on stderr, and the commit, not noted as told, is told again by the next
    ``watch --rate`` at its start (``OnlineAlerts.catch_up``). ``say``: how a line reaches stderr (by default at
    once)."""
    say = say or _say
    try:
        sent = alerts.after_commit(res, catalog)
        alerts.told(res)
    except (FairtelError, OSError) as exc:
        say(f"rated, but the alerts and welcome SMS of this commit were not sent: {exc}; the next watch --rate "
            f"sends them at its start")
        return
    if sent and not quiet:
        kinds = Counter(m.kind for m in sent)
        say("sent to the outbox: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


def _catch_up(alerts: OnlineAlerts, catalog: Any, *, quiet: bool) -> None:
    """The alerts and welcome SMS of the commits a stopped watch left untold, sent at the start."""
    try:
        sent = alerts.catch_up(catalog)
    except (FairtelError, OSError) as exc:
        _say(f"the alerts and welcome SMS of commits a stopped watch made were not sent: {exc}; the next "
             f"watch --rate tries again")
        return
    if sent and not quiet:
        kinds = Counter(m.kind for m in sent)
        _say("sent to the outbox for commits a stopped watch made: "
             + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


def _retrying(after: Callable[[Sequence[FileReport]], Collection[str]]) -> Callable[[Sequence[FileReport]], Collection[str]]:
    """``after`` that asks the watch to try its files again later when the database is out of reach (a restart, a
    network fault), rather than ending: nothing of them was committed (the rater reads the database before it
    rates), and the rater's state is as before (``_online_rating``)."""
    from fairtel.store._engine import connection_lost, unavailable

    def call(reports: Sequence[FileReport]) -> Collection[str]:
        try:
            return after(reports)
        except Exception as exc:
            if not connection_lost(exc):
                raise
            problem = unavailable(exc)
            raise RetryLater(problem.message if problem is not None else str(exc)) from (problem or exc)

    return call


def _retry_error(exc: RetryLater) -> FairtelError:
    """The error a ``--once`` run ends with when its files had to wait: the database's, saying so."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, DatabaseUnavailableError):
        cause = cause.__cause__
    return DatabaseUnavailableError(str(exc), details=cause.details if cause is not None else None)


SUBSCRIBERS_REFRESH_S = 60.0  # how often the consent ledger is looked at (read again only when it changed)


def _alerts(app: App, presets: list[str], cap_rates: list[str], welcome_after_days: int) -> OnlineAlerts:
    """What ``watch --rate`` tells subscribers as it rates (``cli._online_alerts``): the presets and exchange rates
    read as ``assure --bill-shock --rate`` reads them."""
    from datetime import timedelta

    from fairtel.assurance._billshock import PRESETS, OwnCapPolicy
    from fairtel.cli._assure import _parse_rates
    from fairtel.cli._online_alerts import OnlineAlerts
    from fairtel.core.errors import ConfigError

    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise ConfigError(f"unknown bill-shock preset {unknown[0]!r}; choose from {', '.join(PRESETS)}")
    rates = _parse_rates(cap_rates)
    chosen = [PRESETS[p].with_rates(rates) for p in presets]
    cap_currencies = {p.cap.currency for p in chosen} or {app.settings.currency}
    own = OwnCapPolicy(rates={(cur, to): v for to in cap_currencies for cur, v in rates.items() if cur != to})
    return OnlineAlerts(app, presets=chosen, own_caps=own,
                        trip_gap=timedelta(days=welcome_after_days) if welcome_after_days > 0 else None)


def _online_rating(app: App, *, quiet: bool, tally: list[OnlineResult] | None = None,
                   alerts: OnlineAlerts | None = None,
                   held: _AfterTheirFiles | None = None) -> Callable[[Sequence[FileReport]], Collection[str]]:
    """The ``after`` hook of ``watch --rate``: the committed files waiting, rated together in arrival order (as
    rating them one by one would) with the home's catalog, subscribers and consent gate. The subscribers are each
    line's plans through time: a record is rated under the plan in force for its period, not the one the line moved
    to since. The register's changes are taken before each commit, line by line (``store.register_changes``: one
    look-up in an index when nothing changed; the register read whole after a bulk import); the consent ledger is looked
    at every minute and read again when it changed (its count of events). So is the current catalog version before each commit (one indexed look-up): once
    ``fairtel load`` made another version current, the files from then on are priced with it, as the bills will
    name it (the counters carry on: they are keyed by allowance ids, cap rule ids and charge keys, which a new
    version keeps), and one line on stderr says so. It returns the files it rated now (their content hashes): a file
    found already ingested among them was left by a run stopped before it rated it, and the watch reports its counts.
    With ``held``, what it says of a commit waits there for the lines of the commit's files (``_AfterTheirFiles``)."""
    import polars as pl

    from fairtel.catalog import parse_catalog
    from fairtel.cli._home import charge_arrivals, home_catalog, home_gate, home_lines, home_plans, home_subscriptions
    from fairtel.engines import ArrivedFile, OnlineRater
    from fairtel.rating._vas import with_arrivals
    from fairtel.store import (
        catalog_text,
        current_catalog,
        merchant_windows,
        plan_timeline,
        register_changes,
        register_version,
    )

    def catalog_version(conn: Any) -> int | None:
        stored = current_catalog(conn)
        return None if stored is None else stored.version_id

    def ledger_mark(conn: Any) -> tuple[Any, ...]:
        """What tells whether the consent ledger changed: it is append-only, so an event added changes its count
        (and the latest instant); the gate is built again only then, not every minute for nothing."""
        from sqlalchemy import func, select

        from fairtel.store import ConsentEvent
        from fairtel.store._schema import table_of

        t = table_of(ConsentEvent)
        return tuple(conn.execute(select(func.count(), func.max(t.c.at))).one())

    with app.db.connect() as conn:
        seen = register_version(conn)  # before the whole read: a change committed in between is taken again
        version_id = catalog_version(conn)  # likewise: a version loaded in between is taken on the next pass
        ledger = ledger_mark(conn)  # likewise: an event added in between makes the next look build the gate again
    catalog = home_catalog(app, None, [])
    lines = home_lines(app)
    projected = home_subscriptions(app)  # the ledger read once, and again only when its mark changes
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app),
                        gate=home_gate(app, catalog, lines=lines, subscriptions=projected))
    loaded = time.monotonic()
    if alerts is not None:  # what commits of a stopped watch called for and did not send, before anything new
        _catch_up(alerts, catalog, quiet=quiet)

    def gate_for(catalog: Catalog, lines: pl.DataFrame) -> Any:
        """The gate over ``lines`` and ``catalog``; the consent ledger read again only when events were added to it
        (a register or catalog change alone does not re-read a ledger of millions of events)."""
        nonlocal projected, ledger
        with app.db.connect() as conn:
            mark = ledger_mark(conn)  # before the read: an event added meanwhile is taken the next time
        if mark != ledger:
            projected, ledger = home_subscriptions(app), mark
        return home_gate(app, catalog, lines=lines, subscriptions=projected)

    def after(reports: Sequence[FileReport]) -> Collection[str]:
        nonlocal loaded, seen, lines, catalog, version_id, ledger
        files = [ArrivedFile(r.content_hash, r.parts,
                             datetime.fromisoformat(r.arrived_at) if r.arrived_at else datetime.now(UTC))
                 for r in reports
                 if r.status in (Status.INGESTED, Status.ALREADY) and r.parts and r.content_hash is not None]
        if not files:
            return ()
        # every read before any change: a read that fails (the database restarting) leaves the rater and ``seen``
        # as they were, and the call made again takes the same changes
        with app.db.connect() as conn:
            version, changed = register_changes(conn, since=seen)
            plans = pl.from_arrow(plan_timeline(conn, msisdns=changed)) if changed else None
            current = catalog_version(conn)
            text = catalog_text(conn, current) if current is not None and current != version_id else None
        if text is not None:  # another version loaded: price the files from now on with it
            fresh, problems = parse_catalog(text, file=f"<stored catalog version {current}>")
            if fresh is None:
                raise InvalidInputError(problems, what="the stored catalog")
            app.settings.check_clock(fresh.operator.timezone)  # the watch files usage on the settings' clock
            gate = gate_for(fresh, lines)
            catalog, version_id, rater.catalog, rater.gate = fresh, current, fresh, gate
            loaded = time.monotonic()
            err_console.print(f"catalog version {current} loaded: rating with it from now on", markup=False,
                              highlight=False, soft_wrap=True)
        if changed is None:  # more lines changed than are worth taking one by one
            whole = home_lines(app)
            subscribers = home_plans(app)
            gate = gate_for(catalog, whole)
            lines, rater.subscribers, rater.gate = whole, subscribers, gate
            loaded = time.monotonic()
        elif changed:
            assert isinstance(plans, pl.DataFrame)
            theirs = home_lines(app, changed)
            lines = pl.concat([lines.filter(~pl.col("msisdn").is_in(changed)), theirs])
            rater.update_register(changed, plans, lines=theirs)
        seen = version
        if time.monotonic() - loaded > SUBSCRIBERS_REFRESH_S:  # new orders and confirmations, if any
            with app.db.connect() as conn:
                mark = ledger_mark(conn)
            if mark != ledger:
                rater.gate = gate_for(catalog, lines)
            loaded = time.monotonic()
        # a provider suspended since the gate was built, and when these files' charges arrived: a charge that came
        # after its provider's suspension, back-dated before it, is refused as batch rating refuses it
        with app.db.connect() as conn:
            windows = merchant_windows(conn)
        offers = {o.offer_id: o.provider for o in catalog.offers}
        came = charge_arrivals(app, offers, windows, parts=[p for f in files for p in f.parts])
        rater.gate = with_arrivals(rater.gate, came, windows)
        names = {r.content_hash: Path(r.file).name for r in reports}
        rated: set[str] = set()
        for res in rater.rate_files(files):
            if res.skipped:  # committed by an earlier run
                continue
            rated.update(f for f, _, _ in res.files)
            if tally is not None:
                tally.append(res)
            commit = [f for f, _, _ in res.files]

            def say(text: str, commit: list[str] = commit) -> None:
                if held is None:
                    _say(text)
                else:
                    held.hold(text, commit, _say)
            if not quiet:
                what = ", ".join(names.get(f, f) for f in commit)
                say(f"{what}: rated {res.records} records → {res.lines} lines, {res.unrated} unrated, "
                    f"{res.lag_s:.1f} s after arrival")
            if alerts is not None:
                _tell(alerts, res, rater.catalog, quiet=quiet, say=say)
        return rated

    return after
