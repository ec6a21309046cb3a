"""What the API says when a request is wrong, in its own words and in the caller's language: a roaming cap sent as a
JSON number, a credit of "0", and the common problems of a request's fields (a field missing, of the wrong type, too
long, not one of the accepted values) read as our sentences, not the model library's ("Input should be a valid
string", "Input should be greater than 0"), and in Chinese when ``Accept-Language`` asks (the problems' messages stayed
English). An admin refused the findings is told which roles may see them. A login name with spaces around it logs in
(the spaces are ignored there), and a login cannot be made with them."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, auth
from fastapi.testclient import TestClient

EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}
B = "/api/v1"
LIBRARY_WORDS = ("Input should", "String should", "Field required", "Value error")


def _problems(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "input_invalid", body
    said = {p["field"]: p["message"] for p in body["details"]["problems"]}
    assert not any(words in m for m in said.values() for words in LIBRARY_WORDS), said
    return said


def test_a_cap_sent_as_a_json_number_is_told_the_amount_rule(client: TestClient, tokens: dict[str, str]) -> None:
    alice = auth(tokens["alice"])
    said = _problems(client.put(f"{B}/me/roaming-cap", json={"amount": 100}, headers={**EN, **alice}))
    assert said == {"amount": 'a decimal string, e.g. "3.50", not a JSON number'}, said
    said = _problems(client.put(f"{B}/me/roaming-cap", json={"amount": 100}, headers={**ZH, **alice}))
    assert said == {"amount": '金额应为带引号的十进制数字字符串（如 "3.50"），不能是 JSON 数字'}, said
    said = _problems(client.put(f"{B}/me/roaming-cap", json={"amount": True}, headers={**EN, **alice}))
    assert said == {"amount": 'a decimal string, e.g. "3.50"'}, said  # true is no number
    said = _problems(client.put(f"{B}/me/roaming-cap", json={"amount": "1" * 25}, headers={**EN, **alice}))
    assert said["amount"].startswith("not an amount in its currency: plain digits (0-9), at most 9 before the point"), said
    said = _problems(client.put(f"{B}/me/roaming-cap", json={"amount": "1" * 25}, headers={**ZH, **alice}))
    assert said["amount"].startswith("不是有效的金额：只能写数字（0-9），小数点前最多 9 位"), said


@pytest.fixture(scope="module")
def handling(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post(f"{B}/complaints", json={"msisdn": ALICE, "category": "billing", "text": "never called Hong Kong",
                                             "channel": "phone"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text


@pytest.mark.usefixtures("handling")
def test_a_credit_of_nothing_is_told_the_amount_must_be_more_than_zero(client: TestClient, tokens: dict[str, str]) -> None:
    agent = auth(tokens["agent1"])
    body = {"amount": "0", "reason": "goodwill for the outage"}
    said = _problems(client.post(f"{B}/bills/{BILL_A}/credits", json=body, headers={**EN, **agent}))
    assert said == {"amount": 'the amount must be more than 0: a decimal string such as "3.50"'}, said
    said = _problems(client.post(f"{B}/bills/{BILL_A}/credits", json=body, headers={**ZH, **agent}))
    assert said == {"amount": '金额应大于 0，写作带引号的十进制数字字符串（如 "3.50"）'}, said


@pytest.mark.parametrize(("body", "field", "en", "zh"), [
    ({}, "amount", "required", "必填"),
    ({"amount": "10", "currency": "cny"}, "currency", "not in the accepted form (the pattern ^[A-Z]{3}$)", "格式不符（应符合 ^[A-Z]{3}$）"),
])
def test_a_caps_field_problems_are_said_in_the_callers_language(client: TestClient, tokens: dict[str, str], body: dict[str, Any],
                                                                field: str, en: str, zh: str) -> None:
    alice = auth(tokens["alice"])
    assert _problems(client.put(f"{B}/me/roaming-cap", json=body, headers={**EN, **alice})) == {field: en}
    assert _problems(client.put(f"{B}/me/roaming-cap", json=body, headers={**ZH, **alice})) == {field: zh}


@pytest.mark.parametrize(("body", "en", "zh"), [
    ({"message": 5}, "text expected (a JSON string, in quotes), not a JSON number", "应为文字（带引号的 JSON 字符串）"),
    ({"message": "x" * 2001}, "at most 2000 characters", "不能超过 2000 个字"),
    ({"message": ""}, "must not be empty", "不能为空"),
    ({"message": "hi", "language": "fr"}, "not one of the accepted values: zh, en", "不是可选的值，可选：zh, en"),
])
def test_the_common_problems_of_a_field_are_said_in_both_languages(client: TestClient, tokens: dict[str, str],
                                                                   body: dict[str, Any], en: str, zh: str) -> None:
    alice = auth(tokens["alice"])
    field = "language" if "language" in body else "message"
    assert _problems(client.post(f"{B}/chat", json=body, headers={**EN, **alice})) == {field: en}
    assert _problems(client.post(f"{B}/chat", json=body, headers={**ZH, **alice})) == {field: zh}


def test_a_query_parameter_out_of_range_is_said_in_both_languages(client: TestClient, tokens: dict[str, str]) -> None:
    alice = auth(tokens["alice"])
    assert _problems(client.get(f"{B}/me/bills", params={"limit": 0}, headers={**EN, **alice})) == {"limit": "must be at least 1"}
    assert _problems(client.get(f"{B}/me/bills", params={"limit": 0}, headers={**ZH, **alice})) == {"limit": "应不小于 1"}
    assert _problems(client.get(f"{B}/me/bills", params={"limit": "ten"}, headers={**ZH, **alice})) == {"limit": "应为整数"}


def test_an_admin_refused_the_findings_is_told_which_roles_may_see_them(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin1"])
    r = client.get(f"{B}/findings", headers={**EN, **admin})
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "permission_denied" and error["details"]["roles"] == ["agent", "analyst"], error
    assert error["message"].endswith("it is for the roles agent and analyst"), error
    assert "agents see" not in error["message"]
    zh = client.get(f"{B}/findings", headers={**ZH, **admin}).json()["error"]
    assert zh["message"].endswith("仅限客服、分析师。") and zh["details"]["roles"] == ["agent", "analyst"], zh


@pytest.mark.parametrize("typed", [" alice", "alice ", "  ALICE\t", "\u3000alice\u3000"])
def test_a_login_name_with_spaces_around_it_logs_in(client: TestClient, typed: str) -> None:
    r = client.post(f"{B}/auth/token", data={"username": typed, "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = client.get(f"{B}/auth/me", headers=auth(r.json()["access_token"])).json()
    assert me["username"] == "alice" and me["role"] == "subscriber", me


def test_a_login_name_with_spaces_inside_or_a_wrong_password_still_fails(client: TestClient) -> None:
    assert client.post(f"{B}/auth/token", data={"username": "al ice", "password": PASSWORD}).status_code == 401
    assert client.post(f"{B}/auth/token", data={"username": " alice ", "password": "wrong-password!"}).status_code == 401


def test_a_login_cannot_be_made_with_spaces_around_its_name(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin1"])
    body = {"username": " helper7 ", "password": "a-long-password-1", "role": "agent"}
    said = _problems(client.post(f"{B}/users", json=body, headers={**EN, **admin}))
    assert said == {"username": "a space before or after the name: a login's name is letters, digits or . _ @ - only, "
                                "with no space"}, said
    said = _problems(client.post(f"{B}/users", json=body, headers={**ZH, **admin}))
    assert said["username"].startswith("登录名前后有空格"), said
    assert client.post(f"{B}/auth/token", data={"username": "helper7", "password": "a-long-password-1"}).status_code == 401
