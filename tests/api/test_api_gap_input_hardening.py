"""What an integrator may send that no route expects, on SQLite and PostgreSQL alike: never a 500, always the
documented error shape (``{"error": {"code", "message", "details"}}``, 422 problems as ``{"field", "message"}``).

- A NUL character in any text (a login's fields, a JSON body, a path or query parameter) is refused (PostgreSQL
  stores none: it answered 500, SQLite stored it): 422 naming the field, 401 for a login as any failed login.
- A bearer token that is not ASCII is 401 like any invalid token (it was a 500).
- A crafted offset cursor past a 64-bit integer is 422 on ``cursor`` (it was a 500).
- A 500 carries ``X-Request-ID``, ``Cache-Control: no-store`` and the security headers, and the log names the request.
- A 405's ``Allow`` names every method of the path, not only the first route's.
- A chunked body over the limit is 413; a body not UTF-8, nested too deep or with an overlong whole number is 422;
  a JSON key given twice (``{"amount": "10.00", "amount": "99999.00"}``) is 422 naming it.
- ``NewCredit.amount`` is served as a string, as the server reads it; a credit's reason reads as the statement words it.
- A repeated query parameter, a ``time_invalid`` and malformed JSON answer ``details.problems`` objects."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, USERS, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.api import ApiOptions, create_app
from fairtel.api._errors import error_response
from fairtel.core.time import BadTimeError
from fairtel.store import AccessAudit, Complaint
from fairtel.store._schema import table_of

B = "/api/v1"
SECURITY = ("x-request-id", "cache-control", "x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)

    def boom() -> None:
        raise RuntimeError("a fault no handler knows")

    app.add_api_route(f"{B}/test-boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for user in USERS:
        r = client.post(f"{B}/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = r.json()["access_token"]
    return out


def problems(r: Any) -> list[dict[str, str]]:
    body = r.json()
    assert set(body) == {"error"}, body
    found = body["error"]["details"]["problems"]
    assert all(isinstance(p, dict) and set(p) == {"field", "message"} for p in found), found
    return list(found)


def fields(r: Any) -> list[str]:
    return [p["field"] for p in problems(r)]


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def complaints(seeded: Seeded) -> int:
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table_of(Complaint))) or 0)


# ---- 1. NUL characters ----------------------------------------------------------------------------------------
def test_a_nul_in_a_login_is_a_failed_login(client: TestClient, seeded: Seeded) -> None:
    wrong = client.post(f"{B}/auth/token", data={"username": "alice", "password": "not-the-password"})
    for form in ({"username": "ab\x00c", "password": "xxxxxxxxxxxx"}, {"username": "alice", "password": PASSWORD + "\x00"}):
        r = client.post(f"{B}/auth/token", data=form)
        assert r.status_code == 401, r.text
        assert r.json() == wrong.json() and r.headers["www-authenticate"] == "Bearer"
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        actors = [row.actor for row in conn.execute(select(a.c.actor).where(a.c.action == "login.failed"))]
    assert actors and not any("\x00" in x for x in actors), actors  # on record, by the name's keyed pseudonym


def test_a_nul_in_a_json_body_is_refused_naming_the_field(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = complaints(seeded)
    r = client.post(f"{B}/complaints", json={"category": "billing_error", "text": "bad\x00charge here"}, headers=auth(tokens["alice"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "input_invalid", r.text
    assert fields(r) == ["text"] and "NUL" in problems(r)[0]["message"]
    assert complaints(seeded) == before  # neither database stored it
    nested = client.post(f"{B}/me/surveys", json={"score": 5, "extra": [{"x\x00": 1}]}, headers=auth(tokens["alice"]))
    assert nested.status_code == 422 and fields(nested) == ["extra.0.x\\u0000"], nested.text


def test_a_nul_in_a_path_or_query_parameter_is_refused_naming_it(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get(f"{B}/bills/a%00b", headers=auth(tokens["alice"]))
    assert r.status_code == 422 and fields(r) == ["bill_id"], r.text
    r = client.get(f"{B}/complaints/a%00b/history", headers=auth(tokens["alice"]))
    assert r.status_code == 422 and fields(r) == ["complaint_id"], r.text
    r = client.get(f"{B}/audit?actor=a%00b", headers=auth(tokens["admin1"]))
    assert r.status_code == 422 and fields(r) == ["actor"], r.text


# ---- 2. a bearer token that is not ASCII -----------------------------------------------------------------------
@pytest.mark.parametrize("token", ["é.é", "abc.dé", "ü"])
def test_a_token_not_in_ascii_is_not_valid(client: TestClient, token: str) -> None:
    r = client.get(f"{B}/me", headers={"Authorization": f"Bearer {token}".encode()})  # sent as UTF-8 bytes
    assert r.status_code == 401, r.text
    assert r.json()["error"] == {"code": "not_authenticated", "message": "the token is not valid"}


# ---- 3. a crafted offset cursor --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/complaints", "/audit", "/tickets", "/findings", "/fraud/cases"])
@pytest.mark.parametrize("text", ["o:99999999999999999999999", "o:9223372036854775808", "o:+5", "o:1_000"])
def test_an_offset_cursor_no_page_could_have_is_refused(client: TestClient, tokens: dict[str, str], path: str, text: str) -> None:
    who = {"/fraud/cases": "fraud1", "/findings": "analyst1"}.get(path, "admin1")
    r = client.get(f"{B}{path}", params={"cursor": cursor(text)}, headers=auth(tokens[who]))
    assert r.status_code == 422, r.text
    assert fields(r) == ["cursor"]


def test_a_large_but_possible_offset_is_an_empty_page(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get(f"{B}/complaints", params={"cursor": cursor("o:999999999999999999")}, headers=auth(tokens["admin1"]))
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["next_cursor"] is None, r.text


# ---- 4. a 500 --------------------------------------------------------------------------------------------------
def test_a_fault_answers_with_the_request_id_and_every_header(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="fairtel.api"):
        r = client.get(f"{B}/test-boom", headers={"X-Request-ID": "partner-abc"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error", r.text
    assert all(h in r.headers for h in SECURITY), r.headers
    assert r.headers["cache-control"] == "no-store" and r.headers["x-request-id"].endswith("~partner-abc")
    said = [rec.getMessage() for rec in caplog.records if rec.name == "fairtel.api"]
    assert any(r.headers["x-request-id"] in m and "RuntimeError" in m for m in said), said
    assert not any("a fault no handler knows" in m for m in said)  # the error's own text is not the log's message


# ---- 5. 405 ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "allowed"), [
    # HEAD wherever GET is, and OPTIONS: every method the path answers (RFC 9110), as OPTIONS lists them
    ("PATCH", "/me/roaming-cap", {"GET", "HEAD", "OPTIONS", "PUT"}),
    ("DELETE", "/me/subscriptions", {"GET", "HEAD", "OPTIONS", "POST"}),
    ("DELETE", "/complaints", {"GET", "HEAD", "OPTIONS", "POST"}),
    ("DELETE", "/users", {"GET", "HEAD", "OPTIONS", "POST"}),
    ("DELETE", "/me/marketing", {"GET", "HEAD", "OPTIONS", "PUT"}),
])
def test_a_405_names_every_method_of_the_path(client: TestClient, tokens: dict[str, str], method: str, path: str, allowed: set[str]) -> None:
    r = client.request(method, f"{B}{path}", headers=auth(tokens["alice"]))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed", r.text
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


# ---- 6. and 7. bodies ------------------------------------------------------------------------------------------
def test_a_chunked_body_over_the_limit_is_too_large(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = complaints(seeded)
    big = ('{"category":"billing_error","text":"' + "x" * 70_000 + '"}').encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    r = client.post(f"{B}/complaints", content=chunks(), headers={**auth(tokens["alice"]), "Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large", r.text
    assert complaints(seeded) == before


@pytest.mark.parametrize(("body", "field", "said"), [
    (b'{"category":"billing_error","text":"bad \xff charge"}', "body", "not UTF-8"),
    (b"[" * 30_000 + b"]" * 30_000, "body", "nested"),
    (b"[" * 40 + b"]" * 40, "body", "nested"),
    (b'{"category":"billing_error","text":"x","score":' + b"9" * 5000 + b"}", "body", "digits"),
    (b'{"category":', "body", "line 1 column 13"),
    (b'{"category":"billing_error","text":"not charged right"} xx', "body", "Extra data"),
    (b'{"category":"billing_error","category":"other","text":"not charged right"}', "category", "more than once"),
])
def test_a_body_no_route_could_read_is_refused_in_the_documented_shape(client: TestClient, tokens: dict[str, str], body: bytes,
                                                                       field: str, said: str) -> None:
    r = client.post(f"{B}/complaints", content=body, headers={**auth(tokens["alice"]), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "input_invalid", r.text
    (p,) = problems(r)
    assert p["field"] == field and said in p["message"], p


def test_money_given_twice_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    headers = {**auth(tokens["alice"]), "Content-Type": "application/json"}
    before = client.get(f"{B}/me/roaming-cap", headers=auth(tokens["alice"])).json()
    r = client.put(f"{B}/me/roaming-cap", content=b'{"amount":"10.00","amount":"99999.00"}', headers=headers)
    assert r.status_code == 422 and fields(r) == ["amount"], r.text
    assert client.get(f"{B}/me/roaming-cap", headers=auth(tokens["alice"])).json() == before


# ---- 8. and 9. credits -----------------------------------------------------------------------------------------
def test_a_credit_amount_is_served_as_a_string(client: TestClient) -> None:
    amount = client.get(f"{B}/openapi.json").json()["components"]["schemas"]["NewCredit"]["properties"]["amount"]
    assert amount["type"] == "string" and "anyOf" not in amount and amount["pattern"], amount


def test_a_credit_reason_reads_as_the_statement_words_it(client: TestClient, tokens: dict[str, str]) -> None:
    agent = tokens["agent1"]
    r = client.post(f"{B}/complaints", json={"msisdn": ALICE, "category": "billing", "text": "dropped calls all week",
                                             "channel": "phone"}, headers=auth(agent))
    assert r.status_code == 201, r.text
    for amount in ("1e0", " 1.00 ", "+1", 1.0):  # what the schema does not allow is not read either
        bad = client.post(f"{B}/bills/{BILL_A}/credits", json={"amount": amount, "reason": "goodwill gesture"}, headers=auth(agent))
        assert bad.status_code == 422 and fields(bad) == ["amount"], bad.text
    r = client.post(f"{B}/bills/{BILL_A}/credits", json={"amount": "1.00", "reason": "goodwill gesture"}, headers=auth(agent))
    assert r.status_code == 201, r.text
    adjustment = r.json()["adjustment"]
    assert adjustment["reason"] == "customer care credit (goodwill gesture)", adjustment
    assert adjustment["reason_zh"] == "客服调账退款（goodwill gesture）", adjustment


# ---- 10. the shape of 422s -------------------------------------------------------------------------------------
def test_a_repeated_query_parameter_answers_problem_objects(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get(f"{B}/complaints?limit=1&limit=2", headers=auth(tokens["admin1"]))
    assert r.status_code == 422 and fields(r) == ["limit"], r.text
    assert r.content.startswith(b'{"error":{"code":"input_invalid"')  # compact, as every other answer


@pytest.mark.parametrize(("period", "code"), [("2026-13", "time_invalid"), ("2026-00", "time_invalid"), ("9999-12", "input_invalid"),
                                             ("0000-01", "input_invalid"), ("２０２６-１０", "input_invalid")])
def test_a_period_out_of_range_is_refused_on_period(client: TestClient, tokens: dict[str, str], period: str, code: str) -> None:
    for path in (f"/me/bills/{period}", f"/me/usage?period={period}"):
        r = client.get(f"{B}{path}", headers=auth(tokens["alice"]))
        assert r.status_code == 422 and r.json()["error"]["code"] == code and fields(r) == ["period"], r.text


def test_a_422_of_its_own_code_answers_problem_objects() -> None:
    answer = json.loads(bytes(error_response(BadTimeError("month must be 1..12, got 13")).body))
    assert answer["error"]["code"] == "time_invalid"
    assert answer["error"]["details"]["problems"] == [{"field": "", "message": "month must be 1..12, got 13"}]
    named = json.loads(bytes(error_response(BadTimeError("not a period", details={"field": "period"})).body))
    assert named["error"]["details"] == {"field": "period", "problems": [{"field": "period", "message": "not a period"}]}
