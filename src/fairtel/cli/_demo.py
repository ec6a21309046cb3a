"""`fairtel demo`: a synthetic operator taken through every stage that exists, then a summary.

Each stage is a function from the demo context to a few figures. A stage whose capability has not landed
raises ``NotAvailableError`` and the summary says which issue brings it; a stage that fails stops the demo
with its error, because a demo that hides a failure teaches the wrong thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import Reporter, console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, NotAvailableError

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
    from fairtel.cli._rating import _catalog, rate_period
    from fairtel.core.time import Period

    app = ctx.app
    catalog = _catalog(app, None, [])
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
    }


def _assure(ctx: DemoContext) -> dict[str, Any]:
    from collections import Counter

    from fairtel.assurance import AssurancePolicy, assure, rank_merchants, suspension_list  # noqa: F401
    from fairtel.cli._assure import _from_home, _write_findings
    from fairtel.core.time import utc_now

    settings = ctx.app.settings
    inputs = _from_home(settings.home, settings.lake_dir, catalog=None, fapp=ctx.app)
    run = assure(usage=inputs.usage, offers=inputs.offers, events=inputs.ledger.events, rated=inputs.rated,
                 policy=AssurancePolicy(tz=settings.timezone), now=utc_now())
    written = _write_findings(settings.lake_dir, run.findings, settings.timezone) if run.findings else 0
    counts = Counter(f.kind.value for f in run.findings)
    verdicts = Counter(run.gated["verdict"].to_list()) if run.gated.height else Counter()
    ctx.facts["assure"] = {"findings": dict(counts), "verdicts": dict(verdicts)}
    return {
        "VAS charges gated": run.gated.height,
        "billed (consented)": verdicts.get("consented", 0),
        "refused at the gate": run.gated.height - verdicts.get("consented", 0),
        "findings": written,
        "suspension advised": ", ".join(sorted(suspension_list(run.merchants))) or "none",
    }


def _later(issue: int, what: str) -> Stage:
    def stage(ctx: DemoContext) -> dict[str, Any]:
        raise NotAvailableError(f"{what} lands with issue #{issue}")

    return stage


STAGES: list[tuple[str, Stage]] = [
    ("synthesise", _synth),
    ("load + mediation", _load),
    ("rate + bill", _rate),
    ("charge assurance", _assure),
    ("fraud detection", _later(6, "fraud detection")),
    ("churn + plan advice", _later(7, "churn warning and plan advice")),
    ("care + KPIs", _later(8, "the assistant and service KPIs")),
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
    ) -> None:
        """Synthesise an operator, take it through every stage that exists, print a summary."""
        t0 = time.perf_counter()
        try:
            fapp = app_for(ctx, home)
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
        console.print(f"Next: `fairtel --home {home_dir} assure` (findings), `fairtel catalog show`, "
                      f"`fairtel --home {home_dir} ingest FILE --json`")
        if serve_ready:
            console.print(f"Console: run `fairtel --home {home_dir} serve`, then open {url}")
        else:
            console.print(f"Console: {url} once `fairtel serve` lands (issue #9)")


def _serve_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("fairtel.api") is not None and _has_app_factory()


def _has_app_factory() -> bool:
    try:
        from fairtel import api
    except ImportError:
        return False
    return hasattr(api, "create_app")
