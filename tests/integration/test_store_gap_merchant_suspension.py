"""Providers' suspensions are kept in the database (``merchant_suspensions``, migration 0015), on SQLite and on
PostgreSQL: who suspended a provider, when and why, and when it was lifted; append-only. Before, a provider was
suspended for one ``fairtel assure --suspend`` run only and nothing remembered it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fairtel.core.time import NaiveTimeError
from fairtel.store import (
    MerchantSuspension,
    current_revision,
    head_revision,
    lift_merchant,
    merchant_suspensions,
    merchant_windows,
    migrate,
    suspend_merchant,
    suspended_merchants,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def test_the_migration_adds_the_table_and_its_downgrade_drops_it(blank_engine: Engine) -> None:
    with blank_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0014")
    assert "merchant_suspensions" not in inspect(blank_engine).get_table_names()
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision() >= "0015"
    insp = inspect(blank_engine)
    assert "merchant_suspensions" in insp.get_table_names()
    assert {c["name"] for c in insp.get_columns("merchant_suspensions")} == {
        "entry_id",
        "provider_id",
        "action",
        "at",
        "actor",
        "reason",
    }
    assert "ix_merchant_suspensions_provider_id_at" in {i["name"] for i in insp.get_indexes("merchant_suspensions")}
    with blank_engine.begin() as conn:  # the CHECK holds on both databases
        suspend_merchant(conn, "sp-x", at=T, actor="ops1", reason="r")
    with pytest.raises(IntegrityError), blank_engine.begin() as conn:
        conn.execute(
            table_of(MerchantSuspension).insert().values(provider_id="sp-x", action="delete", at=T, actor="ops1")
        )
    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0014")
    assert "merchant_suspensions" not in inspect(blank_engine).get_table_names()
    migrate(blank_engine)  # and up again
    assert "merchant_suspensions" in inspect(blank_engine).get_table_names()


def test_suspend_lift_and_list(engine: Engine) -> None:
    with engine.begin() as conn:
        made = suspend_merchant(conn, " sp-melody ", at=T, actor="ops1", reason="top of the fee-stealing ranking")
        assert made is not None and made.provider_id == "sp-melody" and made.in_force
        # idempotent: suspended already, nothing written, the first suspension stays
        assert suspend_merchant(conn, "sp-melody", at=T + timedelta(hours=1), actor="ops2", reason="again") is None
        suspend_merchant(conn, "sp-other", at=T + timedelta(days=1), actor="ops1", reason="complaints")
    with engine.connect() as conn:
        assert suspended_merchants(conn) == {"sp-melody": T, "sp-other": T + timedelta(days=1)}
        assert suspended_merchants(conn, T + timedelta(hours=2)) == {"sp-melody": T}  # as it stood then
        assert suspended_merchants(conn, T - timedelta(seconds=1)) == {}
        rows = conn.execute(select(table_of(MerchantSuspension).c.action)).scalars().all()
        assert sorted(rows) == ["suspend", "suspend"]

    lifted_at = T + timedelta(days=30)
    with engine.begin() as conn:
        lifted = lift_merchant(conn, "sp-melody", at=lifted_at, actor="ops3", reason="refunds made, provider cleared")
        assert lifted is not None and (lifted.suspended_by, lifted.lifted_by, lifted.lifted_at) == (
            "ops1",
            "ops3",
            lifted_at,
        )
        assert lift_merchant(conn, "sp-melody", at=lifted_at, actor="ops3") is None  # not suspended: nothing
        with pytest.raises(ValueError, match="before its suspension"):
            lift_merchant(conn, "sp-other", at=T, actor="ops3")
    with engine.connect() as conn:
        assert suspended_merchants(conn) == {"sp-other": T + timedelta(days=1)}
        history = merchant_suspensions(conn)
        assert [(s.provider_id, s.suspended_at, s.reason, s.lifted_at, s.lift_reason) for s in history] == [
            ("sp-melody", T, "top of the fee-stealing ranking", lifted_at, "refunds made, provider cleared"),
            ("sp-other", T + timedelta(days=1), "complaints", None, None),
        ]
        assert [s.provider_id for s in merchant_suspensions(conn, in_force=True)] == ["sp-other"]
        assert merchant_windows(conn) == {"sp-melody": ((T, lifted_at),), "sp-other": ((T + timedelta(days=1), None),)}

    with engine.begin() as conn:  # suspended again later: a second window
        suspend_merchant(conn, "sp-melody", at=lifted_at + timedelta(days=5), actor="ops1", reason="back at it")
    with engine.connect() as conn:
        assert merchant_windows(conn)["sp-melody"] == ((T, lifted_at), (lifted_at + timedelta(days=5), None))


def test_bad_input_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="reason"):
            suspend_merchant(conn, "sp-x", at=T, actor="ops1", reason="  ")
        with pytest.raises(ValueError, match="provider id"):
            suspend_merchant(conn, " ", at=T, actor="ops1", reason="r")
        with pytest.raises(ValueError, match="named"):
            suspend_merchant(conn, "sp-x", at=T, actor=" ", reason="r")
        with pytest.raises(NaiveTimeError, match="no time zone"):
            suspend_merchant(conn, "sp-x", at=datetime(2026, 3, 1), actor="ops1", reason="r")
    with engine.connect() as conn:
        assert merchant_suspensions(conn) == []
