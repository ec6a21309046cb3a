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


def home_marketing_refusals(app: App) -> set[str]:
    """The home's lines whose subscriber refuses marketing based on automated profiling now (PIPL Art. 24): the
    latest say of each line in ``marketing_preferences``, recorded by the subscriber or an agent for them."""
    from fairtel.api._marketing import opted_out_lines

    with app.db.connect() as conn:
        return opted_out_lines(conn)


def without_refusals(retention: pl.DataFrame, refused: set[str]) -> tuple[pl.DataFrame, int]:
    """The rows of a retention list (its ``msisdn`` column) whose line does not refuse marketing, in their order and
    with their ranks (a line left out leaves a gap), and how many rows were left out: no offer goes to them."""
    if not refused or "msisdn" not in retention.columns or retention.height == 0:
        return retention, 0
    kept = retention.filter(~pl.col("msisdn").cast(pl.String).is_in(sorted(refused)))
    return kept, retention.height - kept.height


def refusals_note(n: int) -> str:
    """What a retention list left out for refusals, in both languages (empty when none)."""
    if not n:
        return ""
    lines = "1 line" if n == 1 else f"{n} lines"
    return (f"left out for refusing marketing / 拒绝营销未列入: {lines} ({n} 个号码): no offer goes to them; "
            f"the churn scores still count them")


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
