"""A PostgreSQL login that may connect but not use fairtel's tables (a role without grants, a read-only role that
meets a migration) ends a command with ``database_unavailable`` naming the refusal, exit 2 and JSON under
``--json``, as an unreachable database does; before, a 100-line traceback and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest


def test_a_login_without_privileges_is_a_clear_database_error(postgres_url: str, tmp_path: Path) -> None:
    role = f"fairtel_noprivs_{uuid.uuid4().hex[:8]}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        url = postgres_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{role}@")
        if url == postgres_url:
            pytest.skip("the test database URL does not log in as postgres: cannot swap in another role")
        env = {**os.environ, "FAIRTEL_DATABASE_URL": url, "FAIRTEL_HOME": str(tmp_path / "home")}
        run = subprocess.run([sys.executable, "-c", "from fairtel.cli import main; main()", "kpi", "--period", "2026-09", "--json"],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
        if "password authentication failed" in run.stdout + run.stderr:
            pytest.skip("the server asks the new role for a password")
        assert run.returncode == 2, run.stderr[-2000:]
        error = json.loads(run.stdout)["error"]
        assert error["code"] == "database_unavailable" and "permission denied" in error["message"]
        assert "Traceback" not in run.stderr
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
