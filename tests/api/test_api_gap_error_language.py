"""An error answer's message is in the caller's language: Chinese when ``Accept-Language`` prefers it (``zh``,
``zh-CN``, ``zh-Hans``, weighed by ``q``), English otherwise; its ``code`` the same in both, with
``Content-Language`` and ``Vary: Accept-Language``. Every code the API can answer with has both sentences. The
answers were English whatever the caller asked."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import auth
from fastapi.testclient import TestClient

import fairtel

SRC = Path(fairtel.__file__).parent
HAN = re.compile(r"[\u4e00-\u9fff]")
ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, {"Accept-Language": "en-US,en;q=0.9"}


def _declared_codes() -> set[str]:
    """Every ``code = "..."`` a derived class of fairtel declares: each a FairtelError that a route may raise."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.bases:  # an error derives from one (a record such as Problem does not)
                for item in node.body:
                    target = item.target if isinstance(item, ast.AnnAssign) else (item.targets[0] if isinstance(item, ast.Assign) else None)
                    value = getattr(item, "value", None)
                    if isinstance(target, ast.Name) and target.id == "code" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.add(value.value)
    return found


def test_every_code_the_api_answers_with_has_an_english_and_a_chinese_sentence() -> None:
    from fairtel.api._error_words import MESSAGES
    from fairtel.api._errors import _HTTP_CODES, STATUS_OF_CODE

    codes = _declared_codes() | set(STATUS_OF_CODE) | set(_HTTP_CODES.values()) | {"internal_error", "http_error"}
    assert len(codes) > 40 and "input_invalid" in codes and "fairtel_error" in codes
    missing = sorted(c for c in codes if c not in MESSAGES)
    assert not missing, missing
    for code in codes:
        en, zh = MESSAGES[code]
        assert en.strip() and not HAN.search(en), code
        assert HAN.search(zh), code


@pytest.mark.parametrize(("header", "chinese"), [
    ("zh", True), ("zh-CN", True), ("zh-Hans", True), ("ZH-cn", True), ("zh-Hans-CN", True), ("zh-SG", True),
    ("en", False), ("", False), ("fr", False), ("*", False), ("zh-TW", False), ("zh-Hant", False),
    ("en;q=0.9, zh;q=0.8", False), ("zh;q=0.8, en;q=0.9", False), ("en;q=0.5, zh-CN", True), ("zh;q=0", False),
    ("fr, zh;q=0.3", True), ("zh;q=0.5, en;q=0.5", True), ("en;q=0.5, zh;q=0.5", False), ("zh;q=abc, en;q=0.1", False),
    ("zh;q=2", False),
])
def test_accept_language_picks_the_language(header: str, chinese: bool) -> None:
    from fairtel.api._error_words import CHINESE, ENGLISH, language_of

    assert language_of({"accept-language": header}) == (CHINESE if chinese else ENGLISH)


def _both(client: TestClient, method: str, path: str, **kw: Any) -> tuple[Any, Any]:
    headers = kw.pop("headers", {})
    zh = client.request(method, path, headers={**headers, **ZH}, **kw)
    en = client.request(method, path, headers={**headers, **EN}, **kw)
    assert zh.status_code == en.status_code >= 400, (zh.text, en.text)
    zc, ec = zh.json()["error"], en.json()["error"]
    assert zc["code"] == ec["code"]
    assert HAN.search(zc["message"]) and not HAN.search(ec["message"]), (zc, ec)
    assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"
    assert all("accept-language" in r.headers.get("vary", "").lower() for r in (zh, en))
    return zh, en


def test_the_api_answers_its_errors_in_the_callers_language(client: TestClient, tokens: dict[str, str]) -> None:
    zh, _ = _both(client, "GET", "/api/v1/me/roaming-cap")  # a FairtelError: not_authenticated
    assert zh.status_code == 401 and zh.json()["error"]["code"] == "not_authenticated"
    zh, _ = _both(client, "GET", "/api/v1/no-such-place")  # the router's own 404
    assert zh.json()["error"]["code"] == "not_found"
    zh, _ = _both(client, "PATCH", "/api/v1/me/roaming-cap", headers=auth(tokens["alice"]))  # the router's 405
    assert zh.json()["error"]["code"] == "method_not_allowed"
    zh, en = _both(client, "PUT", "/api/v1/me/roaming-cap", json={"amount": 5}, headers=auth(tokens["alice"]))  # a model's 422
    assert zh.json()["error"]["code"] == "input_invalid"
    # the same problems, each in the caller's language
    fields = [[p["field"] for p in r.json()["error"]["details"]["problems"]] for r in (zh, en)]
    assert fields[0] == fields[1] == ["amount"]
    assert HAN.search(zh.json()["error"]["details"]["problems"][0]["message"])
    assert not HAN.search(en.json()["error"]["details"]["problems"][0]["message"])
    zh, _ = _both(client, "GET", "/api/v1/subscribers?status=active&status=closed", headers=auth(tokens["agent1"]))  # the guard's
    assert zh.json()["error"]["code"] == "input_invalid"
    zh, _ = _both(client, "GET", "/api/v1/subscribers", headers=auth(tokens["alice"]))
    assert zh.json()["error"]["code"] == "permission_denied"
    r = client.get("/api/v1/no-such-place")  # no Accept-Language: English
    assert r.headers["content-language"] == "en" and not HAN.search(r.json()["error"]["message"])


def test_a_fault_is_answered_in_the_callers_language(client: TestClient, tokens: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.api._customers as customers

    def fault(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("a fault")

    monkeypatch.setattr(customers, "list_subscribers", fault)
    with TestClient(client.app, raise_server_exceptions=False) as fresh:
        zh, en = _both(fresh, "GET", "/api/v1/subscribers", headers=auth(tokens["agent1"]))
    assert zh.status_code == 500 and zh.json()["error"]["code"] == en.json()["error"]["code"] == "internal_error"
    assert zh.headers["x-request-id"] in zh.json()["error"]["message"]
