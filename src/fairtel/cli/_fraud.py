"""`fairtel fraud`: the supervised fraud model on any labelled per-user CSV (train, evaluate, cv), the same
model on the home's own usage (features, score), and the rule detectors with their case queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fairtel.cli import _fraud_detect, _fraud_score
from fairtel.cli._tabular import register_tabular

if TYPE_CHECKING:
    from fairtel.learn import TabularModel


def _train(*args: Any, **kwargs: Any) -> TabularModel:
    from fairtel.fraud import train_fraud_model

    return train_fraud_model(*args, **kwargs)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Fraud and abnormal-user detection.", no_args_is_help=True)
    register_tabular(sub, task="fraud", trainer=_train, headline=["roc_auc", "pr_auc"], keys=["period", "msisdn"])
    _fraud_score.register(sub)
    _fraud_detect.register(sub)
    app.add_typer(sub, name="fraud")
