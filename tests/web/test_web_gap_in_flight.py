"""The console's pages share the API's cap on requests under way per login: a user with as many requests under way
as the cap allows (through the API or the console) is answered 429 with ``Retry-After`` at once, before a
connection is taken, and another user is served meanwhile. Without it, a burst of console posts could take every
connection of the server, as a burst of API calls did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_forms import login
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.api._deps import in_flight
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_a_console_page_past_the_cap_is_429_and_others_are_served(web: TestClient) -> None:
    services = web.app.state.services  # type: ignore[attr-defined]
    counts = in_flight(services)
    login(web, "agent1")
    assert web.get("/desk", follow_redirects=False).status_code == 200
    for _ in range(counts.limit):  # the login's requests under way elsewhere (other tabs, its API calls)
        counts.enter("user:agent1")
    try:
        r = web.get("/desk", follow_redirects=False)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        login(web, "alice")
        assert web.get("/", follow_redirects=False).status_code in (200, 303)
        assert counts.under_way("user:alice") == 0  # its page done, its place given back
    finally:
        for _ in range(counts.limit):
            counts.leave("user:agent1")
    login(web, "agent1")
    assert web.get("/desk", follow_redirects=False).status_code == 200
