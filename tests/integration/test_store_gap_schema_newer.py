"""An older fairtel on a database a newer one migrated: a clear error naming both revisions, exit code 2, and
nothing touched, instead of Alembic's "Can't locate revision identified by …" traceback. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from fairtel.store import connect, head_revision, migrate
from fairtel.store._migrate import SchemaNewerError

FUTURE = "9999_from_a_newer_fairtel"
FAIRTEL = Path(sys.executable).with_name("fairtel")


def _as_if_newer(engine: Engine) -> set[str]:
    """Stamp a revision this package does not ship, as a newer fairtel's migration would; the tables there."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": FUTURE})
    return set(inspect(engine).get_table_names())


def test_migrate_refuses_a_newer_schema_and_says_so(engine: Engine) -> None:
    tables = _as_if_newer(engine)
    with pytest.raises(SchemaNewerError) as info:
        migrate(engine)
    message = str(info.value)
    assert f"the database schema (revision {FUTURE}) is newer than this fairtel (head {head_revision()})" in message
    assert message.endswith("upgrade fairtel") and info.value.code == "database_schema_newer"
    # nothing was changed: the newer fairtel's revision and tables stay as they were
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == FUTURE
    assert set(inspect(engine).get_table_names()) == tables


def test_a_database_at_head_is_still_migrated_quietly(engine: Engine) -> None:
    migrate(engine)  # already at head: nothing to do, no error
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def newer_home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A home whose database a newer fairtel migrated, and the environment that points fairtel at it."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRTEL_")}
    if request.param == "sqlite":
        env["FAIRTEL_DATABASE_URL"] = url = f"sqlite:///{home / 'fairtel.db'}"
        engine = migrate(connect(url))
        _as_if_newer(engine)
        engine.dispose()
        yield home, env
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = migrate(connect(base, schema=schema))
    _as_if_newer(engine)
    engine.dispose()
    env["FAIRTEL_DATABASE_URL"] = f"{base}?options=-csearch_path%3D{schema}"
    try:
        yield home, env
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("command", [["kpi"], ["catalog", "show"]])
def test_the_command_line_says_upgrade_fairtel_and_exits_2(newer_home: tuple[Path, dict[str, str]],
                                                           command: list[str]) -> None:
    home, env = newer_home
    done = subprocess.run([str(FAIRTEL), "--home", str(home), *command], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Can't locate revision" not in done.stderr
    assert "database_schema_newer" in done.stderr
    assert f"is newer than this fairtel (head {head_revision()}): upgrade fairtel" in " ".join(done.stderr.split())
