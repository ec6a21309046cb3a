"""OLTP tables (SQLAlchemy 2: SQLite or PostgreSQL, Alembic) and the usage lake (Parquet + DuckDB)."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine


def connect(url: str) -> Engine:
    return create_engine(url, future=True)


__all__ = ["connect"]
