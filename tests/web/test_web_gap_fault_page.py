"""An unexpected error behind a console page reaches the browser as a page saying what happened, in Chinese and
English, with the request id to quote and the console's headers; the API's clients keep the JSON error. Before: the
browser got the API's JSON ({"error": {"code": "internal_error", ...}}) in English."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_forms import login
from fairtel_seed import PASSWORD, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, _insight, ops
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), raise_server_exceptions=False) as c:
        yield c


def _broken(*_a: Any, **_k: Any) -> Any:
    raise RuntimeError("a fault with the row 8613800138000 in it")


def test_a_fault_behind_a_console_page_is_a_page(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    login(web, "analyst1")
    monkeypatch.setattr(ops, "kpis", _broken)
    r = web.get("/dashboard", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html"), r.text
    rid = r.headers["x-request-id"]
    assert "系统出错" in r.text and "Something went wrong" in r.text and rid in r.text
    assert "8613800138000" not in r.text and "RuntimeError" not in r.text
    assert r.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_an_api_client_keeps_the_json_error(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    token = web.post("/api/v1/auth/token", data={"username": "analyst1", "password": PASSWORD}).json()["access_token"]
    monkeypatch.setattr(_insight, "kpis", _broken)
    r = web.get("/api/v1/kpis", headers={**auth(token), "Accept": "text/html"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
