"""``fairtel retention plan`` and ``fairtel retention apply``: remove the personal data the home no longer needs.

The policy is ``Settings.retention`` (``[retention]`` in fairtel.toml, docs/operations.md#data-retention); what each
kind covers and what always stays is in ``fairtel.store._retention``. ``plan`` changes nothing; ``apply`` records
one access-audit row (``retention.apply``, role ``cli``, no subject) naming what it removes and who authorised it,
committed with the database's changes and before any file is touched, then removes the lake's records (usage
detail, then bill snapshot detail), the rejects files, the outbox's old messages, the old decided fraud cases, an
old retention call list and, for each inbox named (``--inbox``), the files its watch filed in ``done/`` and
``failed/`` more than ``rejects_days`` ago (an inbox is outside the home, which does not know it). A run cut short is finished by the next one (which records its own row); a run with nothing left to
remove changes nothing but its row.

One ``apply`` of a home at a time (``store._retention.retention_lock``, a lock file in the lake's lock directory held
from the plan to the last file): a second one started meanwhile says on stderr that it waits, waits for the first to
end, then plans what is left, so its row and its summary say what it removes ("removes nothing past its retention
period" after a complete first run), never what the first one removed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, fail, print_json
from fairtel.core.errors import FairtelError, InvalidInputError, Problem

InboxOpt = Annotated[list[Path] | None, typer.Option(
    "--inbox", help="An inbox a `fairtel watch` takes files from (repeatable): the files it filed in done/ and failed/ "
                    "(raw usage, full numbers) go after rejects_days, as the rejects files.")]


def _planned(app: Any, now: datetime, inboxes: list[Path] | None = None) -> Any:
    from fairtel.store._retention import plan

    with app.db.connect() as conn:
        return plan(conn, app.lake, app.settings.rejects_dir, app.settings.retention, now=now,
                    timezone=app.settings.timezone, home=app.settings.home, inboxes=tuple(inboxes or ()))


def _show(summary: dict[str, Any], *, applied: bool) -> None:
    verb = "removed" if applied else "would remove"
    d, r, c, t = summary["usage_detail"], summary["rejects"], summary["consent"], summary["conversations"]
    periods = ", ".join(p["period"] for p in d["periods"]) or "none"
    console.print(f"usage detail: {verb} {d['records']} records (periods: {periods})", highlight=False)
    for k in d["kept"]:
        console.print(f"  kept in {k['period']}: {k['records']} records of {k['lines']} lines (a matter open, or no "
                      "bill for the period)", highlight=False)
    for w in d["waiting"]:
        console.print(f"  {w['period']} kept: {w['reason']}", highlight=False)
    console.print(f"rejects: {verb} {r['files']} files ({r['records']} records), oldest {r['oldest'] or '-'}",
                  highlight=False)
    console.print(f"consent: {verb} {c['events']} events of {c['subscriptions']} subscriptions, oldest ended "
                  f"{c['oldest'] or '-'}; {c['kept_for_open_matters']} kept for a matter open", highlight=False)
    console.print(f"conversations: {verb} the words of {t['tickets']} closed tickets ({t['notes']} notes), oldest "
                  f"settled {t['oldest'] or '-'}; {t['kept_for_open_matters']} kept for a matter open", highlight=False)
    s = summary["billed_snapshot"]
    console.print(f"bill snapshot detail: {verb} {s['records']} billed records (periods: "
                  f"{', '.join(p['period'] for p in s['periods']) or 'none'})", highlight=False)
    for k in s["kept"]:
        console.print(f"  kept in {k['period']}: {k['records']} billed records of lines with a matter open",
                      highlight=False)
    c, v = summary["complaints"], summary["survey_comments"]
    console.print(f"complaints: {verb} the words of {c['complaints']} settled complaints, oldest settled "
                  f"{c['oldest'] or '-'}; {c['kept_for_open_matters']} kept for a matter open", highlight=False)
    console.print(f"survey comments: {verb} {v['comments']} comments, oldest {v['oldest'] or '-'}; "
                  f"{v['kept_for_open_matters']} kept for a matter open", highlight=False)
    o, f, r = summary["outbox"], summary["fraud_cases"], summary["retention_list"]
    console.print(f"outbox: {verb} {o['messages']} messages, oldest {o['oldest'] or '-'}; "
                  f"{o['kept_for_open_matters']} kept for a matter open", highlight=False)
    console.print(f"fraud cases: {verb} {f['cases']} decided cases, oldest decided {f['oldest'] or '-'}; "
                  f"{f['kept_for_open_matters']} kept for a matter open", highlight=False)
    console.print(f"retention call list: {verb} {r['files']} files ({r['rows']} rows), written {r['written'] or '-'}",
                  highlight=False)
    i = summary["inbox_files"]
    if i["files"] or i["inboxes"]:
        console.print(f"inbox files filed by a watch: {verb} {i['files']}, oldest filed {i['oldest'] or '-'}",
                      highlight=False)
    matters = summary["open_matters"]
    if matters["lines"]:
        console.print(f"{matters['lines']} lines keep their data for a matter open: {', '.join(matters['matters'])}",
                      highlight=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Data retention: remove the personal data past its retention period (the settings' retention section).",
                        no_args_is_help=True)
    app.add_typer(group, name="retention")

    @group.command("plan")
    def plan_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        at: Annotated[str | None, typer.Option("--at", help="RFC 3339 instant to plan for (default: now).")] = None,
        inbox: InboxOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """What `retention apply` would remove now, per kind, with counts and the oldest dates. Changes nothing."""
        from fairtel.core.time import parse_rfc3339, utc_now

        try:
            now = utc_now() if at is None else parse_rfc3339(at)
            with app_for(ctx, home) as fapp:
                summary = _planned(fapp, now, inbox).summary()
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(summary)
        else:
            _show(summary, applied=False)

    @group.command("apply")
    def apply_cmd(
        ctx: typer.Context,
        by: Annotated[str, typer.Option("--by", help="Who authorises the removal (recorded in the access audit).")],
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        inbox: InboxOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Remove what `retention plan` lists: usage detail, old rejects files, consent events past retention, the
        words of old closed tickets and settled complaints, old survey comments, the bill snapshot detail of old
        periods, old outbox messages, old decided fraud cases, an old retention call list and the old files a watch
        filed in each --inbox. Never bills, bill
        lines or the data of a line with a matter open. Idempotent; recorded in the access audit."""
        from fairtel.cli._audit import audit_change
        from fairtel.core.time import utc_now
        from fairtel.store._engine import sqlite_checkpoint
        from fairtel.store._retention import apply_in_database, apply_in_files, retention_lock

        try:
            if not by.strip():
                raise InvalidInputError([Problem("command line", None, "--by", "name who authorises the removal")],
                                        what="retention")
            with app_for(ctx, home) as fapp, retention_lock(fapp.lake):
                # planned under the lock, after any other run of the home ended: the row says what this run removes
                now = utc_now()
                planned = _planned(fapp, now, inbox)
                with fapp.db.begin() as conn:
                    # the row first, with the database's changes: every removal is recorded before it is made
                    request_id = audit_change(ctx, fapp, conn, action="retention.apply", resource="home/retention",
                                              reason=f"retention {planned.words()}; authorised by {by.strip()}")
                    apply_in_database(conn, planned)
                done = apply_in_files(fapp.lake, planned)
                summary = planned.summary()
                sqlite_checkpoint(fapp.db)  # the removed words out of SQLite's write-ahead log too
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        summary["applied"] = {"lake_records": done["records"], "rejects_files": done["rejects"],
                              "snapshot_records": done["snapshot"], "outbox_messages": done["outbox"],
                              "fraud_cases": done["fraud_cases"], "retention_lists": done["retention_lists"],
                              "inbox_files": done["inbox_files"],
                              "audit_request_id": request_id}
        if as_json:
            print_json(summary)
        else:
            _show(summary, applied=True)
