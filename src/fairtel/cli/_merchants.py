"""`fairtel merchants suspend | lift | list`: a value-added provider's billing rights suspended durably.

`fairtel assure` ranks the providers most likely stealing fees (扣费) and advises whom to suspend; `--suspend`
suspends one for that run only. Suspended here, a provider stays suspended (who, when, why: ``merchant_suspensions``,
append-only) until lifted: rating's consent gate refuses every charge of it dated from the suspension on (not
billed; the subscriber's explanation says the provider was suspended), and `fairtel assure` reports each such charge
(a charge a bill took before the suspension was recorded is refunded as the other charge findings are).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, table
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import utc_now

if TYPE_CHECKING:
    from fairtel.bootstrap import App

_HOME = typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")


def catalog_providers(app: App, notes: list[str]) -> dict[str, list[str]]:
    """The providers of the home's current catalog's offers → their offer ids."""
    from fairtel.cli._home import home_catalog

    providers: dict[str, list[str]] = {}
    for offer in home_catalog(app, None, notes).offers:
        providers.setdefault(offer.provider, []).append(offer.id)
    return providers


def _actor(ctx: typer.Context) -> str:
    from fairtel.cli._audit import configured_actor, os_user

    return (configured_actor(ctx) or os_user())[:64]


def _unknown(provider: str, known: dict[str, list[str]]) -> NotFoundError:
    listed = ", ".join(sorted(known)) or "none"
    return NotFoundError(
        f"provider {provider!r} sells no offer in the home's catalog (its providers: {listed})",
        details={"provider_id": provider, "providers": sorted(known)},
    )


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Value-added providers (merchants): suspend a provider's billing rights, lift it, list them.",
        no_args_is_help=True,
    )

    @sub.command("suspend")
    def suspend_cmd(
        ctx: typer.Context,
        provider: Annotated[str, typer.Argument(help="The provider's id, as the catalog's offers name it.")],
        reason: Annotated[str, typer.Option("--reason", help="Why (kept with the suspension, e.g. the findings).")],
        home: Annotated[Path | None, _HOME] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Suspend a provider's billing rights from now on: its charges dated from now are refused by rating and
        reported by `fairtel assure`, until `fairtel merchants lift`."""
        from fairtel.cli._audit import audit_change
        from fairtel.store import merchant_suspensions, suspend_merchant

        notes: list[str] = []
        try:
            provider = provider.strip()
            if not reason.strip():
                raise InvalidInputError(
                    [Problem("--reason", None, "reason", "say why the provider is suspended")], what="options"
                )
            application = app_for(ctx, home)
            known = catalog_providers(application, notes)
            if provider not in known:
                raise _unknown(provider, known)
            with application.db.begin() as conn:
                made = suspend_merchant(conn, provider, at=utc_now(), actor=_actor(ctx), reason=reason)
                if made is not None:
                    audit_change(
                        ctx,
                        application,
                        conn,
                        action="merchant.suspend",
                        resource=f"merchant/{provider}",
                        reason=f"provider suspended: {reason.strip()}",
                    )
                    record = made
                else:
                    record = merchant_suspensions(conn, provider_id=provider, in_force=True)[0]
        except (FairtelError, ValueError) as exc:
            raise fail(exc if isinstance(exc, FairtelError) else _invalid(exc), as_json=as_json) from None
        if as_json:
            print_json(
                {
                    "suspended": made is not None,
                    "already_suspended": made is None,
                    "suspension": record.to_dict(),
                    "offers": known[provider],
                    "notes": notes,
                }
            )
            return
        for n in notes:
            err_console.print(f"note: {n}", markup=False, highlight=False)
        if made is None:
            console.print(
                f"{provider} is already suspended since {record.suspended_at.isoformat()} (by {record.suspended_by}: "
                f"{record.reason}); nothing changed",
                markup=False,
                highlight=False,
            )
            return
        console.print(
            f"{provider} suspended since {record.suspended_at.isoformat()} by {record.suspended_by}: its charges "
            f"dated from now on ({', '.join(known[provider])}) are refused by rating and reported by `fairtel "
            "assure`",
            markup=False,
            highlight=False,
        )

    @sub.command("lift")
    def lift_cmd(
        ctx: typer.Context,
        provider: Annotated[str, typer.Argument(help="The provider's id.")],
        reason: Annotated[str | None, typer.Option("--reason", help="Why the suspension ends.")] = None,
        home: Annotated[Path | None, _HOME] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Lift a provider's suspension from now on: its charges dated from now are billable again (those dated
        while it was suspended stay refused)."""
        from fairtel.cli._audit import audit_change
        from fairtel.store import lift_merchant, merchant_suspensions

        notes: list[str] = []
        try:
            provider = provider.strip()
            application = app_for(ctx, home)
            with application.db.begin() as conn:
                lifted = lift_merchant(conn, provider, at=utc_now(), actor=_actor(ctx), reason=reason)
                if lifted is not None:
                    audit_change(
                        ctx,
                        application,
                        conn,
                        action="merchant.lift",
                        resource=f"merchant/{provider}",
                        reason="provider suspension lifted"
                        + (f": {reason.strip()}" if reason and reason.strip() else ""),
                    )
                    ever = True
                else:
                    ever = bool(merchant_suspensions(conn, provider_id=provider))
            if lifted is None and not ever:
                known = catalog_providers(application, notes)
                if provider not in known:
                    raise _unknown(provider, known)
        except (FairtelError, ValueError) as exc:
            raise fail(exc if isinstance(exc, FairtelError) else _invalid(exc), as_json=as_json) from None
        if as_json:
            print_json(
                {
                    "lifted": lifted is not None,
                    "suspension": None if lifted is None else lifted.to_dict(),
                    "notes": notes,
                }
            )
            return
        if lifted is None:
            console.print(f"{provider} is not suspended; nothing changed", markup=False, highlight=False)
            return
        assert lifted.lifted_at is not None
        console.print(
            f"{provider}: suspension since {lifted.suspended_at.isoformat()} lifted at {lifted.lifted_at.isoformat()} "
            f"by {lifted.lifted_by}; its charges dated from now on are billable again",
            markup=False,
            highlight=False,
        )

    @sub.command("list")
    def list_cmd(
        ctx: typer.Context,
        every: Annotated[bool, typer.Option("--all", help="Lifted suspensions too (the whole history).")] = False,
        home: Annotated[Path | None, _HOME] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """The providers suspended (with --all, every suspension ever made, lifted ones too)."""
        from fairtel.store import merchant_suspensions

        try:
            application = app_for(ctx, home)
            with application.db.connect() as conn:
                found = merchant_suspensions(conn, in_force=not every)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"suspensions": [s.to_dict() for s in found]})
            return
        rows = [
            [
                s.provider_id,
                s.suspended_at.isoformat(),
                s.suspended_by,
                s.reason or "",
                "" if s.lifted_at is None else f"{s.lifted_at.isoformat()} by {s.lifted_by}",
            ]
            for s in found
        ]
        console.print(
            table(
                "Suspended providers" if not every else "Provider suspensions",
                ["provider", "since", "by", "reason", "lifted"],
                rows or [["(none)", "", "", "", ""]],
            )
        )

    app.add_typer(sub, name="merchants")


def _invalid(exc: ValueError) -> InvalidInputError:
    return InvalidInputError([Problem("arguments", None, None, str(exc))], what="arguments")
