"""HEAD and OPTIONS against the server as it runs (uvicorn on a loopback port): HEAD answers as GET does, without
the body (the same status and headers, ``Content-Length`` included), behind the same login and permission checks;
OPTIONS answers 204 with the path's methods in ``Allow`` and no CORS header. Both answered 405 before."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, auth

B = "/api/v1"
SAME = ("content-type", "content-length", "cache-control", "x-content-type-options", "content-security-policy",
        "www-authenticate", "content-language", "vary")


@pytest.fixture(scope="module")
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(http: httpx.Client) -> dict[str, str]:
    out = {}
    for user in ("alice", "agent1"):
        r = http.post(f"{B}/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = r.json()["access_token"]
    return out


def _compare(http: httpx.Client, path: str, headers: dict[str, str]) -> tuple[int, httpx.Response]:
    got = http.get(path, headers=headers)
    head = http.head(path, headers=headers)
    assert head.status_code == got.status_code, (path, head.status_code, got.status_code, got.text[:200])
    assert head.content == b""
    for name in SAME:
        assert head.headers.get(name) == got.headers.get(name), (path, name, head.headers.get(name), got.headers.get(name))
    return got.status_code, head


def test_head_answers_as_get_without_the_body(http: httpx.Client, tokens: dict[str, str]) -> None:
    status, head = _compare(http, f"{B}/health", {})
    assert status == 200 and int(head.headers["content-length"]) > 0
    status, head = _compare(http, f"{B}/me/roaming-cap", auth(tokens["alice"]))
    assert status == 200 and int(head.headers["content-length"]) > 0 and head.headers["x-request-id"]
    status, _ = _compare(http, f"{B}/me/bills", auth(tokens["alice"]))
    assert status == 200


def test_head_needs_what_get_needs_and_tells_no_more(http: httpx.Client, tokens: dict[str, str]) -> None:
    status, _ = _compare(http, f"{B}/me/roaming-cap", {})
    assert status == 401
    status, _ = _compare(http, f"{B}/subscribers", auth(tokens["alice"]))
    assert status == 403
    # a subscriber asking for another line, one that exists and one that does not: as GET answers, the same for both
    there, _ = _compare(http, f"{B}/subscribers/{BOB}/bills", auth(tokens["alice"]))
    nowhere, _ = _compare(http, f"{B}/subscribers/8613311112222/bills", auth(tokens["alice"]))
    assert there == nowhere and there in (403, 404)
    # an agent not handling the customer: refused as GET is
    status, _ = _compare(http, f"{B}/subscribers/{ALICE}/bills", auth(tokens["agent1"]))
    assert status == 403
    status, _ = _compare(http, f"{B}/no-such-place", {})
    assert status == 404


def test_options_answers_204_with_the_methods_of_the_path(http: httpx.Client, tokens: dict[str, str]) -> None:
    r = http.options(f"{B}/me/roaming-cap")
    assert r.status_code == 204 and r.content == b""
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS", "PUT"}
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    assert r.headers["x-request-id"] and r.headers["x-content-type-options"] == "nosniff"
    r = http.options(f"{B}/auth/token")
    assert r.status_code == 204 and {m.strip() for m in r.headers["allow"].split(",")} == {"OPTIONS", "POST"}
    r = http.options(f"{B}/subscribers/{ALICE}/bills", headers=auth(tokens["alice"]))
    assert r.status_code == 204 and {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert http.options(f"{B}/no-such-place").status_code == 404


def test_head_on_a_path_without_get_is_405_naming_the_methods(http: httpx.Client) -> None:
    r = http.head(f"{B}/auth/token")
    assert r.status_code == 405 and r.content == b""
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"OPTIONS", "POST"}


def test_the_access_log_names_a_heads_route(seeded: Seeded, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions
    from fairtel.cli._serve import ACCESS_LOGGER, AccessLog
    from fairtel.web import create_console

    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    with TestClient(AccessLog(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)))) as client:
        caplog.clear()
        assert client.head(f"{B}/health").status_code == 200
        assert client.options(f"{B}/health").status_code == 204
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(x["method"], x["route"], x["status"]) for x in lines][:1] == [("HEAD", f"{B}/health", 200)]
    assert lines[1]["method"] == "OPTIONS" and lines[1]["status"] == 204
