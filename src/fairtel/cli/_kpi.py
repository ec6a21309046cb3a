"""``fairtel kpi``: the month's service indicators (gathered in ``_care``, computed by ``fairtel.kpi``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import fail, print_json
from fairtel.core.errors import FairtelError


def register(app: typer.Typer) -> None:
    @app.command("kpi")
    def kpi(
        ctx: typer.Context,
        period: Annotated[str | None, typer.Option("--period", help="YYYY-MM (default: this month).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the indicators as JSON.")] = False,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")] = None,
    ) -> None:
        """Service KPIs: complaints per million, SLA, NPS, assistant recognition and containment, refunds."""
        from fairtel.cli._care import gather_kpis, print_kpis

        try:
            report = gather_kpis(app_for(ctx, home), period)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(report.to_dict())
        else:
            print_kpis(report)
