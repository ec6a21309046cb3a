"""Phone numbers in agents' notes on complaints are kept apart from the notes, so that a subscriber's erasure can
forget theirs: ``complaint_note_numbers`` maps a token to the number, and a note (``complaint_events.note``, an
append-only ledger since 0021) holds ``[tel:<token>]`` where the number stood (``care.tokenise_note``). Erasure deletes
the rows of the erased number; every reader is then shown ``care.NOTE_NUMBER_ERASED`` in its place.

The notes written before hold their numbers in clear. The migration rewrites them once, here, to tokens (each number
kept as written, under a random token: the migration has no key to make keyed ones), with the ledger's UPDATE trigger
lifted for the statement and made again after it, in the migration's transaction. Erasure itself never rewrites the
ledger: the application's account stays unable to UPDATE it. The downgrade writes the numbers the table still knows
back into the notes, each as the agent wrote it (its digits as typed: the marker of a note written since says how, in
letters), an erased one staying ``[号码已删除 number erased]``, and drops the table.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-11
"""

from __future__ import annotations

import re
import secrets
import string

import sqlalchemy as sa
from alembic import op

from fairtel.privacy import replace_numbers, replace_numbers_in_id

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None

# The marker and placeholder as ``fairtel.care`` writes and reads them when this migration was made.
_MARKER = "[tel:{}]"
_MARKED = re.compile(r"\[tel:(n[A-Za-z]{20})(?:/([A-J]{1,5}))?\]")  # the token, and how the number was written
_FORM_DIGITS = str.maketrans("ABCDEFGHIJ", "0123456789")
_ERASED = "[号码已删除 number erased]"

_events = sa.table("complaint_events", sa.column("complaint_id", sa.String), sa.column("seq", sa.Integer),
                   sa.column("note", sa.Text))
_numbers = sa.table("complaint_note_numbers", sa.column("token", sa.String), sa.column("number", sa.String))


def _token() -> str:
    return "n" + "".join(secrets.choice(string.ascii_letters) for _ in range(20))


def _written(number: str, form: str | None) -> str:
    """``number`` as the agent wrote it: a marker's form (``care``'s ``_written_form``) in letters says how many of its
    leading digits were left out and which were written in front (``C``: ``13800138000`` for ``8613800138000``)."""
    if not form:
        return number
    digits = form.translate(_FORM_DIGITS)
    return digits[1:] + number[int(digits[0]):]


def _lift_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE complaint_events DISABLE TRIGGER complaint_events_append_only")
    else:
        op.execute("DROP TRIGGER complaint_events_no_update")


def _restore_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE complaint_events ENABLE TRIGGER complaint_events_append_only")
    else:  # as 0021 made it
        op.execute("""
                CREATE TRIGGER complaint_events_no_update BEFORE UPDATE ON complaint_events
                BEGIN SELECT RAISE(ABORT, 'complaint_events is append-only'); END""")


def _rewrite(changed: list[dict[str, object]]) -> None:
    if not changed:
        return
    _lift_trigger()
    stmt = (sa.update(_events).where(_events.c.complaint_id == sa.bindparam("cid"), _events.c.seq == sa.bindparam("n"))
            .values(note=sa.bindparam("text")))
    op.get_bind().execute(stmt, changed)
    _restore_trigger()


def upgrade() -> None:
    op.create_table(
        "complaint_note_numbers",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_complaint_note_numbers")),
    )
    op.create_index(op.f("ix_complaint_note_numbers_number"), "complaint_note_numbers", ["number"], unique=False)
    conn = op.get_bind()
    tokens: dict[str, str] = {}  # number → token: a number written in many notes has one token

    def marker(number: str) -> str:
        if number not in tokens:
            tokens[number] = _token()
        return _MARKER.format(tokens[number])

    changed: list[dict[str, object]] = []
    for cid, seq, note in conn.execute(sa.select(_events.c.complaint_id, _events.c.seq, _events.c.note)
                                       .where(_events.c.note.is_not(None))):
        text = replace_numbers_in_id(replace_numbers(note, marker, standalone=True), marker)
        if text != note:
            changed.append({"cid": cid, "n": seq, "text": text})
    if tokens:
        conn.execute(sa.insert(_numbers), [{"token": t, "number": n} for n, t in tokens.items()])
    _rewrite(changed)


def downgrade() -> None:
    conn = op.get_bind()
    known = {t: n for t, n in conn.execute(sa.select(_numbers.c.token, _numbers.c.number))}
    changed: list[dict[str, object]] = []
    for cid, seq, note in conn.execute(sa.select(_events.c.complaint_id, _events.c.seq, _events.c.note)
                                       .where(_events.c.note.like("%[tel:%"))):
        text = _MARKED.sub(lambda m: _written(known[m.group(1)], m.group(2)) if m.group(1) in known else _ERASED, note)
        if text != note:
            changed.append({"cid": cid, "n": seq, "text": text})
    _rewrite(changed)
    op.drop_index(op.f("ix_complaint_note_numbers_number"), table_name="complaint_note_numbers")
    op.drop_table("complaint_note_numbers")
