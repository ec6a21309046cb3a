"""The answer to a confirmation sent without the SMS code (二次确认), or with a wrong one, is in the caller's language:
in Chinese when ``Accept-Language`` prefers it, as a suspended merchant's refusal is, not in English only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, Seeded, api_as_alice, confirm_codes, seeded_on
from fastapi.testclient import TestClient

from fairtel.api._services import Services

ORDER = "/api/v1/me/subscriptions"
ZH, EN = {"Accept-Language": "zh-CN,zh;q=0.9"}, {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_on("sqlite", tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    yield from api_as_alice(seeded)


def test_a_confirmation_without_or_with_a_wrong_code_is_told_in_chinese(
        seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, alice = api
    r = client.post(ORDER, json={"offer_id": "vas-news-5"}, headers=alice)  # an offer she holds no order of
    assert r.status_code == 201, r.text
    sid, code = r.json()["subscription_id"], confirm_codes(seeded, ALICE)[-1]

    zh = client.post(f"{ORDER}/{sid}/confirm", json={}, headers={**alice, **ZH})
    assert zh.status_code == 422 and zh.headers["content-language"] == "zh-CN"
    (problem,) = zh.json()["error"]["details"]["problems"]
    assert problem["field"] == "code" and problem["message"] == "需要填写短信发送到您手机上的验证码才能确认订购", problem
    en = client.post(f"{ORDER}/{sid}/confirm", json={}, headers={**alice, **EN})
    assert en.json()["error"]["details"]["problems"][0]["message"] == "the code sent to your phone by SMS is needed to confirm"

    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    bad = client.post(f"{ORDER}/{sid}/confirm", json={"code": wrong}, headers={**alice, **ZH})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["problems"][0]["message"] == "验证码与发送到您手机上的不一致", bad.text
