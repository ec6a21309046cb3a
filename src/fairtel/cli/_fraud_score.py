"""`fairtel fraud features | score`: the supervised model on the home's own usage.

``features`` exports one row per line and period (the features ``fraud detect`` computes) with the outcome of
its cases as the ``fraud`` label, for ``fraud train``; ``score`` applies a trained model to the features and
opens ``model`` cases in the same queue as the rule detectors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.table import Table

from fairtel.cli._audit import audit_shown, plural
from fairtel.cli._context import app_for
from fairtel.cli._fraud_detect import (
    ROWS_PER_CHUNK,
    _catalog,
    _exempt,
    _periods,
    _subscribers,
    case_key,
    load_queue,
    sync_db,
)
from fairtel.cli._ui import console, fail, print_json, reporter
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import utc_now
from fairtel.fraud import FeatureConfig, compute_features

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog
    from fairtel.fraud import FraudCase, LineScore

HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")]
PeriodOpt = Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM (repeatable; default: every period in the lake).")]
CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Catalog with the zones (default: the stored one, or the default).")]
ChunksOpt = Annotated[int | None, typer.Option("--chunks", min=1, help="Feature passes per period (default: one per 8 M records).")]


def period_tables(app: App, keys: list[str], catalog: Catalog, chunks: int | None, *, quiet: bool) -> dict[str, pl.DataFrame]:
    """``feature_table`` of each period with usage (periods without usage are left out)."""
    from fairtel.fraud._score import feature_table

    subscribers = _subscribers(app)
    config = FeatureConfig(tz=app.settings.timezone)
    out: dict[str, pl.DataFrame] = {}
    with reporter(quiet=quiet) as rep:
        for key in keys:
            parts = app.lake.files("usage", periods=[key])
            if parts:
                usage = pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore")
                records = int(usage.select(pl.len()).collect().item())
                n = chunks or max(1, math.ceil(records / ROWS_PER_CHUNK))
                rep.note(f"{key}: {records:,} usage records, {n} chunk(s)")
                features = compute_features(usage, catalog=catalog, subscribers=subscribers, config=config, chunks=n)
                out[key] = feature_table(features.lines, period=key)
            rep.step("periods", total=len(keys))
    return out


def _keys(app: App, period: list[str] | None) -> list[str]:
    keys = _periods(app, period)
    if not keys:
        raise NotFoundError(f"no usage in {app.settings.lake_dir / 'usage'}; run `fairtel load` or `fairtel ingest` first")
    return keys


def register(fraud_app: typer.Typer) -> None:
    @fraud_app.command("features")
    def features_cmd(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option("--out", help="CSV to write: msisdn, period, the features, and the label `fraud`.")],
        home: HomeOpt = None,
        period: PeriodOpt = None,
        catalog_path: CatalogOpt = None,
        unreviewed: Annotated[str, typer.Option("--unreviewed", help="Label of lines without any case: 0 (presumed normal) or blank (unknown).")] = "0",
        chunks: ChunksOpt = None,
        pseudonymise: Annotated[bool, typer.Option(
            "--pseudonymise", help="Name each line by its keyed pseudonym (column `pseudonym`, as the API shows it to "
                                   "analysts) instead of its number: a model needs a key to group by, not the number.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
    ) -> None:
        """Export per-line features with case outcomes as the label (1 confirmed, 0 false alarm, blank open),
        to train the fraud model on the operator's own cases: `fairtel fraud train --data OUT --label fraud --id msisdn`
        (`--id pseudonym` with `--pseudonymise`)."""
        from fairtel.fraud import holding_starts
        from fairtel.fraud._score import LABEL_COLUMN, label_from_cases

        try:
            if unreviewed not in {"0", "blank"}:
                raise InvalidInputError([Problem("--unreviewed", None, "unreviewed", "must be 0 or blank")], what="fraud features")
            app = app_for(ctx, home)
            with app:
                keys = _keys(app, period)
                tables = period_tables(app, keys, _catalog(app, catalog_path, None), chunks, quiet=as_json)
                _, queue = load_queue(app)  # the decisions taken through the API included: they are labels
                if not tables:
                    raise NotFoundError(f"no usage in the periods {', '.join(keys)}")
                frame = pl.concat(list(tables.values()), how="diagonal_relaxed")
                # a case of an earlier holder of a number labels nothing of its current holder's
                # (or of the previous customer, before an owner change)
                frame = label_from_cases(frame, queue, unreviewed=0 if unreviewed == "0" else None,
                                         holding_from=holding_starts(_subscribers(app)))
                # the export names every line by its number (or its pseudonym): recorded before it is written
                audit_shown(ctx, app, action="fraud_features.export", subjects=frame.get_column("msisdn").unique().to_list(),
                            what=f"{plural(frame.height, 'row')} of line features"
                                 + (" (pseudonymised)" if pseudonymise else ""), to=out)
                if pseudonymise:
                    from fairtel.privacy import Pseudonymizer

                    name = Pseudonymizer(app.settings.secret_key.get_secret_value(), domain="msisdn")
                    frame = frame.with_columns(pl.col("msisdn").map_elements(name, return_dtype=pl.String).alias("msisdn"))
                    frame = frame.rename({"msisdn": "pseudonym"})
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            frame.write_csv(tmp)
            tmp.replace(out)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        label = frame.get_column(LABEL_COLUMN)
        summary = {"out": str(out), "rows": frame.height, "periods": list(tables), "features": frame.width - 3,
                   "pseudonymised": pseudonymise,
                   "fraud": int((label == 1).sum()), "normal": int((label == 0).sum()), "unknown": label.null_count()}
        if as_json:
            print_json(summary)
            return
        console.print(f"{summary['rows']} lines × {summary['features']} features written to {out}: "
                      f"{summary['fraud']} confirmed fraud, {summary['normal']} normal, {summary['unknown']} not yet known")

    @fraud_app.command("score")
    def score_cmd(
        ctx: typer.Context,
        model: Annotated[Path, typer.Option("--model", help="Model directory written by `fairtel fraud train` on a `fraud features` export.")],
        home: HomeOpt = None,
        period: PeriodOpt = None,
        threshold: Annotated[float | None, typer.Option("--threshold", min=0.0, max=1.0, help="Open a case at or above this probability (default: the model's own F1 threshold).")] = None,
        top: Annotated[int, typer.Option("--top", min=1, help="Reasons per line.")] = 3,
        exempt: Annotated[list[str] | None, typer.Option("--exempt", help="A number, or a file of numbers, that never opens a case (repeatable).")] = None,
        catalog_path: CatalogOpt = None,
        chunks: ChunksOpt = None,
        show_all: Annotated[bool, typer.Option("--all", help="List every line's probability, not only the flagged ones.")] = False,
        limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table (JSON lists all).")] = 20,
        language: Annotated[str, typer.Option("--language", help="Language of the reasons in the table: en or zh.")] = "en",
        as_json: Annotated[bool, typer.Option("--json", help="Print the scores and cases as JSON.")] = False,
    ) -> None:
        """Score every line of the home's usage with a trained model; lines above the threshold open `model` cases."""
        from fairtel.fraud._score import score_lines
        from fairtel.learn import load_model

        try:
            m = load_model(model)
            app = app_for(ctx, home)
            with app:
                keys = _keys(app, period)
                tables = period_tables(app, keys, _catalog(app, catalog_path, None), chunks, quiet=as_json)
                files, queue = load_queue(app)
                now = utc_now()
                no_case = _exempt(exempt or [])
                scores: list[LineScore] = []
                cases: list[FraudCase] = []
                for key, frame in tables.items():
                    line_scores, found = score_lines(m, frame, period=key, now=now, threshold=threshold, top=top,
                                                     exempt=no_case, explain_all=show_all, id_key=case_key(app))
                    scores += line_scores
                    cases += [queue.held(c) for c in found]
                merged = queue.merge(cases)
                files.save_cases(queue)
                sync_db(app, [queue.get(c.case_id) for c in cases])
                listed = scores if show_all else [s for s in scores if s.flagged]
                shown = listed if as_json else listed[:limit]
                numbers = [s.msisdn for s in shown]
                if as_json:  # the cases opened, with the numbers each names
                    numbers += [n for c in cases for n in (c.subject, *queue.get(c.case_id).related)]
                audit_shown(ctx, app, action="fraud_score.list", subjects=numbers, what=plural(len(shown), "scored line"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        cut = m.threshold if threshold is None else threshold
        if as_json:
            print_json({"threshold": cut, "periods": list(tables), "lines": len(scores), "flagged": len(cases),
                        "merge": merged.to_dict(), "cases": [queue.get(c.case_id).to_dict() for c in cases],
                        "scores": [s.to_dict() for s in listed]})
            return
        t = Table(title=f"Fraud model: {len(cases)} of {len(scores)} line(s) at or above {cut:.3f}")
        t.add_column("line", no_wrap=True)
        t.add_column("period")
        t.add_column("probability")
        t.add_column("why", overflow="fold")
        for s in listed[:limit]:
            why = ("；" if language == "zh" else "; ").join(r.zh if language == "zh" else r.en for r in s.reasons)
            t.add_row(s.msisdn, s.period, f"{s.probability:.3f}", why)
        console.print(t)
        mr = merged.to_dict()
        console.print(f"{mr['added']} new model case(s), {mr['refreshed']} refreshed, {mr['kept']} already decided; "
                      "see `fairtel fraud cases --detector model`")
