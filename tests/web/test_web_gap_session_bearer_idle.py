"""A console session ended after 30 minutes without use only on its next console request: the same token, copied from
the cookie and sent to the API as a bearer, went on working for the rest of its 8 hours. A console session's token is
now held to the idle timeout wherever it is presented: the API refuses it, as it refuses an expired token (401
``not_authenticated``, in Chinese or English), once its session has gone unused for the timeout, counted from the last
use its signed ``fairtel_seen`` cookie says or, without one, from its login. The API's use of it is not use of the
session. Tokens an API client got from ``POST /api/v1/auth/token``, and API keys, keep their own rules. The clock is
the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from console_forms import login
from fairtel_seed import Seeded, client_for, token
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, Principal
from fairtel.api._security import CONSOLE_SESSION, SEEN_COOKIE, seen_value
from fairtel.core.time import utc_now
from fairtel.privacy import Role
from fairtel.web import create_console
from fairtel.web._session import SessionPolicy


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


EXPIRED = {"en": "the token has expired", "zh": "登录已过期，请重新登录。"}


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _now(clock: Clock) -> None:
    clock.now = utc_now()  # each test's sessions start on the real clock (a token's login time is real)


@pytest.fixture(scope="module")
def web(seeded: Seeded, clock: Clock) -> Iterator[TestClient]:
    app = create_console(seeded.settings, options=ApiOptions(rate_per_second=0), sessions=SessionPolicy(clock=clock))
    with TestClient(app) as c:
        yield c


def _console_token(web: TestClient, user: str) -> str:
    """A console login's token, as a copy of its cookie holds it."""
    login(web, user)
    session = web.cookies.get("fairtel_session")
    assert session
    return session


def _bearer(web: TestClient, session: str, *, seen: str | None = None, lang: str = "en") -> tuple[int, dict[str, object], dict[str, str]]:
    """``GET /api/v1/auth/me`` with the token as a bearer (and, when given, its ``fairtel_seen`` cookie only): its
    status, its body (an error's ``error``) and its headers."""
    web.cookies.clear()
    if seen is not None:
        web.cookies.set(SEEN_COOKIE, seen)
    r = web.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session}", "Accept-Language": lang})
    web.cookies.clear()
    body = r.json()
    return r.status_code, body.get("error", body), dict(r.headers)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_copied_console_token_is_refused_by_the_api_after_the_idle_timeout(web: TestClient, clock: Clock, lang: str) -> None:
    session = _console_token(web, "alice")
    clock.advance(20)
    status, body, _ = _bearer(web, session, lang=lang)
    assert status == 200 and body["username"] == "alice", body
    # the API's use is not use of the session: 29 minutes after the login, 9 after the last API request, it works ...
    clock.advance(9)
    assert _bearer(web, session, lang=lang)[0] == 200
    # ... and at 31 minutes after the login it is refused as an expired token is, in the caller's language
    clock.advance(2)
    status, body, headers = _bearer(web, session, lang=lang)
    assert status == 401, body
    assert body["code"] == "not_authenticated"
    assert str(body["message"]).startswith(EXPIRED[lang]), body
    assert headers.get("www-authenticate", "").startswith("Bearer"), headers
    # for the rest of its 8 hours, however often it is tried
    clock.advance(60)
    assert _bearer(web, session, lang=lang)[0] == 401


def test_console_use_keeps_the_token_in_use_for_the_api_by_its_last_use_cookie(web: TestClient, clock: Clock) -> None:
    login(web, "agent1")
    assert web.get("/desk", follow_redirects=False).status_code == 200
    clock.advance(25)
    assert web.get("/desk", follow_redirects=False).status_code == 200  # console use: its last use moves to now
    session, seen = web.cookies.get("fairtel_session"), web.cookies.get(SEEN_COOKIE)
    assert session and seen
    clock.advance(10)  # 35 minutes after the login, 10 after the last use
    assert _bearer(web, session, seen=seen)[0] == 200
    # without its last use, the API cannot tell the session is in use: it counts from the login; nothing is ended
    status, body, _ = _bearer(web, session)
    assert status == 401 and body["code"] == "not_authenticated", body
    clock.advance(21)  # 31 minutes after the last use
    status, body, _ = _bearer(web, session, seen=seen)
    assert status == 401 and str(body["message"]).startswith("the token has expired"), body
    # a last use the server did not sign for this token counts for nothing
    forged = f"{int(clock().timestamp())}.{seen.partition('.')[2]}"
    assert _bearer(web, session, seen=forged)[0] == 401


def test_a_refusal_by_the_api_does_not_end_a_session_in_use(web: TestClient, clock: Clock) -> None:
    login(web, "analyst1")
    clock.advance(20)
    assert web.get("/dashboard", follow_redirects=False).status_code == 200
    session, seen = web.cookies.get("fairtel_session"), web.cookies.get(SEEN_COOKIE)
    assert session and seen
    clock.advance(20)
    assert _bearer(web, session)[0] == 401  # the bare token: 40 minutes since the login
    web.cookies.set("fairtel_session", session)
    web.cookies.set(SEEN_COOKIE, seen)
    r = web.get("/dashboard", follow_redirects=False)  # the browser's session, used 20 minutes ago, goes on
    assert r.status_code == 200, r.headers.get("location")
    web.cookies.clear()


def test_an_api_clients_token_is_not_timed_out_by_console_idleness(web: TestClient, clock: Clock) -> None:
    web.cookies.clear()
    headers = token(web, "alice")
    clock.advance(45)
    r = web.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 200, r.text
    # nor one issued 45 minutes ago on the real clock, which only its own lifetime ends
    services = web.app.state.services  # type: ignore[attr-defined]
    old = services.signer.issue(Principal(username="alice", role=Role.SUBSCRIBER, msisdn="8613800138000"),
                                now=utc_now() - timedelta(minutes=45))
    assert services.signer.verify(old).session is None
    r = web.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 200, r.text


def test_the_console_issues_its_sessions_tokens_as_such(web: TestClient) -> None:
    session = _console_token(web, "bob")
    services = web.app.state.services  # type: ignore[attr-defined]
    assert services.signer.verify(session).session == CONSOLE_SESSION
    web.cookies.clear()
    api = web.post("/api/v1/auth/token", data={"username": "bob", "password": "correct-horse-battery"})
    assert api.status_code == 200
    assert services.signer.verify(api.json()["access_token"]).session is None


def test_the_api_alone_holds_console_tokens_to_the_settings_timeout(seeded: Seeded) -> None:
    """Served without the console (``create_app``), the API still refuses a console session's token gone unused
    for ``console_idle_minutes``, on the real clock."""
    with client_for(seeded) as c:
        signer = c.app.state.services.signer  # type: ignore[attr-defined]
        who = Principal(username="fraud1", role=Role.FRAUD_ANALYST)
        stale = signer.issue(who, now=utc_now() - timedelta(minutes=31), session=CONSOLE_SESSION)
        r = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {stale}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", r.text
        fresh = signer.issue(who, now=utc_now() - timedelta(minutes=29), session=CONSOLE_SESSION)
        assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
        # used 5 minutes ago, as its signed last-use cookie says
        seen = seen_value(signer.derive, stale, utc_now() - timedelta(minutes=5))
        c.cookies.set(SEEN_COOKIE, seen)
        assert c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {stale}"}).status_code == 200
        c.cookies.clear()
