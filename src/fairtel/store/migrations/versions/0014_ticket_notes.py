"""Agents' notes on trouble tickets become entries of their own (``ticket_notes``: who, when, the move it came with,
the words), instead of lines appended to the ticket's ``summary``, where nothing told them from what the
subscriber said (a subscriber's message could carry a line that read as an agent's note).

The notes of existing tickets are moved out of their summaries here, as the reader before this revision read
them: from the first line ``[<in_progress|resolved|closed> by <who> at <YYYY-MM-DDTHH:MM:SSZ>] <note>`` on, each
such line a note and the lines after it its continuation; the summary keeps what was above. The downgrade writes
them back so (a note made without a move as the status the move before it left, else ``in_progress``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_NOTE = re.compile(r"^\[(in_progress|resolved|closed) by (\S+) at (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\] ?(.*)$", re.DOTALL)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"

_tickets = sa.table("trouble_tickets", sa.column("ticket_id", sa.String()), sa.column("summary", sa.Text()))
_notes = sa.table(
    "ticket_notes",
    sa.column("note_id", sa.BigInteger()),
    sa.column("ticket_id", sa.String()),
    sa.column("noted_at", sa.DateTime(timezone=True)),
    sa.column("author", sa.String()),
    sa.column("status", sa.String()),
    sa.column("note", sa.Text()),
)


def upgrade() -> None:
    op.create_table(
        "ticket_notes",
        sa.Column("note_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('in_progress', 'resolved', 'closed')", name=op.f("ck_ticket_notes_status")),
        sa.ForeignKeyConstraint(["ticket_id"], ["trouble_tickets.ticket_id"], name=op.f("fk_ticket_notes_ticket_id_trouble_tickets")),
        sa.PrimaryKeyConstraint("note_id", name=op.f("pk_ticket_notes")),
    )
    op.create_index("ix_ticket_notes_ticket_id_noted_at", "ticket_notes", ["ticket_id", "noted_at"], unique=False)
    _move_notes_out()


def _split(summary: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The summary above its first note, and its notes; None when it has none."""
    lines = summary.split("\n")
    first = next((i for i, line in enumerate(lines) if i > 0 and _NOTE.match(line)), None)
    if first is None:
        return None
    notes: list[dict[str, Any]] = []
    for line in lines[first:]:
        m = _NOTE.match(line)
        if m:
            notes.append({"status": m[1], "author": m[2], "noted_at": datetime.strptime(m[3], _STAMP).replace(tzinfo=UTC),
                          "note": m[4]})
        else:
            notes[-1]["note"] += "\n" + line
    return "\n".join(lines[:first]), notes


def _move_notes_out() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    rows = conn.execute(sa.select(_tickets.c.ticket_id, _tickets.c.summary).where(_tickets.c.summary.contains("\n["))
                        .order_by(_tickets.c.ticket_id)).all()
    for ticket_id, summary in rows:
        split = _split(summary or "")
        if split is None:
            continue
        kept, notes = split
        for n in notes:
            at = n["noted_at"]
            conn.execute(_notes.insert().values(
                ticket_id=ticket_id, author=n["author"][:64], status=n["status"], note=n["note"].strip() or None,
                # SQLite keeps the UTC wall clock without a zone (as fairtel.store UTCDateTime writes it)
                noted_at=at.replace(tzinfo=None) if sqlite else at))
        conn.execute(_tickets.update().where(_tickets.c.ticket_id == ticket_id).values(summary=kept))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_notes.c.ticket_id, _notes.c.noted_at, _notes.c.author, _notes.c.status, _notes.c.note)
                        .order_by(_notes.c.ticket_id, _notes.c.noted_at, _notes.c.note_id)).all()
    appended: dict[str, list[str]] = {}
    last_status: dict[str, str] = {}
    for ticket_id, noted_at, author, status, note in rows:
        at = datetime.fromisoformat(noted_at) if isinstance(noted_at, str) else noted_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        status = status or last_status.get(ticket_id, "in_progress")
        last_status[ticket_id] = status
        appended.setdefault(ticket_id, []).append(f"[{status} by {author} at {at.strftime(_STAMP)}]" + (f" {note}" if note else ""))
    for ticket_id, lines in appended.items():
        summary = conn.execute(sa.select(_tickets.c.summary).where(_tickets.c.ticket_id == ticket_id)).scalar_one()
        conn.execute(_tickets.update().where(_tickets.c.ticket_id == ticket_id)
                     .values(summary="\n".join([summary or "", *lines])))
    op.drop_index("ix_ticket_notes_ticket_id_noted_at", table_name="ticket_notes")
    op.drop_table("ticket_notes")
