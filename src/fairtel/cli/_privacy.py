"""``fairtel privacy erase MSISDN --plan|--apply --by LOGIN``: erase one subscriber's personal data at their request.
``fairtel privacy adopt-key``: key the home by the key it is given now, on purpose (see ``adopt_key_cmd``).

What goes, what stays and why, and when a line may be erased at all (closed, closing date known, no matter open) is
in ``fairtel.store._erasure`` and docs/operations.md#erasing-a-subscribers-data. ``--plan`` changes nothing.
``--apply`` checks the lake for usage a bill may still charge, then makes the plan again in the database transaction
that applies it (begun ``IMMEDIATE`` on SQLite, the line's register row locked first on PostgreSQL), records one
access-audit row (``subscriber.erase``, role ``cli``, the line as its pseudonym) naming what it erases and who
authorised it, committed with the database's changes and before any file is touched, then rewrites the outbox and
the retention call list. A refused line changes nothing; a run cut short is finished by the next; a run with nothing
left to erase changes nothing and records no row. Two applies at once take turns (``store._erasure.erasure_lock``,
held from the plan to the last file): the second waits, saying so on stderr, then finds what the first left; for
the same line, nothing, so it records no row and exits 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fairtel.cli._context import app_for, home_of
from fairtel.cli._ui import console, err_console, fail, print_json
from fairtel.core.errors import FairtelError, InvalidInputError, Problem


def _short(fingerprint: str | None) -> str | None:
    from fairtel.privacy import short_fingerprint

    return None if fingerprint is None else short_fingerprint(fingerprint)


def _show(summary: dict[str, Any], *, applied: bool) -> None:
    if summary["refused"]:
        console.print("refused: the line may not be erased", highlight=False)
        for why in summary["refused"]:
            console.print(f"  {why}", highlight=False)
        return
    verb = "erased" if applied else "would erase"
    e = summary["erase"]
    if summary["nothing_left"]:
        console.print("nothing left to erase: the line's personal data is already erased", highlight=False)
    else:
        console.print(f"customer name: {verb if e['customer_name'] else 'kept'}"
                      f"{' (' + e['customer_name_kept'] + ')' if e['customer_name_kept'] else ''}", highlight=False)
        console.print(f"region: {verb if e['region'] else 'none'}", highlight=False)
        console.print(f"complaint texts: {verb} {len(e['complaint_texts'])}", highlight=False)
        console.print(f"ticket conversations: {verb} {len(e['ticket_conversations'])} ({e['ticket_notes']} notes)",
                      highlight=False)
        console.print(f"survey comments: {verb} {len(e['survey_comments'])}", highlight=False)
        console.print(f"numbers in agents' notes on complaints: {verb} {e['complaint_note_numbers']}", highlight=False)
        console.print(f"outbox messages: {verb} {e['outbox_messages']}", highlight=False)
        console.print(f"retention call list rows: {verb} {e['retention_list_rows']}", highlight=False)
    kept = [f"{table} {k['rows']}" for table, k in summary["kept"].items() if k["rows"]]
    if kept:
        console.print(f"kept (billing, legal or append-only): {', '.join(kept)}", highlight=False)


def _scrub_log(engine: Any) -> None:
    """The erased words out of SQLite's write-ahead log too (``store._engine.sqlite_checkpoint``), not only out of
    the database file (``secure_delete`` zeroes them there); a reader holding the log past the busy timeout is said
    on stderr, the log being emptied by the next checkpoint."""
    from fairtel.store._engine import sqlite_checkpoint

    if sqlite_checkpoint(engine) is False:
        err_console.print("note: another connection held the database's write-ahead log; the erased words leave it "
                          "at its next checkpoint (run the same `fairtel privacy erase --apply` again, or stop the server, to force one)",
                          highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Privacy: erase a subscriber's personal data at their request; adopt a new key.",
                        no_args_is_help=True)
    app.add_typer(group, name="privacy")

    @group.command("adopt-key")
    def adopt_key_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        new_home: Annotated[bool, typer.Option("--new-home", help="Key a directory that is not a fairtel home yet "
                                                                   "(no database, home.id or key in it): refused "
                                                                   "without this, as a mistyped --home.")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Key the home by the key it is run with now (its secret.key, made when it is gone, or FAIRTEL_SECRET_KEY),
        on purpose: the key's fingerprint is recorded in the home, and commands refused with secret_key_mismatch run
        again. Every pseudonym (analysts' exports, the access audit's subjects), finding and case id and token
        changes: they no longer join to what was made under the old key. If the old key can be found, restore it
        instead. Stop every server and watch of the home first (one running keeps the old key: refused while a watch
        or a `fairtel serve` of the home runs, and no server starts while it adopts), and take a backup
        (`fairtel backup` runs on a home whose key is refused). Recorded in the access audit, in the same step as
        the key: if the database cannot be written, the key stays as it was."""
        from sqlalchemy.engine import Connection

        from fairtel.bootstrap import App, adopt_secret_key, is_home
        from fairtel.cli._audit import audit_change
        from fairtel.cli._serve import unserved
        from fairtel.core.errors import InvalidInputError, Problem
        from fairtel.core.settings import SECRET_FILE, load_settings, secure_home
        from fairtel.mediation import mediation_lock

        try:
            settings = load_settings(home=home_of(ctx, home))
            settings.check_secrets()
            where = Path(settings.home).absolute()
            if not new_home and not is_home(where):
                raise InvalidInputError([Problem(str(where), None, "--home", "not a fairtel home (no database, home.id "
                                                 "or key in it): a mistyped --home? Give --new-home to key a new "
                                                 "one")], what="privacy adopt-key")
            source = str(where / SECRET_FILE) if settings.secret_is_home_key else "FAIRTEL_SECRET_KEY"
            secure_home(where)  # a new home (--new-home) made, owner-only, before its lock is taken

            def audit(fapp: App, conn: Connection, before: str | None, after: str) -> None:
                audit_change(ctx, fapp, conn, action="home.adopt_key", resource="home/secret-key",
                             reason=f"the home keyed by {source} (fingerprint {_short(after)}, before "
                                    f"{_short(before) or 'none recorded'}): every pseudonym and keyed id changes")

            # a watch or an ingest of the home holds its mediation lock, a server its serving mark: refused while one
            # runs (`mediation_locked` naming it; `home_served` for a server), as it would go on keyed by the old key; the
            # mark held alone meanwhile, so that no server starts on the home before the new key is in place
            with (mediation_lock(where, holder="a key adoption (fairtel privacy adopt-key)"),
                  unserved(where, what="fairtel privacy adopt-key")):
                before, after = adopt_secret_key(settings, audit)
            out = {"home": str(where), "key": source, "changed": before != after,
                   "fingerprint_before": _short(before), "fingerprint": _short(after)}
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(out)
        elif not out["changed"]:
            console.print(f"the home is keyed by {source} already (fingerprint {out['fingerprint']}): nothing changed",
                          highlight=False, soft_wrap=True)
        else:
            console.print(f"the home {out['home']} is now keyed by {source} (fingerprint {out['fingerprint']}, before "
                          f"{out['fingerprint_before'] or 'none recorded'}): pseudonyms, finding and case ids and tokens "
                          "made under the old key no longer match / 密钥已更换，旧的假名与编号不再对应", highlight=False,
                          soft_wrap=True)

    @group.command("erase")
    def erase_cmd(
        ctx: typer.Context,
        msisdn: Annotated[str, typer.Argument(help="The closed line whose subscriber asked for erasure.")],
        do_plan: Annotated[bool, typer.Option("--plan", help="Show what would be erased and kept. Changes nothing.")] = False,
        do_apply: Annotated[bool, typer.Option("--apply", help="Erase (recorded in the access audit).")] = False,
        by: Annotated[str | None, typer.Option("--by", help="Who authorises the erasure (recorded in the access audit).")] = None,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Erase the personal data of a closed line with no matter open: the customer's name, the line's region,
        its complaint texts, ticket conversations and notes, survey comments, outbox messages and retention call
        list rows, and its number wherever an agent's note on a complaint holds it (the note keeps a token whose
        number is forgotten; a number written before tokens is read by the home's numbering, FAIRTEL_COUNTRY). Bills,
        bill lines, adjustments, consent events and the append-only ledgers stay. Refused for a line not closed or
        with a matter open. Idempotent; recorded in the access audit."""
        from fairtel.core.errors import ConflictError
        from fairtel.core.time import utc_now
        from fairtel.privacy._numbers import msisdn_problem
        from fairtel.store._erasure import apply_in_database, apply_in_files, plan

        try:
            problems = []
            if do_plan == do_apply:
                problems.append(Problem("command line", None, "--plan/--apply", "give exactly one of --plan and --apply"))
            if (why := msisdn_problem(msisdn)) is not None:
                problems.append(Problem("command line", None, "MSISDN", why))
            if do_apply and not (by or "").strip():
                problems.append(Problem("command line", None, "--by", "name who authorises the erasure"))
            if problems:
                raise InvalidInputError(problems, what="erasure")
            with app_for(ctx, home) as fapp:
                now = utc_now()
                settings = fapp.settings
                if do_plan:
                    with fapp.db.connect() as conn:
                        planned = plan(conn, msisdn, now=now, lake=fapp.lake, home=settings.home,
                                       outbox_dir=settings.outbox_dir, home_country=settings.home_country)
                    summary = planned.summary()
                else:
                    from fairtel.store._engine import writer
                    from fairtel.store._erasure import erasure_lock, lock_line

                    request_id = None
                    with erasure_lock(fapp.lake):  # another apply of the home ends first, its files included
                        # the lake's unbilled usage (the slow part) read before the write transaction, so that the
                        # database's write lock (SQLite) is not held while the lake is scanned
                        with fapp.db.connect() as conn:
                            checked = plan(conn, msisdn, now=now, lake=fapp.lake, home=settings.home,
                                           outbox_dir=settings.outbox_dir, home_country=settings.home_country)
                        if checked.refused:
                            raise ConflictError("the line may not be erased: " + "; ".join(checked.refused),
                                                details={"reasons": list(checked.refused)})
                        # planned again and applied in one transaction that writes from its start: nothing reopened
                        # in between, and a concurrent erasure of the line is waited for, not failed nor repeated
                        with writer(fapp.db).begin() as conn:
                            lock_line(conn, msisdn)
                            planned = plan(conn, msisdn, now=now, home=settings.home, outbox_dir=settings.outbox_dir,
                                           home_country=settings.home_country)
                            if planned.refused:
                                raise ConflictError("the line may not be erased: " + "; ".join(planned.refused),
                                                    details={"reasons": list(planned.refused)})
                            if not planned.empty:
                                from fairtel.cli._audit import audit_change

                                # the row first, with the database's changes: every erasure is recorded before it is
                                # made
                                request_id = audit_change(
                                    ctx, fapp, conn, action="subscriber.erase", resource="home/privacy/erasure",
                                    msisdn=msisdn, reason=f"erasure at the subscriber's request {planned.words()}; "
                                                          f"authorised by {(by or '').strip()}")
                                apply_in_database(conn, planned)
                        done = apply_in_files(planned)
                        _scrub_log(fapp.db)  # also when nothing was left: a run that found the log held empties it
                    summary = planned.summary()
                    summary["applied"] = {"outbox_messages": done["outbox"], "retention_list_rows": done["retention_list"],
                                          "audit_request_id": request_id}
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(summary)
        else:
            _show(summary, applied=do_apply)
