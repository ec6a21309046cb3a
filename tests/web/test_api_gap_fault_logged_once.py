"""A fault (an error the application did not answer itself) is one log record under ``fairtel serve``: the access
log's ``unexpected_error`` line, with the request id, the route template and the traceback; not a second line from
the API's guard. Neither the path as typed nor its query is in it: a value a request carried and the error quoted
(a plan's name, a customer's words) is left out, numbers or not."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.cli._serve import ACCESS_LOGGER, AccessLog
from fairtel.web import create_console

SECRET = "plan-of-zhang-wei"


def _fault(*_args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(f"cannot list the subscribers on {kwargs.get('plan_id')} (/api/v1/subscribers?plan_id={SECRET})")


def test_a_fault_is_logged_once_with_request_id_route_and_traceback_and_no_query(
        seeded: Seeded, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.api._customers as customers

    caplog.set_level(logging.DEBUG)
    with TestClient(AccessLog(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))),
                    raise_server_exceptions=False) as client:
        token = client.post("/api/v1/auth/token", data={"username": "agent1", "password": PASSWORD}).json()["access_token"]
        monkeypatch.setattr(customers, "list_subscribers", _fault)
        caplog.clear()
        answer = client.get(f"/api/v1/subscribers?plan_id={SECRET}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    request_id = answer.headers["x-request-id"]
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(faults) == 1, [(r.name, r.getMessage()[:200]) for r in faults]
    record = faults[0]
    assert record.name == ACCESS_LOGGER
    line = json.loads(record.getMessage())
    assert line["event"] == "unexpected_error" and line["request_id"] == request_id
    assert line["route"] == "/api/v1/subscribers" and line["error"] == "RuntimeError"
    assert "Traceback" in line["traceback"] and "_fault" in line["traceback"]
    everything = " ".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert SECRET not in everything
