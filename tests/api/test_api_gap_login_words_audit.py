"""Logins typed in another letter case, as the audit and the admin see them, and the words of a refused login:

- an attempt typed "ALICE" (failed or successful) is written to the access audit as alice's, with her role and
  line, not as a stranger's keyed pseudonym, so guesses spread over spellings show as an attack on one login;
- an admin disabling "KIM" or making an API key for it reaches the login "kim" (it logs in as KIM already);
- in Chinese, a wrong password says so ("用户名或密码错误"), not "log in first".

Before: each spelling was a stranger in the audit, the admin was told "no user KIM", and the Chinese answer to a
wrong password asked to log in first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, client_for, seeded_on, token
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import create_user
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_on("sqlite", tmp_path_factory.mktemp("home"), None)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with client_for(seeded) as c:
        yield c


def test_attempts_in_another_case_are_the_logins_own_in_the_audit(client: TestClient, seeded: Seeded) -> None:
    assert client.post("/api/v1/auth/token", data={"username": "ALICE", "password": "wrong"}).status_code == 401
    token(client, "Alice")
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.actor, t.c.role, t.c.action, t.c.subject_msisdn_pseudonym)
                            .where(t.c.action.in_(("login.failed", "login.succeeded")))).all()
    line = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")(ALICE)
    ours = [r for r in rows if r.actor == "alice"]
    assert {r.action for r in ours} >= {"login.failed", "login.succeeded"}, rows
    assert all(r.role == "subscriber" and r.subject_msisdn_pseudonym == line for r in ours)


def test_an_admin_reaches_a_login_whatever_its_case(client: TestClient, seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        create_user(conn, "kim", PASSWORD, "analyst")
    admin = token(client, "admin1")
    r = client.post("/api/v1/users/KIM/api-keys", json={"label": "reports"}, headers=admin)
    assert r.status_code in (200, 201), r.text
    r = client.post("/api/v1/users/KIM/disable", headers=admin)
    assert r.status_code in (200, 204), r.text
    assert client.post("/api/v1/auth/token", data={"username": "kim", "password": PASSWORD}).status_code == 401


def test_a_wrong_password_in_chinese_says_so(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong"},
                    headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert r.json()["error"]["message"] == "用户名或密码错误。"
