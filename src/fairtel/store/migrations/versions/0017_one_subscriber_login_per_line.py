"""A line has at most one subscriber login in use, held by the database itself: a unique partial index on
``users (msisdn) WHERE role = 'subscriber' AND NOT disabled`` (SQLite and PostgreSQL). The application checked it
under a lock on the line's register row only, so a login written by any other path (a script, an older fairtel, a
row restored by hand) could give a second person the subscriber's bills and usage in clear.

A database may hold such pairs already (written before the check existed). The index cannot be made over them,
and the migration cannot tell which login is the subscriber's: the newest may be the line's new holder or someone
who was given a login for another's line, the oldest may be the line's former holder. So every subscriber login in
use on such a line is disabled (none of them reads the line's data until an admin gives the line's subscriber a
login again: ``fairtel users add`` or ``POST /users`` accepts one once the line has none in use), and each is
recorded in the access audit (``user.disable`` by ``fairtel`` in the role ``system``, the reason naming the logins
disabled together). Logins of other lines and disabled logins are left as they are. The downgrade drops the index
and leaves the logins disabled.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

INDEX = "uq_users_msisdn_subscriber_in_use"
IN_USE = "role = 'subscriber' AND NOT disabled"
ACTOR, ROLE = "fairtel", "system"

_users = sa.table(
    "users",
    sa.column("username", sa.String(64)),
    sa.column("role", sa.String(32)),
    sa.column("msisdn", sa.String(15)),
    sa.column("disabled", sa.Boolean()),
)
_audit = sa.table(
    "access_audit",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String(64)),
    sa.column("role", sa.String(32)),
    sa.column("action", sa.String(64)),
    sa.column("resource", sa.String(255)),
    sa.column("subject_msisdn_pseudonym", sa.String(32)),
    sa.column("reason", sa.Text()),
    sa.column("request_id", sa.String(64)),
)


def upgrade() -> None:
    _disable_shared_logins()
    op.create_index(
        INDEX,
        "users",
        ["msisdn"],
        unique=True,
        sqlite_where=sa.text(IN_USE),
        postgresql_where=sa.text(IN_USE),
    )


def _disable_shared_logins() -> None:
    """Disable every subscriber login in use on a line that has more than one, each recorded in the audit."""
    bind = op.get_bind()
    u = _users
    in_use = sa.and_(u.c.role == "subscriber", u.c.disabled.is_(False), u.c.msisdn.is_not(None))
    shared = sa.select(u.c.msisdn).where(in_use).group_by(u.c.msisdn).having(sa.func.count() > 1)
    rows = bind.execute(
        sa.select(u.c.username, u.c.msisdn).where(in_use, u.c.msisdn.in_(shared)).order_by(u.c.msisdn, u.c.username)
    ).all()
    if not rows:
        return
    by_line: dict[str, list[str]] = defaultdict(list)
    for username, msisdn in rows:
        by_line[msisdn].append(username)
    now = datetime.now(UTC)
    at = now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now  # as UTCDateTime stores it
    audit = []
    for names in by_line.values():
        together = ", ".join(names)
        reason = (
            f"{len(names)} subscriber logins in use on one line ({together}): all disabled, as the line has one "
            "login in use and which is its subscriber's is not known; an admin gives the subscriber a login again"
        )
        audit += [
            {
                "at": at,
                "actor": ACTOR,
                "role": ROLE,
                "action": "user.disable",
                "resource": f"user/{name}"[:255],
                "subject_msisdn_pseudonym": None,
                "reason": reason,
                "request_id": None,
            }
            for name in names
        ]
    bind.execute(sa.update(u).where(u.c.username.in_([r.username for r in rows])).values(disabled=True))
    bind.execute(sa.insert(_audit), audit)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
