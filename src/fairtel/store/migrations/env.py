"""Alembic environment: runs on the connection handed in by ``fairtel.store.migrate``.

Migrations use plain SQLAlchemy types only (``UTCDateTime`` renders as ``sa.DateTime(timezone=True)``,
``CurrencyCode`` as ``sa.CHAR(length=3)``), so an old migration never breaks when the package's own types
change.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from fairtel.store._schema import metadata
from fairtel.store._types import CurrencyCode, UTCDateTime

config = context.config


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, CurrencyCode):
        return "sa.CHAR(length=3)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters a table by copying it
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:  # the `alembic` command line, with sqlalchemy.url set; an error never shows the statement's parameters
    with create_engine(config.get_main_option("sqlalchemy.url") or "", hide_parameters=True).connect() as conn:
        _run(conn)
        conn.commit()
