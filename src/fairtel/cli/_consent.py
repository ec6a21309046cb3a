"""`fairtel consent`: check consent event files and show subscriptions' states from them.

``consent state`` shows each subscription's number in clear: it records that in the home's access audit
(``subscription.list``, one row per subscriber shown, as the API records a list) before it shows anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, table
from fairtel.consent import ConsentLedger, ConsentPolicy, project_subscriptions, read_consent_events, state_expr
from fairtel.core.errors import FairtelError
from fairtel.core.time import parse_rfc3339, utc_now


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The VAS consent ledger: check event files, show subscription states.", no_args_is_help=True)

    @group.command("check")
    def check(
        files: Annotated[list[Path], typer.Argument(help="Consent event files (JSON Lines).")],
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Validate consent events: every bad line with its file, line and field. Exit 1 if any."""
        batch = read_consent_events(files)
        ledger = ConsentLedger()
        result = ledger.append(batch)
        problems = [*batch.problems, *result.rejected]
        if as_json:
            print_json({"read": batch.read, "accepted": result.added, "duplicates": result.duplicates,
                        "problems": [str(p) for p in problems]})
        else:
            for p in problems:
                # a problem names its field as "[field]": text, not console markup
                err_console.print(str(p), markup=False, highlight=False, soft_wrap=True)
            console.print(f"{batch.read} read, {result.added} accepted, {result.duplicates} duplicate(s), {len(problems)} problem(s)")
        if problems:
            raise typer.Exit(1)

    @group.command("state")
    def state(
        ctx: typer.Context,
        files: Annotated[list[Path], typer.Argument(help="Consent event files (JSON Lines).")],
        msisdn: Annotated[str | None, typer.Option("--msisdn", help="Only this subscriber.")] = None,
        at: Annotated[str | None, typer.Option("--at", help="RFC 3339 instant (default: now).")] = None,
        confirm_window_h: Annotated[float, typer.Option("--confirm-window-h")] = 24.0,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home whose access audit records what is "
                                                                  "shown (default: FAIRTEL_HOME or ./var).")] = None,
    ) -> None:
        """Each subscription's state at an instant, with its confirmation and chargeable interval (numbers in
        clear: recorded in the home's access audit)."""
        from fairtel.cli._audit import audit_shown, plural

        try:
            instant: datetime = parse_rfc3339(at) if at else utc_now()
            policy = ConsentPolicy(confirm_window=timedelta(hours=confirm_window_h))
            ledger = ConsentLedger()
            ledger.append(read_consent_events(files))
            subs = project_subscriptions(ledger.events, policy=policy)
            if msisdn:
                subs = subs.filter(pl.col("msisdn") == msisdn)
            lit = pl.lit(instant).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            view = subs.with_columns(state_expr(lit, policy=policy).alias("state")).select(
                "subscription_id", "msisdn", "offer_id", "state", "confirmation", "ordered_at", "confirmed_at", "ended_at",
                "end_reason"
            )
            if view.height:  # the numbers shown, recorded before anything is
                with app_for(ctx, home) as fapp:
                    audit_shown(ctx, fapp, action="subscription.list", subjects=view.get_column("msisdn").to_list(),
                                what=plural(view.height, "subscription"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"at": instant.isoformat(), "subscriptions": view.to_dicts()})
        else:
            console.print(table(f"Subscriptions at {instant.isoformat()}", list(view.columns), [list(r) for r in view.iter_rows()]))

    app.add_typer(group, name="consent")
