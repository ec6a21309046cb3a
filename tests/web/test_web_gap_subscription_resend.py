"""The console's order page lets a subscriber whose SMS did not arrive ask for a new code: too soon after the last
one is refused with the wait (429, Retry-After), later a new code comes, the old one stops working, and the new
one confirms the order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_forms import csrf, login
from fairtel_seed import ALICE, Seeded, confirm_codes
from fastapi.testclient import TestClient

import fairtel.api._access as access_module
from fairtel.api import ApiOptions
from fairtel.api._subscriptions import RESEND_INTERVAL
from fairtel.core.time import utc_now
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c



def test_a_new_code_from_the_order_page(web: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    login(web, "alice", "en")
    token = csrf(web.get("/my/subscriptions").text)
    r = web.post("/my/subscriptions", data={"csrf": token, "offer_id": "vas-horoscope-6"}, follow_redirects=False)
    page = web.get(r.headers["location"]).text
    sid = re.search(r'id="confirm-([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert f'action="/my/subscriptions/{sid}/resend-code"' in page and "Send a new code" in page
    first = confirm_codes(seeded, ALICE)[-1]

    soon = web.post(f"/my/subscriptions/{sid}/resend-code", data={"csrf": token}, follow_redirects=False)
    assert soon.status_code == 429 and 0 < int(soon.headers["Retry-After"]) <= RESEND_INTERVAL.total_seconds()
    assert confirm_codes(seeded, ALICE)[-1] == first

    later = utc_now() + RESEND_INTERVAL + timedelta(seconds=5)
    monkeypatch.setattr(access_module, "utc_now", lambda: later)
    monkeypatch.setattr("fairtel.api._subscriptions.utc_now", lambda: later)
    r = web.post(f"/my/subscriptions/{sid}/resend-code", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my/subscriptions?msg=code_resent_ok"
    assert "A new code is on its way by SMS" in web.get(r.headers["location"]).text
    codes = confirm_codes(seeded, ALICE)
    second = codes[-1]
    assert len(codes) >= 2 and codes[-2] == first

    assert second != first
    old = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": token, "code": first})  # no longer works
    assert old.status_code in (409, 422)
    done = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": token, "code": second}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/my/subscriptions?msg=confirmed_ok"

