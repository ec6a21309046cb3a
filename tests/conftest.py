"""Shared fixtures. PostgreSQL tests use FAIRTEL_TEST_POSTGRES_URL (default: the local server, database
`test`) and are skipped, with the reason, when it is not reachable: they never silently pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The public evaluation data and real-format samples live beside the checkout (../shared), never inside it.
SHARED = Path(os.environ.get("FAIRTEL_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
POSTGRES_URL = os.environ.get("FAIRTEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set FAIRTEL_SHARED_DIR)")
    return SHARED


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        import psycopg

        dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL
