"""``fairtel synth``: write a synthetic operator directory with ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from fairtel.cli._ui import console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def synth(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (created; must be empty or a previous synth output).")],
    subscribers: Annotated[int, typer.Option("--subscribers", min=1, help="Number of subscriber lines.")] = 2000,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of usage.")] = 30,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed: the same arguments give the same bytes.")] = 1,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD (default 2026-09-01).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes generating usage (default 2).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Write an operator directory: catalog, subscribers, consent events, usage files in several formats,
    complaints and the ground truth of every injected case (docs/formats.md)."""
    from fairtel.synth import synthesize

    first = _date(start) if start else None
    try:
        with reporter(quiet=as_json) as rep:
            summary = synthesize(out, subscribers=subscribers, days=days, seed=seed, start=first, report=rep,
                                 workers=workers)
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    if as_json:
        print_json(summary.to_dict())
        return
    rate = summary.usage_records / summary.elapsed_s if summary.elapsed_s else 0.0
    console.print(
        f"{summary.out_dir}: {summary.subscribers:,} subscribers, {summary.days} days from {summary.start}, "
        f"{summary.usage_records:,} usage records in {summary.usage_files} files "
        f"({summary.elapsed_s:.1f} s, {rate:,.0f} records/s)",
        highlight=False, soft_wrap=True,
    )
    console.print(table("usage records by format", ["format", "records"],
                        [[k, f"{v:,}"] for k, v in summary.records_by_format.items()]))
    console.print(table("ground truth (truth/*.jsonl)", ["kind", "lines"],
                        [[k, f"{v:,}"] for k, v in summary.truth.items()]))
    console.print(
        f"injected: {summary.duplicates:,} duplicates, {summary.malformed:,} malformed lines, "
        f"{summary.partial_parts:,} partial records, {summary.gbk_records:,} records in a GBK file; "
        f"{summary.consent_events:,} consent events, {summary.complaints:,} complaints",
        highlight=False, soft_wrap=True,
    )
