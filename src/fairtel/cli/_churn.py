"""`fairtel churn`: the churn model on any labelled customer CSV (train, evaluate, cv); `fairtel advise`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fairtel.cli import _insight
from fairtel.cli._tabular import register_tabular

if TYPE_CHECKING:
    from fairtel.learn import TabularModel


def _train(*args: Any, **kwargs: Any) -> TabularModel:
    from fairtel.insight import train_churn_model

    return train_churn_model(*args, **kwargs)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Churn early warning.", no_args_is_help=True)
    register_tabular(sub, task="churn", trainer=_train, headline=["roc_auc", "pr_auc", "top_decile_lift"])
    # On the operator's own data: `warn` (also as `score`) and `retention`; and `fairtel advise`.
    _insight.register(app, churn=sub)
    sub.command("score", help="Score the operator's own subscribers (the same as `churn warn`).")(_insight.warn_command)
    app.add_typer(sub, name="churn")
