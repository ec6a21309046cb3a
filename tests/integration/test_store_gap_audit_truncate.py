"""The access audit cannot be emptied by the application's database account: on PostgreSQL a ``TRUNCATE`` is refused
as UPDATE and DELETE are (a statement trigger, migration 0019), on SQLite (no TRUNCATE) a ``DELETE`` of every row
is; the downgrade of 0019 lifts the TRUNCATE refusal alone."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from fairtel.privacy import Pseudonymizer
from fairtel.store import record_access
from fairtel.store._migrate import alembic_config, current_revision, head_revision
from fairtel.store._schema import metadata


def _one_row(engine: Engine) -> None:
    with engine.begin() as conn:
        record_access(conn, actor="agent-7", role="agent", action="bill.read", resource="bill/2026-10",
                      subject_msisdn_pseudonym=Pseudonymizer("k" * 32)("8613800138000"), reason="complaint cmp_1")


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(metadata.tables["access_audit"])) or 0)


@pytest.mark.postgres
def test_truncate_of_the_audit_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _one_row(engine)
    for statement in ("TRUNCATE access_audit", "TRUNCATE access_audit RESTART IDENTITY",
                      "TRUNCATE revoked_tokens, access_audit"):
        with pytest.raises(DBAPIError, match="access_audit is append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _rows(engine) == 1
    with engine.begin() as conn:  # other tables are truncated as before
        conn.execute(text("TRUNCATE revoked_tokens"))


def test_deleting_every_audit_row_is_refused(engine: Engine) -> None:
    _one_row(engine)
    with pytest.raises(DBAPIError, match="access_audit is append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM access_audit"))
    assert _rows(engine) == 1


def test_the_downgrade_lifts_the_truncate_refusal_only(engine: Engine) -> None:
    assert current_revision(engine) == head_revision() >= "0019"
    _one_row(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0018")
    with pytest.raises(DBAPIError, match="access_audit is append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM access_audit"))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE access_audit"))
        assert _rows(engine) == 0
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert current_revision(engine) == head_revision()
