"""`train`, `evaluate` and `cv` on any labelled CSV: shared by `fairtel fraud` and `fairtel churn`.

LightGBM and scikit-learn load only when one of these commands runs, so that every other command starts fast.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, InvalidInputError, Problem

if TYPE_CHECKING:
    import polars as pl

    from fairtel.learn import TabularModel

Trainer = Callable[..., "TabularModel"]


class Calibration(StrEnum):
    PLATT = "platt"
    ISOTONIC = "isotonic"
    NONE = "none"

DataOpt = Annotated[Path, typer.Option("--data", help="Labelled CSV, one row per subscriber/line.", exists=False)]
LabelOpt = Annotated[str, typer.Option("--label", help="Label column (1/0, yes/no, true/false, churn/stayed...).")]
IdOpt = Annotated[str | None, typer.Option("--id", help="Id column (kept out of the features, used in --scores).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", help="Column left out of the features (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of folds and trees.")]
CalOpt = Annotated[Calibration, typer.Option("--calibration", help="Probability calibration on out-of-fold scores.")]
LinearOpt = Annotated[bool, typer.Option("--linear/--no-linear", help="Blend a logistic regression with the trees when it helps out of fold.")]


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: undefined metrics (one class only) become null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _metric_row(name: str, value: Any) -> list[Any]:
    return [name, f"{value:.4f}" if isinstance(value, float) else value]


def _warn(warnings: Iterable[str]) -> None:
    """Warnings go to stderr in every mode (with --json they are in the document too)."""
    for w in warnings:
        err_console.print(f"warning: {w}", style="yellow", highlight=False)


def register_tabular(sub: typer.Typer, *, task: str, trainer: Trainer, headline: Iterable[str],
                     keys: Iterable[str] = ()) -> None:
    """Add `train`, `evaluate` and `cv` to a command group; ``headline`` are the metrics shown first. ``keys``:
    columns of the task's own exports that are never features (the trainer leaves them out; so does `cv`)."""
    shown = list(headline)
    never = tuple(keys)

    @sub.command("train")
    def train(
        data: DataOpt,
        label: LabelOpt,
        model: Annotated[Path, typer.Option("--model", help="Directory to write the model to.")],
        id_column: IdOpt = None,
        exclude: ExcludeOpt = None,
        seed: SeedOpt = 0,
        folds: Annotated[int, typer.Option("--folds", min=2, help="Internal folds for trees, calibration and threshold.")] = 5,
        calibration: CalOpt = Calibration.PLATT,
        linear: LinearOpt = True,
        as_json: JsonOpt = False,
    ) -> None:
        """Train a calibrated model on a labelled CSV and save it (LightGBM text + JSON metadata)."""
        from fairtel.learn import CalibrationKind, TrainOptions, read_table

        try:
            frame = read_table(data)
            opts = TrainOptions(folds=folds, seed=seed, calibration=CalibrationKind(calibration.value), blend_linear=linear)
            with reporter(quiet=as_json) as rep:
                m = trainer(frame, label=label, id_column=id_column, exclude=exclude or [], options=opts,
                            source=str(data), progress=rep)
            out = m.save(model)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        result = {
            "model": str(out),
            "task": task,
            "rows": m.meta["rows"],
            "positives": m.meta["positives"],
            "positive_label": m.spec.positive,
            "features": len(m.spec.columns),
            "dropped": m.spec.dropped,
            "n_rounds": m.n_rounds,
            "blend_weight": m.blend_weight,
            "threshold": m.threshold,
            "out_of_fold": _clean(m.meta["out_of_fold"]),
            "warnings": m.warnings,
        }
        _warn(m.warnings)
        if as_json:
            print_json(result)
            return
        oof = result["out_of_fold"]
        console.print(f"model saved to {out} ({result['rows']} rows, {result['positives']} positive "
                      f"= {m.spec.label} {m.spec.positive!r}; {result['features']} features)")
        for col, why in m.spec.dropped.items():
            console.print(f"  left out {col}: {why}", highlight=False)
        console.print(table("out-of-fold quality (training rows)", ["metric", "value"],
                            [_metric_row(k, oof[k]) for k in [*shown, "f1", "precision", "recall", "threshold"]
                             if k in oof]))

    @sub.command("evaluate")
    def evaluate(
        data: DataOpt,
        model: Annotated[Path | None, typer.Option("--model", help="Model directory written by `train`.")] = None,
        label: Annotated[str | None, typer.Option("--label", help="Label column (default: the one the model was trained on).")] = None,
        id_column: IdOpt = None,
        exclude: Annotated[list[str] | None, typer.Option("--exclude", help="With --cv: column left out of the features (repeatable).")] = None,
        scores: Annotated[Path | None, typer.Option("--scores", help="Write id, probability, flagged and reasons (en, zh) to this CSV.")] = None,
        top: Annotated[int, typer.Option("--top", min=1, help="Reasons per row in --scores.")] = 3,
        cv: Annotated[int | None, typer.Option("--cv", min=2, help="Instead of a saved model: repeated stratified CV with N folds on the data.")] = None,
        repeats: Annotated[int, typer.Option("--repeats", min=1, help="Repeats of --cv.")] = 3,
        seed: SeedOpt = 0,
        allow_training_data: Annotated[bool, typer.Option(
            "--allow-training-data",
            help="Score the rows the model was trained on anyway (refused otherwise: their figures overstate "
                 "its quality); the result says so.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Score a labelled CSV with a saved model and print ROC-AUC, PR-AUC, F1, precision, recall, lift.

        The model's own training table is refused (recognised by the hash of the table and of its rows stored
        with the model): a model scores the rows it learned from far better than new ones."""
        if cv is not None:
            if label is None:
                raise fail(InvalidInputError([Problem(str(data), None, "--label", "--cv needs --label")]), as_json=as_json)
            _run_cv(data, label, id_column, exclude or [], cv, repeats, seed, shown, as_json, never)
            return
        if model is None:
            raise fail(InvalidInputError([Problem(str(data), None, "--model", "give --model, or --cv N to cross-validate")]),
                       as_json=as_json)
        from fairtel.learn import load_model, read_table

        source = str(data)
        warnings: list[str] = []
        try:
            m = load_model(model)
            frame = read_table(data)
            label_col, id_col = _evaluation_columns(frame, m, label, id_column, source)
            overlap = m.evaluation_overlap(frame, source=source, label=label_col, id_column=id_col)
            if overlap.refused:
                oof = m.meta.get("out_of_fold") or {}
                honest = ", ".join(f"{k} {oof[k]:.3f}" for k in ("roc_auc", "f1") if isinstance(oof.get(k), float))
                said = (f"{overlap.message}: a model scores the rows it was trained on far better than new ones, so these "
                        f"figures overstate its quality" + (f" (its out-of-fold figures on them: {honest})" if honest else ""))
                if not allow_training_data:
                    raise InvalidInputError([Problem(source, None, "--data", f"{said}. Evaluate on rows the model has not "
                                                     "seen (or see `train`'s out-of-fold figures, or `cv`); "
                                                     "--allow-training-data scores them anyway")], what=source)
                warnings.append(f"evaluated on training data: {said}")
            elif overlap.warning:
                warnings.append(overlap.warning)
            metrics = m.evaluate(frame, source=source, label=label_col)
            if scores is not None:
                _write_scores(scores, m, frame, top, id_col, source)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        result: dict[str, Any] = _clean(metrics.to_dict()) | {"evaluated_on_training_data": overlap.overlapping > 0,
                                                              "training_overlap": overlap.to_dict(), "warnings": warnings}
        _warn(warnings)
        if as_json:
            print_json(result)
            return
        title = f"{task} model on {data}" + (" (its training data: not a measure of quality)" if overlap.refused else
                                             f" ({overlap.share:.1%} of it training data)" if overlap.overlapping else "")
        console.print(table(title, ["metric", "value"],
                            [_metric_row(k, result[k]) for k in [*shown, "f1", "precision", "recall", "threshold", "n", "positives"]
                             if k in result]))
        if scores is not None:
            console.print(f"scores and reasons written to {scores}")

    @sub.command("cv")
    def cv_command(
        data: DataOpt,
        label: LabelOpt,
        id_column: IdOpt = None,
        exclude: ExcludeOpt = None,
        folds: Annotated[int, typer.Option("--folds", min=2)] = 5,
        repeats: Annotated[int, typer.Option("--repeats", min=1)] = 3,
        seed: SeedOpt = 0,
        as_json: JsonOpt = False,
    ) -> None:
        """Repeated stratified cross-validation of the whole training procedure: mean ± sd of each metric."""
        _run_cv(data, label, id_column, exclude or [], folds, repeats, seed, shown, as_json, never)


def _run_cv(data: Path, label: str, id_column: str | None, exclude: list[str], folds: int, repeats: int, seed: int,
            shown: list[str], as_json: bool, never: tuple[str, ...] = ()) -> None:
    """Cross-validates the shared training procedure (a phrasebook changes words, not scores)."""
    from fairtel.learn import Progress, cross_validate, read_table

    try:
        frame = read_table(data)
        exclude = [*exclude, *(k for k in never if k in frame.columns and k not in (label, id_column, *exclude))]
        with reporter(quiet=as_json) as rep:
            progress: Progress = rep
            res = cross_validate(frame, label=label, id_column=id_column, exclude=exclude, folds=folds,
                                 repeats=repeats, seed=seed, source=str(data), progress=progress)
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    doc = res.to_dict()
    _warn(res.warnings)
    if as_json:
        print_json({k: (_clean(v) if isinstance(v, dict) else v) for k, v in doc.items() if k != "runs"}
                   | {"runs": [_clean(r) for r in doc["runs"]]})
        return
    s = res.summary
    console.print(table(f"{repeats}x{folds}-fold stratified CV on {data}", ["metric", "mean ± sd"],
                        [[k, str(s[k])] for k in [*shown, "f1", "precision", "recall"] if k in s]))


def _evaluation_columns(frame: pl.DataFrame, m: TabularModel, label: str | None, id_column: str | None,
                        source: str) -> tuple[str | None, str | None]:
    """The columns `evaluate` reads, as the file names them: the label when it is not the model's own (None:
    the model's), and the id. A name that matches no column, or the id naming the label, is an error that
    names the column given and lists those there are."""
    from fairtel.learn import resolve_column

    label_col = resolve_column(frame, label, source, "label") if label else None
    if label_col == m.spec.label:
        label_col = None
    if label_col is None and m.spec.label not in frame.columns:
        raise InvalidInputError([Problem(source, 1, m.spec.label, f"label column the model was trained on not found (give "
                                         f"--label COLUMN); columns: {', '.join(frame.columns)}")], what=source)
    id_col = resolve_column(frame, id_column, source, "id") if id_column else None
    if id_col is not None and id_col == (label_col or m.spec.label):
        raise InvalidInputError([Problem(source, 1, id_column, f"the id column is the label column {id_col!r}; the id "
                                         "must be another column")], what=source)
    return label_col, id_col


def _write_scores(path: Path, m: TabularModel, frame: pl.DataFrame, top: int, id_column: str | None, source: str) -> None:
    """``id_column``: the file's own id column (checked to exist); else the model's id column when the file has
    it; else the row's position, under the header ``row``."""
    import polars as pl

    scored = m.score(frame, top=top, source=source)
    own_id = id_column or (m.spec.id_column if m.spec.id_column and m.spec.id_column in frame.columns else None)
    ids = frame.get_column(own_id).cast(pl.Utf8).to_list() if own_id else [str(i) for i in range(frame.height)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([own_id or "row", "probability", "flagged", "reasons_en", "reasons_zh"])
        for i, s in zip(ids, scored, strict=True):
            w.writerow([i, f"{s.probability:.6f}", int(s.flagged), "; ".join(r.en for r in s.reasons),
                        "；".join(r.zh for r in s.reasons)])
    tmp.replace(path)
