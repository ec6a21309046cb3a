"""The login's ``next`` goes back only to a path of this site, by the rule the language switch already used
(``same_site``): not ``/\\host`` (which browsers read as another site) nor a path with control characters.
Before: only a leading ``/`` and no ``//`` were checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

OWN_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("target", ["/\\evil.example/", "/\t/evil.example/", "//evil.example/", "https://evil.example/"])
def test_a_next_off_the_site_lands_on_the_home_page(web: TestClient, target: str) -> None:
    web.cookies.clear()
    r = web.post("/login", params={"next": target}, data={"username": "alice", "password": PASSWORD, "next": target},
                 headers=OWN_PAGE, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/my/bill", r.headers["location"]


def test_a_next_on_the_site_is_followed(web: TestClient) -> None:
    web.cookies.clear()
    r = web.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/my/usage"}, headers=OWN_PAGE,
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my/usage"
