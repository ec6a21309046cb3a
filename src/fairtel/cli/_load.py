"""`fairtel load DIR`: import an operator directory (catalog, subscribers, consent) and ingest its usage.

Layout (docs/formats.md): ``catalog.toml``, ``subscribers.csv``, ``consent/*.jsonl``, ``usage/*``. Each
file is imported in its own transaction, so one bad file does not undo the others, and every step is
idempotent: loading the same directory twice adds nothing the second time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import exists, select

from fairtel.bootstrap import App
from fairtel.cli._context import app_for
from fairtel.cli._ui import Reporter, console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import CatalogError, FairtelError, InvalidInputError, Problem
from fairtel.core.settings import Settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    ImportReport,
    ImportStatus,
    Subscriber,
    import_consent_events,
    import_subscribers,
    store_catalog,
)
from fairtel.store._schema import table_of

EXIT_FAILED = 2  # a file could not be used at all
EXIT_NOT_AVAILABLE = 3  # usage files present, but mediation has not landed


@dataclass
class LoadSummary:
    directory: Path
    catalog: dict[str, Any] = field(default_factory=dict)
    subscribers: ImportReport | None = None
    consent: list[ImportReport] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=lambda: {"status": "none", "files": []})
    care: list[dict[str, Any]] = field(default_factory=list)  # complaints.jsonl, surveys.jsonl
    loyalty: ImportReport | None = None  # loyalty.jsonl: points earned and redeemed

    @property
    def exit_code(self) -> int:
        imports = [r for r in (self.subscribers, *self.consent, self.loyalty) if r is not None]
        if self.catalog.get("status") == "invalid" or any(r.status is ImportStatus.FAILED for r in imports):
            return EXIT_FAILED
        if any(f.get("status") == "failed" for f in [*self.usage["files"], *self.care]):
            return EXIT_FAILED
        if self.usage["status"] == "not_available":
            return EXIT_NOT_AVAILABLE
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "catalog": self.catalog,
            "subscribers": None if self.subscribers is None else self.subscribers.to_dict(),
            "consent": [r.to_dict() for r in self.consent],
            "usage": self.usage,
            "care": self.care,
            "loyalty": None if self.loyalty is None else self.loyalty.to_dict(),
            "exit_code": self.exit_code,
        }


def load_directory(app: App, directory: Path, *, report: Reporter | None = None, usage: bool = True) -> LoadSummary:
    """Import ``directory`` into ``app``'s home. Raises ``CatalogError`` (nothing imported) when the
    catalog is invalid or not UTF-8 text; problems in other files are reported in the summary, file by file.
    Each file is committed on its own (see the module's note): a file refused whole (a line not UTF-8 in
    complaints.jsonl, a column named twice in subscribers.csv, a file that cannot be read) is "failed" in the
    summary, which names what each other file added, and the exit code is then 2."""
    summary = LoadSummary(directory)
    catalog_file = directory / "catalog.toml"
    subscribers_file = directory / "subscribers.csv"
    consent_files = sorted((directory / "consent").glob("*.jsonl"))
    usage_files = sorted(
        p for p in (directory / "usage").rglob("*") if p.is_file() and not p.name.startswith(".")
    ) if usage else []
    # the steps of "load" itself, one per file it imports (the catalog's step says too that it is missing); each
    # usage file has a bar (or plain lines) of its own, by its name
    present = [n for n in ("subscribers.csv", *CARE_FILES, "loyalty.jsonl") if (directory / n).is_file()]
    total = 1 + len(consent_files) + len(present)

    def step(name: str) -> None:
        if report is not None:
            report.step("load", total=total)
            report.note(name)

    known_plans: set[str] | None = None
    if catalog_file.is_file():
        from fairtel.catalog._load import read_catalog_text

        text, unreadable = read_catalog_text(catalog_file)  # not UTF-8: refused as `catalog validate` refuses it
        if text is None:
            raise CatalogError(unreadable, what=f"catalog {catalog_file}")
        known_plans, validated, note, warnings = _validate_catalog(catalog_file, text, app.settings)
        with app.db.begin() as conn:
            stored = store_catalog(conn, text)
        summary.catalog = {
            "file": str(catalog_file), "status": "stored" if stored.created else "unchanged",
            "validated": validated, "version_id": stored.version_id, "sha256": stored.sha256,
            "plans": None if known_plans is None else len(known_plans), "warnings": warnings,
            **({"note": note} if note else {}),
        }
    else:
        summary.catalog = {"file": str(catalog_file), "status": "missing", "validated": False, **_no_catalog(app)}
    step(f"catalog: {summary.catalog['status']}")

    if subscribers_file.is_file():
        try:
            with app.db.begin() as conn:
                summary.subscribers = import_subscribers(conn, subscribers_file, known_plans=known_plans)
        except OSError as exc:
            summary.subscribers = _unreadable(subscribers_file, "subscribers", exc)
        _keep_sort_keys(app)
        step("subscribers")

    for path in consent_files:
        try:
            with app.db.begin() as conn:
                summary.consent.append(import_consent_events(conn, path, source=f"consent/{path.name}"))
        except OSError as exc:
            summary.consent.append(_unreadable(path, "consent", exc))
        step(f"consent {path.name}")

    summary.care = _import_care(app, directory, step)
    if (directory / "loyalty.jsonl").is_file():
        from fairtel.store._care import import_loyalty

        try:
            with app.db.begin() as conn:
                summary.loyalty = import_loyalty(conn, directory / "loyalty.jsonl")
        except OSError as exc:
            summary.loyalty = _unreadable(directory / "loyalty.jsonl", "loyalty", exc)
        step("loyalty")
    if usage_files:
        summary.usage = _ingest_usage(app, usage_files, report)
    return summary


def _unreadable(path: Path, kind: str, exc: OSError) -> ImportReport:
    """The report of a file that could not be read at all (a permission, a device error): failed, nothing of it
    imported, the other files of the directory imported all the same."""
    report = ImportReport(file=str(path), kind=kind)
    report.problems.append(Problem(str(path), None, None, f"cannot read: {exc.strerror or exc}", "file_unreadable"))
    return report


def _keep_sort_keys(app: App) -> int:
    """Give the lines just imported their places in the subscriber list's keyed order (the API's
    ``keep_sort_keys``), so that the first list after a large import does not make them while an analyst waits.
    Returns how many were made; the API is imported only when some line has none."""
    s = table_of(Subscriber)
    with app.db.begin() as conn:
        if not conn.scalar(select(exists().where(s.c.pseudonym_order.is_(None)))):
            return 0
        from fairtel.api._customers import keep_sort_keys

        return keep_sort_keys(conn, Pseudonymizer(app.settings.secret_key.get_secret_value()).order)


def _no_catalog(app: App) -> dict[str, Any]:
    """What a directory without ``catalog.toml`` leaves the home with: the catalog it had (``current_version_id``),
    or none, said in the ``note`` with what rating and billing will do until one is loaded (refuse, outside
    development: ``home_catalog``)."""
    from fairtel.cli._home import LOAD_A_CATALOG
    from fairtel.core.settings import Environment
    from fairtel.store import current_catalog

    with app.db.connect() as conn:
        current = current_catalog(conn)
    if current is not None:
        return {"current_version_id": current.version_id,
                "note": f"no catalog.toml in the directory: the home's current catalog (version {current.version_id}) "
                        "stays in use"}
    env = app.settings.environment
    if env is Environment.DEVELOPMENT:
        then = ("rating and billing use the bundled demo catalog, with a warning (development only: in test and "
                "production they refuse, catalog_missing)")
    else:
        then = f"rating and billing refuse (catalog_missing) in the {env.value} environment"
    return {"current_version_id": None,
            "note": f"no catalog.toml in the directory and no catalog loaded in this home: the rest was imported, but "
                    f"{then} until a catalog is loaded; {LOAD_A_CATALOG}"}


CARE_FILES = ("complaints.jsonl", "surveys.jsonl")


def _import_care(app: App, directory: Path, step: Any = None) -> list[dict[str, Any]]:
    """The directory's complaints and NPS answers, when present: each file stored whole, or refused with its
    problems (file, line, field); what is already stored is skipped. ``step`` is told each file's name once it
    is imported (or refused)."""
    from fairtel.cli._care import import_complaints
    from fairtel.cli._surveys import import_surveys

    out: list[dict[str, Any]] = []
    for name, importer in zip(CARE_FILES, (import_complaints, import_surveys), strict=True):
        path = directory / name
        if not path.is_file():
            continue
        try:
            counts = importer(app, path)
        except FairtelError as exc:
            out.append({"file": str(path), "status": "failed", "message": str(exc)})
        except OSError as exc:  # not readable: refused like a bad file, and the rest of the directory goes on
            out.append({"file": str(path), "status": "failed", "message": f"{path}: cannot read: {exc.strerror or exc}"})
        else:
            out.append({"file": str(path), "status": "imported", **counts})
        if step is not None:
            step(Path(name).stem)
    return out


def _optional(module: str, name: str) -> Any:
    """A function another package provides, or None while that package has not landed."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _validate_catalog(path: Path, text: str, settings: Settings) -> tuple[set[str] | None, bool, str | None, list[str]]:
    """Plan ids of a valid catalog, and its warnings as `fairtel catalog validate` words them (a gap a tariff author
    should know of: usage the catalog leaves unrated, a setting with no effect). Raises ``CatalogError`` listing
    every problem of an invalid one, for a catalog on another clock than the home's settings (``Settings.clock_mismatch``): nothing is imported then, so no usage is
    filed under periods that rating would read on another clock; and for one whose operator is at home in another
    country than the settings' (``Settings.country_mismatch``), whose subscribers' numbers written as dialled at home
    would be read by another numbering plan where free text is pseudonymised or masked."""
    from fairtel.catalog import parse_catalog
    from fairtel.core.settings import toml_line

    catalog, problems = parse_catalog(text, file=str(path))
    if problems or catalog is None:
        raise CatalogError(problems, what=f"catalog {path}")
    why = settings.clock_mismatch(catalog.operator.timezone)
    if why is not None:
        raise CatalogError([Problem(str(path), toml_line(text, ("operator", "timezone")), "operator.timezone", why,
                                    "clock_mismatch")], what=f"catalog {path}")
    why = settings.country_mismatch(catalog.home_country)
    if why is not None:  # the country the catalog names, else its time zone's (the line of [operator] then)
        raise CatalogError([Problem(str(path), toml_line(text, ("operator", "country")), "operator.country", why,
                                    "country_mismatch")], what=f"catalog {path}")
    from fairtel.cli._catalog import _problem_line

    warnings = [f"{path}: {gap}"] if (gap := catalog.roaming_gap()) else []
    warnings += [_problem_line(w) for w in catalog.warnings]
    return {p.id for p in catalog.plans}, True, None, warnings


def _ingest_usage(app: App, files: list[Path], report: Reporter | None) -> dict[str, Any]:
    ingest_files = _optional("fairtel.mediation", "ingest_files")
    if ingest_files is None:
        return {
            "status": "not_available", "files": [], "pending": [str(f) for f in files],
            "note": "usage not ingested: fairtel.mediation.ingest_files is not available",
        }
    results = ingest_files(files, settings=app.settings, report=report)
    # every field of the file's report, as ``fairtel ingest --json`` prints it: reasons, rejects file, held, emitted
    rows = [{k: _plain(v) for k, v in r.to_dict().items()} for r in results]
    return {"status": "ok", "files": rows}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return getattr(value, "value", value)  # enums


def _print_summary(summary: LoadSummary, *, max_problems: int = 20) -> None:
    rows: list[list[Any]] = []
    cat = summary.catalog
    rows.append(["catalog", Path(cat["file"]).name, cat["status"], "", "", "", ""])
    imports = [r for r in (summary.subscribers, *summary.consent, summary.loyalty) if r is not None]
    for r in imports:
        rows.append([r.kind, _rel(summary.directory, r.file), r.status.value, r.read, r.accepted, r.duplicate, r.rejected])
    for f in summary.usage["files"]:
        rows.append(["usage", _rel(summary.directory, str(f["file"])), f["status"], f["read"], f["accepted"], f["duplicate"], f["rejected"]])
    for c in summary.care:
        rows.append([Path(c["file"]).stem, _rel(summary.directory, c["file"]), c["status"], c.get("read", ""),
                     c.get("inserted", ""), c.get("duplicate", c.get("skipped", "")), ""])
    for pending in summary.usage.get("pending", []):
        rows.append(["usage", _rel(summary.directory, pending), "pending", "", "", "", ""])
    console.print(table(f"fairtel load {summary.directory}", ["what", "file", "status", "read", "accepted", "duplicate", "rejected"], rows))

    problems: list[Any] = [p for r in imports for p in r.problems]
    problems += [c["message"] for c in summary.care if c["status"] == "failed"]
    for p in problems[:max_problems]:
        console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
    if len(problems) > max_problems:
        console.print(f"  … and {len(problems) - max_problems} more (use --json for all)", highlight=False)
    for warning in cat.get("warnings", []):  # stored all the same: a gap to close in the next version
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    for line in _usage_notes(summary):
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    # what the register import did besides its rows (subscriber logins disabled on a line given to a new holder)
    for line in getattr(summary.subscribers, "notes", ()) or ():
        err_console.print(f"note: {line}", markup=False, highlight=False, soft_wrap=True)
    for note in (cat.get("note"), summary.usage.get("note")):
        if note:
            # a home left with no catalog at all is more than a note: what is rated next depends on it
            said = "WARNING" if note is cat.get("note") and cat.get("current_version_id", 0) is None else "note"
            err_console.print(f"{said}: {note}", markup=False, highlight=False, soft_wrap=True)


def _usage_notes(summary: LoadSummary) -> list[str]:
    """What ``fairtel ingest`` says under its table, for the usage files: why a file was not ingested, and
    which reasons refused records and in which rejects file they are (with their original bytes)."""
    out = []
    for f in summary.usage["files"]:
        name = _rel(summary.directory, str(f["file"]))
        if f.get("message") and f.get("status") != "ingested":
            out.append(f"{name}: {f['message']}")
            if "format_unknown" in str(f["message"]) or f.get("code") == "format_unknown":
                out.append(_format_hint(summary.directory, name, str(f["file"])))
        if f.get("reasons"):
            reasons = ", ".join(f"{k} {v}" for k, v in f["reasons"].items())
            out.append(f"{name}: rejected {reasons}; see {f.get('rejects_file')}")
    return out


def _format_hint(directory: Path, name: str, file: str) -> str:
    """What to do with a usage file ``load`` cannot recognise: ``load`` takes no ``--format``, ``ingest`` does."""
    from fairtel.mediation import bundled_fieldmaps

    bundled = ", ".join(f"fieldmap:{m}" for m in bundled_fieldmaps())
    return (f"{name}: `fairtel load` has no --format; ingest this file on its own: "
            f"`fairtel ingest --format FORMAT {file}` (a reader's name, or a field map: fieldmap:PATH"
            + (f"; bundled: {bundled}" if bundled else "") + f"). To load {directory} again without its usage "
            f"files: `fairtel load {directory} --no-usage`.")


def _rel(base: Path, file: str) -> str:
    try:
        return str(Path(file).relative_to(base))
    except ValueError:
        return file


def register(app: typer.Typer) -> None:
    @app.command("load")
    def load(
        ctx: typer.Context,
        directory: Annotated[Path, typer.Argument(help="Operator directory: catalog.toml, subscribers.csv, consent/, usage/.")],
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")] = None,
        no_usage: Annotated[bool, typer.Option("--no-usage", help="Import catalog, subscribers and consent only.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Import an operator directory (catalog, subscribers, consent events) and ingest its usage files."""
        if not directory.is_dir():
            raise fail(InvalidInputError([Problem(str(directory), None, None, "not a directory")], what="load"), as_json=as_json)
        with app_for(ctx, home) as fairtel, reporter(quiet=as_json) as rep:
            try:
                summary = load_directory(fairtel, directory, report=rep, usage=not no_usage)
            except InvalidInputError as exc:  # an invalid catalog: nothing was imported
                raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(summary.to_dict())
        else:
            _print_summary(summary)
        if summary.exit_code:
            raise typer.Exit(summary.exit_code)
