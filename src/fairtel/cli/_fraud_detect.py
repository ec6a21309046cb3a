"""`fairtel fraud detect | cases | decide`: rule detectors over the home's usage lake and the case queue.

Cases live under ``<home>/fraud`` (``fairtel.fraud.CaseFiles``) and are mirrored into the database's
``fraud_cases`` table, so the API sees what the command line decided.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.table import Table

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import ConfigError, FairtelError, InvalidInputError, NotFoundError
from fairtel.core.ids import purpose_key
from fairtel.core.time import Period, utc_now
from fairtel.fraud import (
    CASE_ID_PURPOSE,
    RULE_DETECTORS,
    CallbackNotice,
    CaseFiles,
    CaseQueue,
    CaseStatus,
    Detector,
    FeatureConfig,
    FraudCase,
    Thresholds,
    compute_features,
    detect,
    notice_id,
)

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog

ROWS_PER_CHUNK = 8_000_000  # usage rows per feature pass: about 1.5 GB of working memory


def fraud_dir(app: App) -> Path:
    return app.settings.home / "fraud"


# ---- inputs -------------------------------------------------------------------------------------------
def _catalog(app: App, explicit: Path | None, operator_dir: Path | None) -> Catalog:
    """``--catalog``, else the operator directory's ``catalog.toml``, else the home's (``home_catalog``)."""
    from fairtel.cli._home import home_catalog

    if explicit is None and operator_dir is not None and (operator_dir / "catalog.toml").is_file():
        explicit = operator_dir / "catalog.toml"
    notes: list[str] = []
    catalog = home_catalog(app, explicit, notes)
    for note in notes:
        err_console.print(note)
    return catalog


def _subscribers(app: App) -> pl.DataFrame:
    from fairtel.cli._home import home_subscribers

    return home_subscribers(app, ("msisdn", "activated_at"))


def _thresholds(app: App, path: Path | None) -> Thresholds:
    candidate = path or fraud_dir(app) / "thresholds.toml"
    if path is None and not candidate.is_file():
        return Thresholds()
    if not candidate.is_file():
        raise NotFoundError(f"no thresholds file at {candidate}")
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: {exc}") from None
    return Thresholds.from_mapping(data)


def _exempt(values: list[str]) -> set[str]:
    """Numbers given on the command line or listed in files (one a line; ``#`` starts a comment, on its own line
    or after the number), written as the lake writes them (no ``+``)."""
    out: set[str] = set()
    for v in values:
        p = Path(v)
        lines = p.read_text(encoding="utf-8").splitlines() if p.is_file() else [v]
        for line in lines:
            number = line.split("#", 1)[0].strip().lstrip("+")
            if number:
                out.add(number)
    return out


# ---- database mirror ----------------------------------------------------------------------------------
def sync_db(app: App, cases: list[FraudCase]) -> int:
    """Upsert cases into ``fraud_cases`` (status and who decided it included); returns the rows written."""
    if not cases:
        return 0
    from sqlalchemy import Table, select

    from fairtel.store import FraudCase as CaseRow

    t = CaseRow.__table__
    assert isinstance(t, Table)
    rows = [
        {
            "case_id": c.case_id, "detector": c.detector.value, "msisdn": c.subject, "score": c.score,
            "status": c.status.value,
            "evidence": {**c.to_dict(with_history=False), "history": [d.to_dict() for d in c.history]},
            "opened_at": c.opened_at,
            "decided_by": None if c.decided is None else c.decided.by,
            "decided_at": None if c.decided is None else c.decided.at,
        }
        for c in cases
    ]
    with app.db.begin() as conn:
        existing: set[str] = set()
        ids = [r["case_id"] for r in rows]
        for i in range(0, len(ids), 500):
            existing.update(conn.scalars(select(t.c.case_id).where(t.c.case_id.in_(ids[i : i + 500]))))
        new = [r for r in rows if r["case_id"] not in existing]
        if new:
            conn.execute(t.insert(), new)
        for r in rows:
            if r["case_id"] in existing:
                conn.execute(t.update().where(t.c.case_id == r["case_id"]).values(**{k: v for k, v in r.items() if k != "case_id"}))
    return len(rows)


# ---- output -------------------------------------------------------------------------------------------
def _cases_table(title: str, cases: list[FraudCase], limit: int, *, decided: bool) -> Table:
    """The full case id (what `decide` takes) never wraps; the codes of the conditions that held fold."""
    t = Table(title=title)
    t.add_column("case", no_wrap=True, min_width=30)
    t.add_column("detector")
    t.add_column("subject", no_wrap=True)
    t.add_column("score")
    if decided:
        t.add_column("period")
        t.add_column("status")
    else:
        t.add_column("why", overflow="fold")
    for c in cases[:limit]:
        last = [c.period, c.status.value] if decided else [" ".join(r.code for r in c.reasons)]
        t.add_row(c.case_id, c.detector.value, c.subject, f"{c.score:.2f}", *last)
    return t


def _periods(app: App, asked: list[str] | None) -> list[str]:
    if asked:
        return [Period.parse(p, app.settings.timezone).key for p in asked]
    return app.lake.periods("usage")


def case_key(app: App) -> bytes:
    """The key of this home's fraud case ids: only who holds the operator's secret can recompute a case's id from
    a number (analysts see ids beside pseudonyms)."""
    return purpose_key(app.settings.secret_key.get_secret_value(), CASE_ID_PURPOSE)


def run_detect(
    app: App,
    *,
    periods: list[str],
    catalog: Catalog,
    thresholds: Thresholds,
    exempt: set[str],
    chunks: int | None = None,
    quiet: bool = False,
) -> tuple[CaseQueue, dict[str, Any], list[CallbackNotice]]:
    """Detectors over each period of the home's usage lake; the queue is saved, notices merged."""
    files = CaseFiles(fraud_dir(app))
    queue = files.load()
    subscribers = _subscribers(app)
    config = FeatureConfig(tz=app.settings.timezone)
    summary: dict[str, Any] = {"periods": {}, "merge": {"added": 0, "refreshed": 0, "kept": 0}}
    notices: list[CallbackNotice] = []
    now = utc_now()
    with reporter(quiet=quiet) as rep:
        for key in periods:
            parts = app.lake.files("usage", periods=[key])
            if not parts:
                summary["periods"][key] = {"records": 0, "cases": {}}
                continue
            usage = pl.scan_parquet(parts)
            records = int(usage.select(pl.len()).collect().item())
            n = chunks or max(1, math.ceil(records / ROWS_PER_CHUNK))
            rep.note(f"{key}: {records:,} usage records, {n} chunk(s)")
            features = compute_features(usage, catalog=catalog, subscribers=subscribers, config=config, chunks=n)
            found = detect(features, thresholds, period=key, now=now, tz=app.settings.timezone, exempt=exempt,
                           id_key=case_key(app))
            cases = [queue.held(c) for c in found.cases]
            moved = {f.case_id: c.case_id for f, c in zip(found.cases, cases, strict=True) if f.case_id != c.case_id}
            merged = queue.merge(cases)
            for k, v in merged.to_dict().items():
                summary["merge"][k] += v
            notices.extend(replace(n, case_id=moved[n.case_id], notice_id=notice_id(moved[n.case_id], n.record_id))
                           if n.case_id in moved else n for n in found.notices)
            summary["periods"][key] = {"records": records, "lines": features.lines.height, "cases": found.counts(),
                                       "callback_notices": len(found.notices)}
            rep.step("periods", total=len(periods))
    files.save_cases(queue)
    summary["new_notices"] = files.save_notices(notices)
    summary["db_rows"] = sync_db(app, queue.cases())
    return queue, summary, notices


def register(fraud_app: typer.Typer) -> None:
    @fraud_app.command("detect")
    def detect_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM (repeatable; default: every period in the lake).")] = None,
        operator_dir: Annotated[Path | None, typer.Option("--operator-dir", help="Load this operator directory into the home first (as `fairtel load`).")] = None,
        catalog_path: Annotated[Path | None, typer.Option("--catalog", help="Catalog with the zones (default: the operator directory's, the stored one, or the default).")] = None,
        thresholds_path: Annotated[Path | None, typer.Option("--thresholds", help="TOML of detector thresholds (default <home>/fraud/thresholds.toml if present).")] = None,
        exempt: Annotated[list[str] | None, typer.Option("--exempt", help="A number, or a file of numbers, that never opens a case (repeatable).")] = None,
        chunks: Annotated[int | None, typer.Option("--chunks", min=1, help="Feature passes per period (default: one per 8 M records).")] = None,
        limit: Annotated[int, typer.Option("--limit", help="Cases shown in the table.")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary and the cases found as JSON.")] = False,
    ) -> None:
        """Run the SIM-box, Wangiri, IRSF and scam-caller detectors; open cases, warn Wangiri callbacks."""
        try:
            app = app_for(ctx, home)
            with app:
                load = None
                if operator_dir is not None:
                    from fairtel.cli._load import load_directory

                    if not operator_dir.is_dir():
                        raise NotFoundError(f"operator directory {operator_dir} does not exist")
                    with reporter(quiet=as_json) as rep:
                        load = load_directory(app, operator_dir, report=rep)
                cat = _catalog(app, catalog_path, operator_dir)
                thresholds = _thresholds(app, thresholds_path)
                keys = _periods(app, period)
                if not keys:
                    raise NotFoundError(f"no usage in {app.settings.lake_dir / 'usage'}; run `fairtel load` or `fairtel ingest` first")
                queue, summary, _ = run_detect(app, periods=keys, catalog=cat, thresholds=thresholds,
                                               exempt=_exempt(exempt or []), chunks=chunks, quiet=as_json)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        found = [c for k in keys for c in queue.cases(period=k)]
        if load is not None:
            summary["load_exit_code"] = load.exit_code
        if as_json:
            print_json({**summary, "cases": [c.to_dict() for c in found]})
            return
        rows = [[k, v.get("records", 0), *(v["cases"].get(d.value, 0) for d in RULE_DETECTORS), v.get("callback_notices", 0)]
                for k, v in summary["periods"].items()]
        console.print(table("Fraud detectors", ["period", "records", *(d.value for d in RULE_DETECTORS), "callback notices"], rows))
        if found:
            console.print(_cases_table(f"Cases ({len(found)})", found, limit, decided=True))
        m = summary["merge"]
        console.print(f"{m['added']} new case(s), {m['refreshed']} refreshed, {m['kept']} already decided; "
                      f"{summary['new_notices']} new callback notice(s) in {fraud_dir(app) / 'notices.jsonl'}")

    @fraud_app.command("cases")
    def cases_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        status: Annotated[str | None, typer.Option("--status", help="open, confirmed or false_alarm.")] = None,
        detector: Annotated[str | None, typer.Option("--detector", help="simbox, wangiri, irsf, scam or model.")] = None,
        period: Annotated[str | None, typer.Option("--period", help="YYYY-MM.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table (JSON lists all).")] = 50,
        explain: Annotated[bool, typer.Option("--explain", help="Each case with its reasons in words instead of a table.")] = False,
        language: Annotated[str, typer.Option("--language", help="Language of the reasons with --explain: en or zh.")] = "en",
        as_json: Annotated[bool, typer.Option("--json", help="Print the cases as JSON.")] = False,
    ) -> None:
        """The fraud case queue, newest period first, highest score first."""
        try:
            from fairtel.core.errors import Problem

            problems = []
            if status is not None and status not in {s.value for s in CaseStatus}:
                problems.append(Problem("--status", None, "status", f"{status!r} is not one of {', '.join(s.value for s in CaseStatus)}"))
            if detector is not None and detector not in {d.value for d in Detector}:
                problems.append(Problem("--detector", None, "detector", f"{detector!r} is not one of {', '.join(d.value for d in Detector)}"))
            if problems:
                raise InvalidInputError(problems, what="fraud cases")
            app = app_for(ctx, home)
            queue = CaseFiles(fraud_dir(app)).load()
            cases = queue.cases(status=status, detector=detector, period=period)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"cases": [c.to_dict() for c in cases], "count": len(cases)})
            return
        if explain:
            for c in cases[:limit]:
                console.print(f"{c.case_id}  {c.detector.value}  {c.subject}  {c.period}  score {c.score:.2f}  {c.status.value}",
                              highlight=False)
                for r in c.reasons:
                    console.print(f"  - {r.zh if language == 'zh' else r.en}", highlight=False)
                if c.decided is not None:
                    d = c.decided
                    console.print(f"  decided {d.outcome.value} by {d.by} at {d.at.isoformat(timespec='seconds')}"
                                  + (f": {d.note}" if d.note else ""), highlight=False)
            return
        console.print(_cases_table(f"Fraud cases ({len(cases)})", cases, limit, decided=True))

    @fraud_app.command("decide")
    def decide_cmd(
        ctx: typer.Context,
        case: Annotated[str, typer.Argument(help="The case id (see `fairtel fraud cases`).")],
        by: Annotated[str, typer.Option("--by", help="Who decides (recorded in the history).")],
        confirm: Annotated[bool, typer.Option("--confirm", help="The case is fraud.")] = False,
        false_alarm: Annotated[bool, typer.Option("--false-alarm", help="The case is not fraud.")] = False,
        suspend: Annotated[bool, typer.Option("--suspend", help="With --confirm on a SIM-box or scam line: request the line's suspension.")] = False,
        note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the decided case as JSON.")] = False,
    ) -> None:
        """Confirm a case or mark it a false alarm; the decision is appended to the case's history."""
        try:
            if confirm == false_alarm:
                raise ConfigError("choose exactly one of --confirm and --false-alarm")
            app = app_for(ctx, home)
            with app:
                files = CaseFiles(fraud_dir(app))
                queue = files.load()
                decision, suspension = queue.decide(
                    case, CaseStatus.CONFIRMED if confirm else CaseStatus.FALSE_ALARM,
                    by=by, at=utc_now(), note=note, suspend=suspend,
                )
                files.record(decision, suspension)
                decided = queue.get(case)
                sync_db(app, [decided])
                line = _apply_suspension(app, suspension) if suspension is not None else None
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"case": decided.to_dict(), "suspension": None if suspension is None else suspension.to_dict(),
                        "line": line})
            return
        console.print(f"{case}: {decision.outcome.value} by {decision.by} at {decision.at.isoformat(timespec='seconds')}")
        if suspension is not None:
            said = {"suspended": "the line is now suspended", "already_suspended": "the line was already suspended",
                    "not_registered": "the line is not in the subscriber register: nothing to change there"}
            console.print(f"suspension of {suspension.msisdn} requested ({suspension.action_id}) in {files.suspensions_path}; "
                          + said.get(line or "", f"the line is {line}: left as it is"), highlight=False)


def _apply_suspension(app: Any, suspension: Any) -> str:
    """The line's status becomes ``suspended`` in the subscriber register (audited as the deciding analyst);
    the request stays in the case files as the record of why."""
    from fairtel.privacy import Pseudonymizer
    from fairtel.store import AuditAs, suspend_line

    who = AuditAs(suspension.requested_by, "fraud_analyst",
                  Pseudonymizer(app.settings.secret_key.get_secret_value(), domain="msisdn"),
                  reason=f"fraud case {suspension.case_id}")
    with app.db.begin() as conn:
        return suspend_line(conn, suspension.msisdn, at=suspension.requested_at, audit=who,
                            reason=f"{suspension.detector.value} case {suspension.case_id} confirmed")
