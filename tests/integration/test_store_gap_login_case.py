"""Two logins never differ only in letter case ("Alice" and "alice"), held by the database itself (migration 0024:
a unique index on ``lower(username)``), whatever path writes the row; a typed name reaches its login by its NFKC case
fold (``login_named``). A database holding such logins already is not migrated: the migration fails naming every
group, changes nothing, and runs once the operator has kept one name of each. Before: both logins could exist.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fairtel.api import create_user
from fairtel.core.errors import ConflictError
from fairtel.store import User, current_revision, head_revision, migrate
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _login(username: str) -> dict[str, object]:
    return {"username": username, "password_hash": "x", "role": "admin", "msisdn": None, "disabled": False,
            "created_at": T0}


def test_a_name_differing_only_in_case_is_refused(engine: Engine) -> None:
    u = table_of(User)
    with engine.begin() as conn:
        conn.execute(u.insert().values(**_login("Alice")))
    # whatever path writes the row, the database refuses it, told as a name taken (``conflict``)
    with pytest.raises(ConflictError, match="other letter case") as caught, engine.begin() as conn:
        conn.execute(u.insert().values(**_login("alice")))
    assert caught.value.code == "conflict" and caught.value.details == {"field": "username"}
    with pytest.raises(ConflictError), engine.begin() as conn:
        conn.execute(u.insert().values(**_login("ALICE")))
    with pytest.raises(ConflictError), engine.begin() as conn:
        create_user(conn, "aLiCe", "correct horse battery", "admin")
    with engine.begin() as conn:
        conn.execute(u.insert().values(**_login("alice2")))  # another name
        assert sorted(conn.scalars(select(u.c.username))) == ["Alice", "alice2"]
    # any other integrity error is the driver's, as before
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(u.insert().values(**(_login("dave") | {"role": "nobody"})))


def test_a_typed_name_reaches_its_login_whatever_its_case(engine: Engine) -> None:
    from fairtel.store._logins import login_key, login_named

    with engine.begin() as conn:
        conn.execute(table_of(User).insert(), [_login("Alice"), _login("bob.ops")])
    with engine.connect() as conn:
        assert login_named(conn, "alice") == "Alice"
        assert login_named(conn, "ALICE") == "Alice"
        assert login_named(conn, "Ａｌｉｃｅ") == "Alice"  # full-width letters: NFKC
        assert login_named(conn, "BOB.OPS") == "bob.ops"
        assert login_named(conn, "carol") is None
        assert login_named(conn, "al\x00ice") is None
    assert login_key("Straße") == "strasse"


def test_the_migration_refuses_logins_that_clash_and_names_them(blank_engine: Engine) -> None:
    from fairtel.store._logins import LoginNameClashError

    u = table_of(User)
    with blank_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0023")
        conn.execute(u.insert(), [_login("Alice"), _login("alice"), _login("Bob"), _login("BOB"), _login("carol")])
    with pytest.raises(LoginNameClashError) as caught:
        migrate(blank_engine)
    message = str(caught.value)
    assert "'Alice' and 'alice'" in message and "'BOB' and 'Bob'" in message and "carol" not in message
    assert caught.value.code == "login_name_clash"
    assert caught.value.details == {"clashes": [["Alice", "alice"], ["BOB", "Bob"]]}
    assert current_revision(blank_engine) == "0023"  # nothing changed
    with blank_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(u)) == 5

    # the operator keeps one name of each: the migration runs
    with blank_engine.begin() as conn:
        conn.execute(delete(u).where(u.c.username.in_(["alice", "BOB"])))
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision()
    with pytest.raises(ConflictError), blank_engine.begin() as conn:
        conn.execute(u.insert().values(**_login("CAROL")))
