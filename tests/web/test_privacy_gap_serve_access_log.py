"""``fairtel serve`` logs each request (``cli._serve.AccessLog``): one JSON object a line with the method, the route's
template (never the path or its query, which may hold numbers), the status, the duration and the request id the
answer carries; an unexpected error once, at ERROR, with that request id and its traceback, and no number of the
database's statement in it (``hide_parameters``), where the server's own log had every subscriber's number."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded
from fastapi.testclient import TestClient
from sqlalchemy import text

from fairtel.api import ApiOptions
from fairtel.cli._serve import ACCESS_LOGGER, AccessLog, log_config
from fairtel.web import create_console

NUMBERS = (ALICE, BOB, CAROL, ALICE[2:], BOB[2:], CAROL[2:])


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def _client(seeded: Seeded) -> TestClient:
    return TestClient(AccessLog(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))),
                      raise_server_exceptions=False)


def test_each_request_is_one_json_line_with_its_route_template_and_request_id(
        seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with _client(seeded) as client:
        caplog.clear()
        denied = client.get(f"/api/v1/subscribers/{ALICE}/bills?msisdn={BOB}", headers={"X-Request-ID": "corr-1"})
        missing = client.get(f"/api/v1/no-such-place/{CAROL}")
        health = client.get("/api/v1/health")
    assert denied.status_code == 401 and missing.status_code == 404 and health.status_code == 200
    lines = _lines(caplog)
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("GET", "/api/v1/subscribers/{msisdn}/bills", 401), ("GET", "unmatched", 404), ("GET", "/api/v1/health", 200)]
    assert [x["request_id"] for x in lines] == [r.headers["x-request-id"] for r in (denied, missing, health)]
    assert lines[0]["request_id"].endswith("~corr-1")
    assert all(isinstance(x["ms"], float) and x["ts"].endswith("+00:00") for x in lines)
    logged = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert not [n for n in NUMBERS if n in logged] and "?" not in logged


def test_an_unexpected_database_error_is_logged_once_with_its_request_id_and_no_number(
        seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with seeded.engine.begin() as conn:  # a fault of the schema, as a migration gone wrong would leave
        conn.execute(text("ALTER TABLE subscriber_plans RENAME TO subscriber_plans_x"))
    try:
        with _client(seeded) as client:
            token = client.post("/api/v1/auth/token", data={"username": "agent1", "password": PASSWORD}).json()
            caplog.clear()
            answer = client.get("/api/v1/subscribers?status=active",
                                headers={"Authorization": f"Bearer {token['access_token']}"})
    finally:
        with seeded.engine.begin() as conn:
            conn.execute(text("ALTER TABLE subscriber_plans_x RENAME TO subscriber_plans"))
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    request_id = answer.headers["x-request-id"]
    lines = _lines(caplog)
    errors = [x for x in lines if x["event"] == "unexpected_error"]
    assert len(errors) == 1 and errors[0]["request_id"] == request_id and errors[0]["route"] == "/api/v1/subscribers"
    assert "subscriber_plans" in errors[0]["traceback"] and "[SQL:" in errors[0]["traceback"]
    assert [(x["route"], x["status"], x["request_id"]) for x in lines if x["event"] == "request"] == [
        ("/api/v1/subscribers", 500, request_id)]
    everything = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert not [n for n in NUMBERS if n in everything]
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]  # not logged twice, unredacted


def test_the_server_writes_the_access_log_to_stderr_as_it_is() -> None:
    config = log_config("info")
    assert config["loggers"][ACCESS_LOGGER]["handlers"] == ["fairtel_json"]
    assert config["formatters"]["fairtel_json"] == {"format": "%(message)s"}
    assert config["handlers"]["fairtel_json"]["stream"] == "ext://sys.stderr"
