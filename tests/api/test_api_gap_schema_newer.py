"""A database migrated by a newer fairtel answers 503 ``database_schema_newer`` (this server must be upgraded), not a
400 that would blame the client; no Retry-After: waiting does not help."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fairtel.api._errors import install_error_handlers
from fairtel.store._migrate import SchemaNewerError


def test_schema_newer_is_a_server_side_503() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/x")
    def x() -> None:
        raise SchemaNewerError("sqlite:///f.db: the database schema (revision 0099) is newer than this fairtel")

    r = TestClient(app).get("/x")
    assert r.status_code == 503 and r.json()["error"]["code"] == "database_schema_newer"
    assert "Retry-After" not in r.headers
