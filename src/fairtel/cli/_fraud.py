"""`fairtel fraud`: the supervised fraud model on any labelled per-user CSV (train, evaluate, cv)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fairtel.cli import _fraud_detect
from fairtel.cli._tabular import register_tabular
from fairtel.cli._ui import stub_command

if TYPE_CHECKING:
    from fairtel.learn import TabularModel


def _train(*args: Any, **kwargs: Any) -> TabularModel:
    from fairtel.fraud import train_fraud_model

    return train_fraud_model(*args, **kwargs)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Fraud and abnormal-user detection (issue #6).", no_args_is_help=True)
    register_tabular(sub, task="fraud", trainer=_train, headline=["roc_auc", "pr_auc"])
    stub_command(sub, "score", 6, "scoring the operator's own usage")
    _fraud_detect.register(sub)
    app.add_typer(sub, name="fraud")
