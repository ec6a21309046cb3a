"""`fairtel churn`: the churn model on any labelled customer CSV (train, evaluate, cv); `fairtel advise`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fairtel.cli._tabular import register_tabular
from fairtel.cli._ui import stub_command

if TYPE_CHECKING:
    from fairtel.learn import TabularModel


def _train(*args: Any, **kwargs: Any) -> TabularModel:
    from fairtel.insight import train_churn_model

    return train_churn_model(*args, **kwargs)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Churn early warning (issue #7).", no_args_is_help=True)
    register_tabular(sub, task="churn", trainer=_train, headline=["roc_auc", "pr_auc", "top_decile_lift"])
    stub_command(sub, "score", 7, "churn scoring of the operator's own subscribers")
    stub_command(sub, "retention", 7, "the retention list")
    app.add_typer(sub, name="churn")
    stub_command(app, "advise", 7, "best-plan advice")
