"""What the command line shows in clear, recorded in the access audit the API writes.

A command that prints or writes subscribers' numbers (or their names, customer ids) in clear records it
before it shows them, through ``audit_shown``. It records:

- who ran it: the name given by ``--actor`` (``FAIRTEL_ACTOR``), else the OS user; the reason always names
  the OS user, so a name given on the command line does not hide who ran it;
- what: the action (named as the API names the same read: ``complaint.list``, ``bill.read``...) and, in
  the reason, the command;
- whose data: one row for each subscriber shown, by their keyed pseudonym, as the API records a list (so a
  subscriber's trail lists every command that showed them); an export of more than ``LISTED_ONE_BY_ONE``
  subscribers writes one row, saying how many, without a subject;
- where it went: standard output (a terminal, or where it was redirected) or the file written.

The rows of one command share a request id (``cli_…``), as the rows of one API request do: the same table,
so ``GET /api/v1/audit`` finds both. They are committed before anything is shown: if they cannot be written
the command fails and shows nothing. The role is ``cli``: the command line checks no role; whoever runs it
holds the home (its database and its secret).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairtel.core.ids import new_id
from fairtel.core.time import utc_now
from fairtel.privacy import Pseudonymizer, has_number, pseudonymise_numbers

if TYPE_CHECKING:
    import typer
    from sqlalchemy.engine import Connection

    from fairtel.bootstrap import App

CLI_ROLE = "cli"
LISTED_ONE_BY_ONE = 1000  # subscribers a command's rows name one by one; more: one row with the count
ACTOR_ENV = "FAIRTEL_ACTOR"
_ACTOR_MAX = 64  # the audit's ``actor`` column


@lru_cache(maxsize=8)
def _pseudonymizers(key: str) -> tuple[Pseudonymizer, Pseudonymizer]:
    return Pseudonymizer(key, domain="msisdn"), Pseudonymizer(key, domain="login")


def os_user() -> str:
    """The OS account running the command, from its user id (not from ``USER``, which anyone may set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # no pwd (Windows), or a uid without an entry (containers)
        pass
    uid = getattr(os, "geteuid", None)
    if uid is not None:
        return f"uid {uid()}"
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def configured_actor(ctx: typer.Context | None) -> str | None:
    """The name ``--actor`` (or ``FAIRTEL_ACTOR``) gave, if any."""
    root = ctx.find_root().obj if ctx is not None else None
    name = getattr(root, "actor", None) if root is not None else os.environ.get(ACTOR_ENV)
    name = (name or "").strip()
    return name or None


def run_by(ctx: typer.Context | None) -> str:
    """Who ran the command, for an audit row's reason: the OS user, and the name ``--actor`` gave if another."""
    user = os_user()
    named = configured_actor(ctx)
    return f"OS user {user}" if named is None or named == user else f"{named} (OS user {user})"


def command_of(ctx: typer.Context | None) -> str:
    """``fairtel`` and the words naming the command run (``fairtel care complaints``)."""
    words: list[str] = []
    level: Any = ctx
    while level is not None and level.parent is not None:  # the root's own name is the program's: "fairtel"
        if level.info_name:
            words.append(level.info_name)
        level = level.parent
    return " ".join(["fairtel", *reversed(words)])


def destination(to: Path | str | None) -> str:
    """Where output went, in words: the file, or standard output and what it is (a terminal, a file, a pipe)."""
    if to is not None:
        return f"file {Path(to).resolve()}"
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an object without a descriptor (a test's capture)
        return "standard output"
    if os.isatty(fd):
        return "standard output (a terminal)"
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "standard output (not a terminal)"
    if target.startswith("pipe:"):
        return "standard output (a pipe)"
    return f"standard output (redirected to {target})"


def _actor(ctx: typer.Context | None, login: Pseudonymizer) -> str:
    """The audit rows' ``actor``: the name ``--actor`` gave, else the OS user (a name holding a number: its
    pseudonym)."""
    named = configured_actor(ctx) or os_user()
    return (login(named) if has_number(named) else named)[:_ACTOR_MAX]


def login_pseudonym(app: App, username: str) -> str:
    """A login's keyed pseudonym, as the API's audit names the login a change concerns."""
    return _pseudonymizers(app.settings.secret_key.get_secret_value())[1](username)


def audit_change(
    ctx: typer.Context | None,
    app: App,
    conn: Connection,
    *,
    action: str,
    resource: str,
    msisdn: str | None = None,
    reason: str,
) -> str:
    """Record a change this command made, as the API records the same change (``user.create``, its resource and
    reason): one row, naming the subscriber it concerns (``msisdn``, kept as its pseudonym; none: no subject),
    its reason followed by the command and who ran it. Written in ``conn``'s transaction, with the change, so
    that neither is kept without the other. Numbers in ``resource`` and ``reason`` are kept as pseudonyms.
    Returns the row's request id."""
    from fairtel.store import access_row, record_accesses

    pseudonym, login = _pseudonymizers(app.settings.secret_key.get_secret_value())
    command = command_of(ctx)
    request_id = new_id("cli")
    home = app.settings.home_country  # numbers written as dialled at home are read by its numbering plan
    record_accesses(conn, [access_row(
        actor=_actor(ctx, login), role=CLI_ROLE, action=action,
        resource=pseudonymise_numbers(resource, pseudonym, home_country=home)[:255],
        subject_msisdn_pseudonym=pseudonym(msisdn) if msisdn else None,
        reason=pseudonymise_numbers(f"{reason}; {command}, run by {run_by(ctx)}", pseudonym, home_country=home),
        request_id=request_id, at=utc_now(),
    )])
    return request_id


def audit_shown(
    ctx: typer.Context | None,
    app: App,
    *,
    action: str,
    subjects: Iterable[str | None],
    what: str,
    to: Path | str | None = None,
    resource: str | None = None,
    conn: Connection | None = None,
) -> str | None:
    """Record that this command shows ``what`` (e.g. ``12 complaints``) in clear, naming ``subjects`` (the numbers
    shown: subscribers', and outside numbers a case names), sent ``to`` a file (None: standard output). Call it
    before showing anything. Written in ``conn``'s transaction when given (with the read it records), else
    committed here. Returns the rows' request id; None, writing nothing, when no one is shown."""
    from fairtel.store import access_row, record_accesses

    key = app.settings.secret_key.get_secret_value()
    pseudonym, login = _pseudonymizers(key)
    shown = sorted({pseudonym(s) for s in subjects if s})  # pseudonym order: the rows do not tell the output's order
    if not shown:
        return None
    command = command_of(ctx)
    actor = _actor(ctx, login)
    one_by_one = len(shown) <= LISTED_ONE_BY_ONE
    people = f"{len(shown)} subscriber{'' if len(shown) == 1 else 's'}"
    if not one_by_one:
        people += f" (more than {LISTED_ONE_BY_ONE}: not named one by one)"
    reason = f"{command}: {what} in clear, {people}; to {destination(to)}; run by {run_by(ctx)}"
    request_id = new_id("cli")
    at = utc_now()
    home = app.settings.home_country

    def row(subject: str | None) -> dict[str, Any]:
        return access_row(
            actor=actor, role=CLI_ROLE, action=action,
            resource=pseudonymise_numbers(resource or f"cli/{command.removeprefix('fairtel ')}", pseudonym,
                                          home_country=home)[:255],
            subject_msisdn_pseudonym=subject, reason=pseudonymise_numbers(reason, pseudonym, home_country=home),
            request_id=request_id, at=at,
        )

    rows = [row(s) for s in shown] if one_by_one else [row(None)]
    if conn is not None:
        record_accesses(conn, rows)
    else:
        with app.db.begin() as own:
            record_accesses(own, rows)
    return request_id


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
