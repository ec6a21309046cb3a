"""The console when a number changed hands, and the roaming cap's currency.

A subscriber login made before its line's current activation is refused (``line_changed_hands``): the console's login
page says why, in the reader's language (the number changed hands; ask for a new login), as an alert, not "wrong
username or password"; a session of such a login lands on the login page with the same words. The error page knows
the code's title and Chinese sentence. The roaming-cap page sets and shows a cap in the catalog's currency, the one
roaming is charged in, not in the settings' default, which may differ from it."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_forms import csrf, login
from fairtel_seed import ALICE, PASSWORD, Seeded, seed
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fairtel.api import ApiOptions
from fairtel.bootstrap import App, bootstrap
from fairtel.core.time import utc_now
from fairtel.store import RoamingCap, Subscriber
from fairtel.store._schema import Customer, LineStatusHistory, table_of
from fairtel.web import create_console
from fairtel.web._i18n import ERROR_ZH_OTHER, error_text, error_title

BOB = "8613900139000"
SAID = {
    "en": "This login was made before the number changed hands",
    "zh": "该号码已更换机主",
}
ASK = {"en": "Ask the operator's administrator for a new login.", "zh": "请联系运营商管理员为您开通新的登录账号。"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed(tmp_path_factory.mktemp("home"))
    yield s
    s.engine.dispose()


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> Iterator[App]:
    # the operator's default currency set apart from its catalog's (CNY)
    a = bootstrap(seeded.settings.model_copy(update={"currency": "USD"}))
    assert seeded.catalog.operator.currency == "CNY" and a.settings.currency == "USD"
    yield a
    a.close()


@pytest.fixture(scope="module")
def web(app: App) -> Iterator[TestClient]:
    # the account is read on every request (no cache), so a change of the register counts at once
    with TestClient(create_console(app.settings, options=ApiOptions(rate_per_second=0, user_cache_s=0), app=app)) as c:
        yield c


@pytest.fixture(scope="module")
def stale(seeded: Seeded, web: TestClient) -> str:
    """Alice's session, made before the register activates her number again for another customer."""
    login(web, "alice")
    cookie = web.cookies.get("fairtel_session")
    assert cookie
    assert web.get("/my/bill", follow_redirects=False).status_code == 200
    activated = utc_now().replace(microsecond=0) + timedelta(seconds=1)
    time.sleep((activated - utc_now()).total_seconds() + 0.01)
    s, h = table_of(Subscriber), table_of(LineStatusHistory)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cust-new", name=None, segment=None, created_at=activated))
        conn.execute(update(s).where(s.c.msisdn == ALICE).values(customer_id="cust-new", activated_at=activated))
        conn.execute(h.insert().values(msisdn=ALICE, status="active", since=activated, recorded_at=activated, source="register"))
    web.cookies.clear()
    return cookie


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_login_refused_because_the_number_changed_hands_says_so(web: TestClient, stale: str, lang: str) -> None:
    web.cookies.clear()
    web.cookies.set("fairtel_lang", lang)
    r = web.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403, r.text
    said = re.search(r'<p class="error" id="login-changed-hands" role="alert">([^<]*)</p>', r.text)
    assert said, r.text
    assert SAID[lang] in html.unescape(said.group(1)) and ASK[lang] in html.unescape(said.group(1))
    assert "Wrong username or password" not in r.text and "用户名或密码错误" not in r.text
    assert 'aria-describedby="login-changed-hands"' in r.text and 'value="alice"' in r.text
    assert "fairtel_session" not in r.headers.get("set-cookie", "")
    web.cookies.clear()
    # a wrong password is still only a wrong password
    r = web.post("/login", data={"username": "alice", "password": "not-the-password"}, follow_redirects=False)
    assert r.status_code == 401 and 'id="login-changed-hands"' not in r.text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_session_of_such_a_login_lands_on_the_login_page_with_the_reason(web: TestClient, stale: str, lang: str) -> None:
    web.cookies.clear()
    web.cookies.set("fairtel_lang", lang)
    web.cookies.set("fairtel_session", stale)
    r = web.get("/my/bill", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = web.get(r.headers["location"])
    assert r.status_code == 200
    said = re.search(r'<p class="error" id="login-changed-hands" role="alert">([^<]*)</p>', r.text)
    assert said and SAID[lang] in said.group(1), r.text
    web.cookies.clear()
    web.cookies.set("fairtel_lang", lang)
    assert 'id="login-changed-hands"' not in web.get("/login").text  # no session: the plain login page


def test_the_error_page_knows_the_code() -> None:
    assert error_title("line_changed_hands", "zh") == "号码已更换机主"
    assert error_title("line_changed_hands", "en") == "Number changed hands"
    zh = error_text("line_changed_hands", "the number changed hands", "zh")
    assert zh != ERROR_ZH_OTHER and "更换机主" in zh and "管理员" in zh


def _latest_cap(seeded: Seeded, msisdn: str) -> tuple[int | None, str | None]:
    t = table_of(RoamingCap)
    with seeded.engine.connect() as conn:
        r = conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == msisdn)
                         .order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).one()
    return r.amount_minor, r.currency


def test_the_roaming_cap_page_uses_the_catalogs_currency(seeded: Seeded, web: TestClient) -> None:
    login(web, "bob", "en")
    page = web.get("/my/roaming")
    assert page.status_code == 200
    assert "Monthly roaming spending cap (CNY)" in page.text and "USD" not in page.text
    r = web.post("/my/roaming", data={"csrf": csrf(page.text), "amount": "50.00"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert _latest_cap(seeded, BOB) == (5000, "CNY")
    page = web.get("/my/roaming")
    assert re.search(r'id="cap-now">[^<]*<strong>[^<]*50', page.text) and "USD" not in page.text
