"""`fairtel demo`: a synthetic operator taken through every stage that exists, then a summary.

Each stage is a function from the demo context to a few figures. A stage whose capability has not landed
raises ``NotAvailableError`` and the summary says which issue brings it; a stage that fails stops the demo
with its error, because a demo that hides a failure teaches the wrong thing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import Reporter, console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, NotAvailableError

if TYPE_CHECKING:
    from fairtel.catalog import Catalog

DEMO_START = date(2026, 9, 1)


@dataclass
class DemoContext:
    app: Any  # fairtel.bootstrap.App (imported lazily: the CLI starts fast)
    operator_dir: Path
    subscribers: int
    days: int
    seed: int
    report: Reporter
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageResult:
    stage: str
    status: str  # done | not available | skipped
    seconds: float
    figures: dict[str, Any]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "seconds": round(self.seconds, 2),
                "figures": self.figures, "note": self.note}


Stage = Callable[[DemoContext], dict[str, Any]]


def _synth(ctx: DemoContext) -> dict[str, Any]:
    from fairtel.synth import synthesize

    summary = synthesize(
        ctx.operator_dir, subscribers=ctx.subscribers, days=ctx.days, seed=ctx.seed, start=DEMO_START,
        report=ctx.report,
    )
    facts = summary.to_dict()
    ctx.facts["synth"] = facts
    return {"subscribers": ctx.subscribers, "days": ctx.days, "usage records": facts.get("usage_records", "?"),
            "files": facts.get("usage_files", "?")}


def _load(ctx: DemoContext) -> dict[str, Any]:
    from fairtel.cli._load import load_directory

    ctx.facts["arrived_at"] = datetime.now(UTC)  # every file is in the operator's directory now
    summary = load_directory(ctx.app, ctx.operator_dir, report=ctx.report)
    ctx.facts["load"] = summary.to_dict()
    usage = summary.usage
    if usage.get("status") == "not_available":
        raise NotAvailableError(usage.get("note", "usage ingestion is not available"))
    files = usage.get("files", [])
    totals = {k: sum(int(f.get(k) or 0) for f in files) for k in ("read", "accepted", "rejected", "duplicate")}
    return {
        "subscribers": summary.subscribers.accepted if summary.subscribers else 0,
        "consent events": sum(r.accepted for r in summary.consent),
        "usage files": len(files),
        **totals,
        "counts add up": totals["read"] == totals["accepted"] + totals["rejected"] + totals["duplicate"],
    }


def _rate(ctx: DemoContext) -> dict[str, Any]:
    from fairtel.cli._home import home_catalog
    from fairtel.cli._rating import rate_period
    from fairtel.core.time import Period

    app = ctx.app
    catalog = home_catalog(app, None, [])
    online = _rate_online(ctx, catalog)
    periods = app.lake.periods("usage")
    lines = unrated = records = 0
    amounts: dict[str, int] = {}
    for key in periods:
        totals = rate_period(app, Period.parse(key, app.settings.timezone), catalog=catalog, report=ctx.report)
        records += totals["records"]
        lines += totals["lines"]
        unrated += totals["unrated"]
        amounts[totals["currency"]] = amounts.get(totals["currency"], 0) + int(totals["amount_minor"])
    ctx.facts["rate"] = {"periods": periods, "records": records, "lines": lines, "unrated": unrated}
    from fairtel.core.money import Money

    return {
        "periods": ", ".join(periods), "records": records, "rated lines": lines, "unrated": unrated,
        "usage charges": ", ".join(str(Money.from_minor(v, c)) for c, v in sorted(amounts.items())),
        **online,
    }


def _rate_online(ctx: DemoContext, catalog: Catalog) -> dict[str, Any]:
    """Each ingested file rated as ``watch --rate`` does, as it would have been on arrival (its lag counts from
    the moment the load began: every file was waiting then); the batch run then rates each period whole, in time
    order, and replaces these lines. What stays is the rating log: the dashboard's timeliness."""
    from fairtel.cli._home import home_gate, home_plans
    from fairtel.engines import OnlineRater

    files = [f for f in ctx.facts.get("load", {}).get("usage", {}).get("files", []) if f.get("parts")]
    arrived = ctx.facts.get("arrived_at", datetime.now(UTC))
    rater = OnlineRater(ctx.app.settings, catalog=catalog, subscribers=home_plans(ctx.app),
                        gate=home_gate(ctx.app, catalog))
    lags = [rater.rate_file(f["content_hash"], f["parts"], arrived_at=arrived) for f in files]
    records = sum(r.records for r in lags)
    on_time = sum(r.records for r in lags if r.lag_s <= 60)
    return {"rated online within 60 s of arrival": f"{on_time}/{records}"}


def _bill(ctx: DemoContext) -> dict[str, Any]:
    """Issue the bills of every rated period that has ended on the operator's clock (a period already issued is
    left as it is: bills are immutable); a period not ended yet (the synthetic traffic runs up to today, or past it
    with many days) is previewed, as an operator would before closing it."""
    from fairtel.cli._billing import bill_period
    from fairtel.cli._home import home_catalog
    from fairtel.core.time import Period, utc_now

    catalog = home_catalog(ctx.app, None, [])
    now = utc_now()
    issued = 0
    totals: list[str] = []
    previewed: list[str] = []
    for key in ctx.app.lake.periods("rated"):
        ended = now >= Period.parse(key, catalog.operator.timezone).end
        out = bill_period(ctx.app, key, catalog=catalog, issue=ended, report=ctx.report, now=now)
        issued += int(out["bills"]) if out.get("mode") == "issue" and out.get("run_id") else 0
        totals.append(f"{key}: {out['total']} {out['currency']}" + ("" if ended else " (preview: not ended)"))
        if not ended:
            previewed.append(key)
    ctx.facts["bill"] = totals
    figures: dict[str, Any] = {"bills issued": issued, "totals": "; ".join(totals)}
    if previewed:
        figures["previewed, not ended"] = ", ".join(previewed)
    return figures


def _assure(ctx: DemoContext) -> dict[str, Any]:
    from collections import Counter

    from fairtel.assurance import AssurancePolicy, assure, rank_merchants, suspension_list  # noqa: F401
    from fairtel.cli._assure import _from_home, _write_findings, finding_ids
    from fairtel.core.time import utc_now

    settings = ctx.app.settings
    inputs = _from_home(settings.home, settings.lake_dir, catalog=None, fapp=ctx.app)
    run = assure(usage=inputs.usage, offers=inputs.offers, events=inputs.ledger.events, rated=inputs.rated,
                 notices=inputs.notices, complaints=inputs.complaints, lines=inputs.lines,
                 policy=AssurancePolicy(tz=settings.timezone), now=utc_now(), ids=finding_ids(ctx.app))
    written = _write_findings(settings.lake_dir, run.findings, settings.timezone) if run.findings else 0
    counts = Counter(f.kind.value for f in run.findings)
    verdicts = Counter(run.gated["verdict"].to_list()) if run.gated.height else Counter()
    ctx.facts["assure"] = {"findings": dict(counts), "verdicts": dict(verdicts)}
    ctx.facts["assure_msisdns"] = sorted({f.msisdn for f in run.findings if f.msisdn})
    return {
        "VAS charges gated": run.gated.height,
        "billed (consented)": verdicts.get("consented", 0),
        "refused at the gate": run.gated.height - verdicts.get("consented", 0),
        "findings": written,
        "suspension advised": _advice(run.merchants),
    }


def _advice(ranking: Any) -> str:
    """The providers advised for suspension; none, with why when some score high on too few subscriptions and charges
    to advise on (a demo's register is small: each provider has a few subscriptions, fewer than the policy's floor)."""
    from fairtel.assurance import suspension_list
    from fairtel.cli._assure import withheld_advice, withheld_words

    advised = sorted(suspension_list(ranking))
    withheld = withheld_advice(ranking)
    said = ", ".join(advised) or "none"
    return f"{said}; not advised: {withheld_words(withheld)}" if withheld else said


def _care(ctx: DemoContext) -> dict[str, Any]:
    """The complaints and NPS answers the load imported, the assistant's intent model, the month's KPIs."""
    from fairtel.care import load_intent_model
    from fairtel.cli._care import gather_kpis

    care = {Path(c["file"]).name: c for c in ctx.facts.get("load", {}).get("care", [])}  # imported by the load
    imported = care.get("complaints.jsonl", {})
    answers = care.get("surveys.jsonl", {})
    load_intent_model(ctx.app.settings.models_dir, progress=ctx.report)  # trained once per home
    periods = ctx.app.lake.periods("usage")
    report = gather_kpis(ctx.app, periods[0] if periods else None).to_dict()
    ctx.facts["kpi"] = report
    complaints = report["complaints"]
    return {
        "complaints imported": imported.get("inserted", 0),
        "NPS answers imported": answers.get("inserted", 0),
        "complaints per million": complaints.get("per_million"),
        "unexplained-charge complaints per million": complaints.get("unexplained_charge_per_million"),
        "NPS": report["nps"].get("nps"),
        "assistant": "intent model ready",
    }


def _advise(ctx: DemoContext) -> dict[str, Any]:
    """Best-plan advice over the months in the lake, priced by the rating engine itself."""
    import polars as pl

    from fairtel.billing import BillingPolicy
    from fairtel.cli._home import home_gate, home_lines
    from fairtel.cli._insight import _advice_fraud_cases, _home_catalog, _home_subscribers, _home_usage
    from fairtel.insight import advise
    from fairtel.rating import drop_held

    app = ctx.app
    catalog = _home_catalog(app, None, [])
    lines = home_lines(app)
    # as `fairtel advise` does: usage held off the bills left out; closed, suspended and fraud-case lines advised
    # nothing; every month in service with its fee (pro-rated to a closing), taxed as the bills are
    usage = drop_held(_home_usage(app, app.lake.periods("usage")).collect(), lines)
    closing = pl.when(pl.col("status") == "closed").then(pl.col("closed_at")).alias("closed_at")
    subscribers = _home_subscribers(app).join(lines.select("msisdn", closing), on="msisdn", how="left")
    result = advise(usage, catalog, subscribers, months=None, progress=ctx.report, prorate=True,
                    gate=home_gate(app, catalog, lines=lines), line_status=lines.select("msisdn", "status"),
                    fraud_cases=_advice_fraud_cases(app), policy=BillingPolicy(tax_rates=app.settings.tax_rates))
    summary = result.summary()
    ctx.facts["advise"] = summary
    return {"subscribers": summary["subscribers"], "would save": summary["would_save"],
            "total saving": f"{summary['total_saving']} {summary['currency']}"}


def _fraud(ctx: DemoContext) -> dict[str, Any]:
    """SIM-box, Wangiri, IRSF and scam-caller detectors over every period; cases go to the queue."""
    from fairtel.cli._fraud_detect import _catalog as fraud_catalog
    from fairtel.cli._fraud_detect import _thresholds, run_detect

    app = ctx.app
    _queue, summary, notices = run_detect(app, periods=app.lake.periods("usage"), catalog=fraud_catalog(app, None, None),
                                         thresholds=_thresholds(app, None), exempt=set(), quiet=True)
    by_detector: dict[str, int] = {}
    for period in summary["periods"].values():
        for detector, n in (period.get("cases") or {}).items():
            by_detector[detector] = by_detector.get(detector, 0) + int(n)
    ctx.facts["fraud"] = summary
    return {"cases": ", ".join(f"{k} {v}" for k, v in sorted(by_detector.items())) or "none",
            "callback warnings": len(notices)}


def _logins(ctx: DemoContext) -> dict[str, Any]:
    """One console login per role, with fresh random passwords written to <home>/demo-logins.txt
    (readable by the owner only). The subscriber login is a line that has a charge-assurance finding, so
    "why this charge" has something to show."""
    import os
    import secrets

    from sqlalchemy import select

    from fairtel.api import create_user
    from fairtel.store import Subscriber, User
    from fairtel.store._schema import table_of

    settings = ctx.app.settings
    findings = ctx.facts.get("assure_msisdns") or []
    users_t = table_of(User)
    lines: list[str] = []
    with ctx.app.db.begin() as conn:
        msisdn = findings[0] if findings else conn.scalar(select(Subscriber.msisdn).order_by(Subscriber.msisdn).limit(1))
        wanted = [("demo-admin", "admin", None), ("demo-analyst", "analyst", None), ("demo-agent", "agent", None),
                  ("demo-fraud", "fraud_analyst", None), ("demo-subscriber", "subscriber", msisdn)]
        for username, role, number in wanted:
            password = secrets.token_urlsafe(12)
            conn.execute(users_t.delete().where(users_t.c.username == username))
            create_user(conn, username, password, role, msisdn=number)
            lines.append(f"{username}\t{role}\t{password}" + (f"\t{number}" if number else ""))
    path = settings.home / "demo-logins.txt"
    path.write_text("username\trole\tpassword\tline\n" + "\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    ctx.facts["logins"] = str(path)
    return {"logins": len(lines), "written to": str(path)}


STAGES: list[tuple[str, Stage]] = [
    ("synthesise", _synth),
    ("load + mediation", _load),
    ("rate", _rate),
    ("bill", _bill),
    ("charge assurance", _assure),
    ("fraud detection", _fraud),
    ("plan advice", _advise),
    ("care + KPIs", _care),
    ("console logins", _logins),
]


def run_demo(ctx: DemoContext) -> list[StageResult]:
    results: list[StageResult] = []
    for name, stage in STAGES:
        ctx.report.note(f"== {name}")
        t0 = time.perf_counter()
        try:
            figures = stage(ctx)
            results.append(StageResult(name, "done", time.perf_counter() - t0, figures))
        except NotAvailableError as exc:
            results.append(StageResult(name, "not available", time.perf_counter() - t0, {}, str(exc)))
    return results


def _check_clock(fapp: Any) -> None:
    """Refuse, before synthesising anything, settings on another clock or in another country than the demo operator's
    catalog (which the load would refuse once the operator is written) or the home's current one
    (``Settings.clock_mismatch``, ``Settings.country_mismatch``)."""
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.cli._home import home_catalog
    from fairtel.core.errors import ConfigError

    fapp.settings.check_clock(load_catalog(default_catalog_path()).operator.timezone)
    current = home_catalog(fapp, None, [], checking=True)
    fapp.settings.check_clock(current.operator.timezone)
    for country in (load_catalog(default_catalog_path()).home_country, current.home_country):
        if (why := fapp.settings.country_mismatch(country)) is not None:  # the load would refuse it too
            raise ConfigError(why, details={"catalog_country": country, "country": fapp.settings.home_country})


def _figures_text(figures: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in figures.items())


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        subscribers: Annotated[int, typer.Option(min=10, help="Synthetic subscribers.")] = 2000,
        days: Annotated[int, typer.Option(min=1, max=120, help="Days of traffic from 2026-09-01.")] = 30,
        seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same operator.")] = 7,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
        serve: Annotated[bool, typer.Option("--serve", help="Keep serving the console after the summary (Ctrl-C stops).")] = False,
    ) -> None:
        """Synthesise an operator, take it through every stage that exists, print a summary."""
        t0 = time.perf_counter()
        try:
            fapp = app_for(ctx, home)
            _check_clock(fapp)
            operator_dir = fapp.settings.home / "demo-operator"
            with reporter(quiet=as_json) as rep:
                dctx = DemoContext(fapp, operator_dir, subscribers, days, seed, rep)
                results = run_demo(dctx)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        total = time.perf_counter() - t0
        home_dir = fapp.settings.home.resolve()
        url = f"http://{fapp.settings.api_host}:{fapp.settings.api_port}"
        serve_ready = _serve_available()
        if as_json:
            print_json({"home": str(home_dir), "operator_dir": str(operator_dir.resolve()), "seconds": round(total, 1),
                        "stages": [r.to_dict() for r in results], "console": url if serve_ready else None})
            return
        console.print(table(
            f"fairtel demo: {subscribers} subscribers x {days} days, seed {seed}",
            ["stage", "status", "time", "figures"],
            [[r.stage, r.status, f"{r.seconds:.1f} s", _figures_text(r.figures) or r.note] for r in results],
        ))
        console.print(f"done in {total:.1f} s. Home: {home_dir}  Operator directory: {operator_dir.resolve()}")
        console.print(f"Next: `fairtel --home {home_dir} assure` (findings), `fairtel --home {home_dir} catalog show`, "
                      f"`fairtel --home {home_dir} ingest FILE --json`")
        logins = dctx.facts.get("logins")
        if serve_ready:
            console.print(f"Console: {url}  (logins and passwords: {logins}; start it with "
                          f"`fairtel --home {home_dir} serve`{'; loading it now' if serve else ''})")
        else:
            console.print("Console: not available in this installation (`fairtel serve` needs fairtel.api)")
        if serve and serve_ready:
            import uvicorn

            from fairtel.api import ApiOptions
            from fairtel.cli._serve import announce_when_serving, say
            from fairtel.web import create_console

            web = create_console(fapp.settings, options=ApiOptions(), app=fapp, progress=say)
            host, port = fapp.settings.api_host, fapp.settings.api_port
            stop = threading.Event()
            threading.Thread(target=announce_when_serving, daemon=True, name="fairtel-ready",
                             args=(host, port, stop, lambda: say(f"fairtel console ready at {url}"))).start()
            try:
                uvicorn.run(web, host=host, port=port, access_log=False,
                            log_level=fapp.settings.log_level.lower(), proxy_headers=False)
            finally:
                stop.set()


def _serve_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("fairtel.api") is not None and _has_app_factory()


def _has_app_factory() -> bool:
    try:
        from fairtel import api
    except ImportError:
        return False
    return hasattr(api, "create_app")
