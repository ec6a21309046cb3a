"""A form posted after the idle timeout went to the login page without the page it came from, so logging in again
landed on the home page and the form was lost. Each console form now says the page it is on (a hidden ``page``
field beside its token: the console's pages ask browsers to send no ``Referer``), else a same-site ``Referer`` says
it; that page is where the login comes back to. Another site's, an absolute URL, the API's or the login's never is.
The clock is the test's own."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from console_forms import csrf, login
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.core.time import utc_now
from fairtel.web import create_console
from fairtel.web._session import SessionPolicy

BASE = "http://testserver"


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def web(seeded: Seeded, clock: Clock) -> Iterator[TestClient]:
    app = create_console(seeded.settings, options=ApiOptions(rate_per_second=0), sessions=SessionPolicy(clock=clock))
    with TestClient(app, base_url=BASE) as c:
        yield c


def _post_idle(web: TestClient, clock: Clock, referer: str | None, page_field: str | None = None) -> str:
    clock.now = utc_now()
    login(web, "bob", "en")
    page = web.get("/my/roaming")
    assert page.status_code == 200
    clock.now += timedelta(minutes=45)
    headers = {} if referer is None else {"referer": referer}
    data = {"csrf": csrf(page.text), "amount": "50.00"} | ({} if page_field is None else {"page": page_field})
    r = web.post("/my/roaming", data=data, headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


@pytest.mark.parametrize(("referer", "back"), [
    (f"{BASE}/my/roaming", "/my/roaming"),
    (f"{BASE}/my/bill?period=2026-10", "/my/bill?period=2026-10"),
])
def test_a_post_after_the_timeout_comes_back_to_the_page_it_was_posted_from(web: TestClient, clock: Clock, referer: str,
                                                                           back: str) -> None:
    target = urlsplit(_post_idle(web, clock, referer))
    assert target.path == "/login"
    query = parse_qs(target.query)
    assert query["ended"] == ["idle"] and query["next"] == [back]
    # the login page carries it on, and logging in comes back there
    clock.now = utc_now()
    form = web.get(f"/login?ended=idle&next={target.query.split('next=')[1]}").text
    assert f'name="next" value="{back.replace("&", "&amp;")}"' in form or f'value="{back}"' in form


@pytest.mark.parametrize("referer", [
    None, "https://elsewhere.example/my/roaming", "http://evil.example/my/roaming", "https://testserver/my/roaming",
    f"{BASE}/api/v1/me", f"{BASE}/login?next=/my/roaming", f"{BASE}//evil.example/x", "/my/roaming", "not a url",
])
def test_another_sites_or_a_non_page_referer_is_not_followed(web: TestClient, clock: Clock, referer: str | None) -> None:
    assert _post_idle(web, clock, referer) == "/login?ended=idle"


def test_a_form_says_its_page_and_a_post_after_the_timeout_comes_back_to_it(web: TestClient, clock: Clock) -> None:
    clock.now = utc_now()
    login(web, "agent1", "en")
    desk = web.get("/desk", params={"status": "all"})
    fields = dict(re.findall(r'<input type="hidden" name="(csrf|page)" value="([^"]*)">', desk.text))
    assert html.unescape(fields["page"]) == "/desk?status=all"  # what a browser posts with the form, no Referer
    clock.now += timedelta(minutes=45)
    r = web.post("/desk/cmp-1/take", data={k: html.unescape(v) for k, v in fields.items()}, follow_redirects=False)
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/login" and parse_qs(target.query)["next"] == ["/desk?status=all"]


@pytest.mark.parametrize("page_field", ["https://evil.example/x", "//evil.example/x", "/api/v1/me", "/login", "desk", ""])
def test_a_page_field_not_a_console_page_is_not_followed(web: TestClient, clock: Clock, page_field: str) -> None:
    assert _post_idle(web, clock, None, page_field) == "/login?ended=idle"
