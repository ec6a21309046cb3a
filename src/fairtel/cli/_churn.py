"""`fairtel churn`: the churn model on any labelled customer CSV (train, evaluate, cv); `fairtel advise`."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import polars as pl
import typer

from fairtel.cli import _insight
from fairtel.cli._tabular import register_tabular

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.learn import TabularModel

# The columns ``insight.ChurnData.status_history`` takes.
STATUS_HISTORY_SCHEMA = {"msisdn": pl.String(), "status": pl.String(), "since": pl.Datetime("us", "UTC"),
                         "entry_id": pl.Int64()}


def home_status_history(app: App) -> pl.DataFrame:
    """Every change of a line's status the home's register recorded (``line_status_history``: msisdn, status,
    since, entry_id), for ``ChurnData.status_history``: the churn warning judges a line's status as it stood at
    the end of the scored period, not as the register says it is now."""
    from sqlalchemy import select

    from fairtel.store import LineStatusHistory as H

    with app.db.connect() as conn:
        rows = conn.execute(select(H.msisdn, H.status, H.since, H.entry_id).order_by(H.msisdn, H.since, H.entry_id)).all()
    return pl.DataFrame(
        {"msisdn": [r[0] for r in rows], "status": [r[1] for r in rows],
         "since": [r[2] if r[2].tzinfo else r[2].replace(tzinfo=UTC) for r in rows], "entry_id": [r[3] for r in rows]},
        schema=STATUS_HISTORY_SCHEMA,
    )


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
