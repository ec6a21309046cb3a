"""The HTTP layer's errors read as sentences in English too (they read Starlette's bare "Method Not Allowed" and
"Not Found", while Chinese had sentences), without the path asked for (it may hold a number); a model's problems
carry no "Value error, " prefix of pydantic's, and a null credit amount is told it is required, not a JSON number."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, auth
from fastapi.testclient import TestClient

EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert body["code"] == code, body
    return body


def test_a_method_the_path_does_not_answer_is_said_in_a_sentence(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get("/api/v1/auth/token", headers=EN)
    assert _error(r, 405, "method_not_allowed")["message"] == "this path does not answer GET; it answers OPTIONS, POST"
    r = client.patch("/api/v1/me/roaming-cap", headers={**EN, **auth(tokens["alice"])})
    said = _error(r, 405, "method_not_allowed")["message"]
    assert said == f"this path does not answer PATCH; it answers {r.headers['allow']}", said
    assert "GET" in said and "PUT" in said
    r = client.patch("/api/v1/me/roaming-cap", headers={**ZH, **auth(tokens["alice"])})  # Chinese as it was
    assert _error(r, 405, "method_not_allowed")["message"].startswith("此地址不支持该请求方法")


@pytest.mark.parametrize("path", ["/api/v1/no-such-place", f"/api/v1/subscribers/{ALICE}/nothing-here",
                                  "/api/v1/users/Alice%20Zhang/nowhere"])
def test_an_unknown_path_is_said_in_a_sentence_that_does_not_repeat_it(client: TestClient, path: str) -> None:
    said = _error(client.get(path, headers=EN), 404, "not_found")["message"]
    assert said.startswith("no such path: "), said
    assert said != "Not Found" and ALICE not in said and "138" not in said and "Alice" not in said and "nowhere" not in said


def test_a_not_found_a_route_raises_keeps_its_own_words(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get("/api/v1/complaints/cmp-9999999/history", headers={**EN, **auth(tokens["agent1"])})
    assert r.status_code == 404 and not r.json()["error"]["message"].startswith("no such path"), r.text


@pytest.fixture(scope="module")
def handling(client: TestClient, tokens: dict[str, str]) -> str:
    r = client.post("/api/v1/complaints", json={"msisdn": ALICE, "category": "billing", "text": "never called Hong Kong",
                                               "channel": "phone"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text
    return str(r.json()["complaint_id"])


def _credit_problems(client: TestClient, tokens: dict[str, str], body: dict[str, Any]) -> dict[str, str]:
    r = client.post(f"/api/v1/bills/{BILL_A}/credits", json=body, headers={**EN, **auth(tokens["agent1"])})
    return {p["field"]: p["message"] for p in _error(r, 422, "input_invalid")["details"]["problems"]}


@pytest.mark.usefixtures("handling")
def test_a_credit_amount_problem_has_no_pydantic_prefix(client: TestClient, tokens: dict[str, str]) -> None:
    said = _credit_problems(client, tokens, {"amount": 1, "reason": "goodwill for the outage"})
    assert said == {"amount": 'a decimal string, e.g. "3.50", not a JSON number'}, said
    said = _credit_problems(client, tokens, {"amount": "1.00", "reason": "12345 !!"})  # a validator's ValueError
    assert said["reason"].startswith("say why in words"), said
    assert not any("Value error" in m for m in said.values()), said


@pytest.mark.usefixtures("handling")
def test_a_null_credit_amount_is_told_it_is_required(client: TestClient, tokens: dict[str, str]) -> None:
    said = _credit_problems(client, tokens, {"amount": None, "reason": "goodwill for the outage"})
    assert said == {"amount": 'required: a decimal string such as "12.50"'}, said
    said = _credit_problems(client, tokens, {"amount": True, "reason": "goodwill for the outage"})
    assert "JSON number" not in said["amount"] and said["amount"].startswith("a decimal string"), said


def test_problem_words_strip_only_pydantics_prefix() -> None:
    from fairtel.api._errors import problem_words

    assert problem_words("Value error, month must be 1..12, got 13") == "month must be 1..12, got 13"
    assert problem_words("Assertion failed, no") == "no"
    assert problem_words("Field required") == "Field required"
    assert problem_words("a Value error, inside") == "a Value error, inside"
