"""One subscriber login in use per line, held by the database (migration 0017: a unique partial index on
``users (msisdn) WHERE role = 'subscriber' AND NOT disabled``), on SQLite and PostgreSQL. A database that holds two
such logins for one line already has all of them disabled by the migration, each on record in the access audit;
a second login written past the application's check is refused with the same ``conflict`` as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fairtel.api import _users, create_user
from fairtel.api._users import set_disabled
from fairtel.core.errors import ConflictError
from fairtel.store import AccessAudit, Customer, Subscriber, User, current_revision, head_revision, migrate
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T0 = datetime(2025, 1, 1, tzinfo=UTC)
A, B = "8613800000001", "8613800000002"
PASSWORD = "correct horse battery"


def _lines(conn: object) -> None:
    conn.execute(table_of(Customer).insert(), [{"customer_id": "c1", "created_at": T0}])  # type: ignore[attr-defined]
    row = {
        "customer_id": "c1",
        "plan_id": "payg",
        "activated_at": T0,
        "language": "zh",
        "region": None,
        "closed_at": None,
        "suspended_at": None,
        "status": "active",
        "updated_at": T0,
    }
    conn.execute(table_of(Subscriber).insert(), [row | {"msisdn": A}, row | {"msisdn": B}])  # type: ignore[attr-defined]


def _login(username: str, msisdn: str | None, *, role: str = "subscriber", disabled: bool = False) -> dict[str, object]:
    return {
        "username": username,
        "password_hash": "x",
        "role": role,
        "msisdn": msisdn,
        "disabled": disabled,
        "created_at": T0,
    }


def _disabled(engine: Engine) -> dict[str, bool]:
    u = table_of(User)
    with engine.connect() as conn:
        return {r.username: bool(r.disabled) for r in conn.execute(select(u.c.username, u.c.disabled))}


def test_the_migration_disables_every_login_of_a_line_that_has_two_and_audits_it(blank_engine: Engine) -> None:
    with blank_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0016")
        _lines(conn)
        conn.execute(
            table_of(User).insert(),
            [
                _login("old_holder", A),
                _login("new_holder", A),
                _login("gone", A, disabled=True),  # disabled already: stays so, not audited again
                _login("own_line", B),
                _login("analyst1", None, role="fraud_analyst"),
            ],
        )
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision() >= "0017"
    assert _disabled(blank_engine) == {
        "old_holder": True,
        "new_holder": True,
        "gone": True,
        "own_line": False,
        "analyst1": False,
    }
    a = table_of(AccessAudit)
    with blank_engine.connect() as conn:
        rows = conn.execute(select(a).order_by(a.c.resource)).all()
    assert [(r.action, r.resource, r.actor, r.role, r.subject_msisdn_pseudonym) for r in rows] == [
        ("user.disable", "user/new_holder", "fairtel", "system", None),
        ("user.disable", "user/old_holder", "fairtel", "system", None),
    ]
    assert all("new_holder, old_holder" in (r.reason or "") and A not in (r.reason or "") for r in rows)
    assert rows[0].at.tzinfo is not None

    # The line gets its subscriber's login back the usual way, and the index holds from now on.
    with blank_engine.begin() as conn:
        create_user(conn, "holder", PASSWORD, "subscriber", msisdn=A)
    with pytest.raises(IntegrityError), blank_engine.begin() as conn:
        conn.execute(table_of(User).insert().values(**_login("intruder", A)))

    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0016")
    assert "uq_users_msisdn_subscriber_in_use" not in {i["name"] for i in inspect(blank_engine).get_indexes("users")}


def test_the_database_refuses_a_second_login_in_use_for_a_line(engine: Engine) -> None:
    u = table_of(User)
    with engine.begin() as conn:
        _lines(conn)
        conn.execute(
            u.insert(), [_login("holder", A), _login("former", A, disabled=True), _login("staff", None, role="agent")]
        )
        conn.execute(u.insert(), [_login("staff2", None, role="agent"), _login("other", B)])  # other lines, no line
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(u.insert().values(**_login("intruder", A)))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # enabling a former one again, written past the check
        conn.execute(u.update().where(u.c.username == "former").values(disabled=False))


def test_a_login_written_past_the_check_gets_the_same_conflict(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests racing past ``one_login_per_line`` (or a path that skips it): the index refuses the second, and
    the caller sees the ``conflict`` it always did, in a transaction still usable (the refusal is audited in it)."""
    with engine.begin() as conn:
        _lines(conn)
        create_user(conn, "holder", PASSWORD, "subscriber", msisdn=A)
        create_user(conn, "former", PASSWORD, "subscriber", msisdn=B)
        set_disabled(conn, "former", True)
        create_user(conn, "other", PASSWORD, "subscriber", msisdn=B)
    monkeypatch.setattr(_users, "one_login_per_line", lambda *a, **k: None)
    with engine.begin() as conn:
        with pytest.raises(ConflictError, match="this line has a subscriber login already") as refused:
            create_user(conn, "second", PASSWORD, "subscriber", msisdn=A)
        assert refused.value.details == {"field": "msisdn"}
        with pytest.raises(ConflictError, match="this line has a subscriber login already"):
            set_disabled(conn, "former", False)
        conn.execute(
            table_of(AccessAudit)
            .insert()
            .values(at=T0, actor="admin", role="admin", action="user.create", resource="user/second")
        )
    assert _disabled(engine) == {"holder": False, "former": True, "other": False}
