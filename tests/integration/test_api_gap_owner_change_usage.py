"""A VAS charge refused ``previous_holder`` after an owner change (过户: the register's ``holder_since``), as the line's
new customer reads their usage: ``/me/usage`` and the console's "My bill" page show it refused, at nothing, with the
verdict and why, but not the subscription it was made under (``c1-music``, the previous customer's); their own
subscription's charge keeps its id.

Line A is customer c1's since 2025 (c1 subscribed to music in February); from 10 March 2026 it is customer c9's.
The music provider charges A on 11 March under c1's subscription: refused ``previous_holder``.

Before: ``/me/usage`` gave c9 the line's ``subscription_id`` ``c1-music``. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from test_consent_gap_owner_change_home import A, P, _change_owner, _json, _ok, _operator

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.web import create_console

PASSWORD = "correct-horse-battery"
SUBSCRIBER = "c9-login"


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    _ok("load", str(_operator(tmp_path, usage=True)), "--home", str(home))
    _change_owner(tmp_path, home)
    _json(home, "rate", "--period", P)
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            create_user(conn, SUBSCRIBER, PASSWORD, "subscriber", msisdn=A)
    finally:
        app.close()
    return home


def _headers(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _music(page: dict[str, Any]) -> dict[str, Any]:
    (line,) = [u for u in page["items"] + page["not_on_bill"] if u["record_id"] == "music-mar11"]
    return line


def test_the_new_customer_is_told_the_refused_charge_without_the_previous_customer_s_subscription(
        tmp_path: Path, database: str | None) -> None:
    home = _home(tmp_path)
    settings = load_settings(home=home)
    for issued in (False, True):
        if issued:
            _json(home, "bill", "--period", P, "--issue")
        with TestClient(create_app(settings, options=ApiOptions(rate_per_second=0, user_cache_s=0))) as api:
            r = api.get("/api/v1/me/usage", params={"period": P}, headers=_headers(api, SUBSCRIBER))
            assert r.status_code == 200, r.text
            music = _music(r.json())
            assert music["verdict"] == "previous_holder" and music["amount"] == "0.00", music
            assert music["subscription_id"] is None, music
            assert "owner change" in music["why"]["en"] and "订购早于号码过户" in music["why"]["zh"], music["why"]
            if issued:
                assert (music["on_bill"], music["status"]) == (False, "not_billed")
            assert "c1-music" not in r.text and "c1-video" not in r.text
            # c9's own subscription is theirs to see
            own = [u for u in r.json()["items"] if u["record_id"] == "video-mar13"]
            assert [u["subscription_id"] for u in own] == ["c9-video"]
        with TestClient(create_console(settings, options=ApiOptions(rate_per_second=0))) as web:
            r = web.post("/login", data={"username": SUBSCRIBER, "password": PASSWORD}, follow_redirects=False)
            assert r.status_code == 303, r.text
            page = web.get("/my/bill", params={"period": P})
            assert page.status_code == 200, page.text
            assert "consent given before the line&#39;s owner change" in page.text, page.text
            assert "c1-music" not in page.text
