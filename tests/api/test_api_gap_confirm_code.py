"""The second confirmation of a value-added order is a one-time code sent to the subscriber's phone, as an
operator's SMS 二次确认 is: the order sends an SMS (the outbox) restating the offer's terms (name, price per period,
provider, charged to the phone bill until cancelled, how to cancel) with a 6-digit code; the confirmation gives the
code back. The order's event keeps the code's salted hash, never the code; a confirmation with the right code is
recorded as verified, one with a wrong code is refused (and counted: after five the code is spent). A confirmation
without the code an order was sent is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, api_as_alice, auth, consent_evidence, sms_code
from fastapi.testclient import TestClient

from fairtel.api._security import Principal
from fairtel.api._services import Services
from fairtel.api._subscriptions import MAX_CODE_ATTEMPTS, confirm
from fairtel.core.errors import ConflictError, InvalidInputError
from fairtel.privacy import Role

ORDER = "/api/v1/me/subscriptions"
ALICE_P = Principal(username="alice", role=Role.SUBSCRIBER, msisdn=ALICE)


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    yield from api_as_alice(seeded)


def _sms(seeded: Seeded, subscription_id: str) -> dict[str, Any]:
    path = seeded.settings.outbox_dir / "messages.jsonl"
    assert path.exists(), "the order sent its code to the outbox"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    mine = [r for r in rows if r["kind"] == "confirm_code" and r["msisdn"] == ALICE]
    assert mine
    return mine[-1]




def _order(client: TestClient, headers: dict[str, str], offer_id: str) -> dict[str, Any]:
    r = client.post(ORDER, json={"offer_id": offer_id}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _cancel(client: TestClient, headers: dict[str, str], subscription_id: str) -> None:
    r = client.post(f"/api/v1/subscriptions/{subscription_id}/cancel", headers=headers)
    assert r.status_code == 200, r.text


def test_an_order_sends_the_terms_and_a_code_and_keeps_only_its_hash(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, alice = api
    out = _order(client, alice, "vas-video-15")
    sid = out["subscription_id"]
    assert out["state"] == "ordered" and out["confirm_with"] == "sms_code" and out["currency"] == "CNY"
    sms = _sms(seeded, sid)
    text = sms["text"]
    code = sms_code(text)
    offer = next(o for o in seeded.catalog.offers if o.id == "vas-video-15")
    name = offer.name.zh if sms["language"] == "zh" else offer.name.en
    assert name in text and offer.provider in text
    assert ("15.00元/月" in text and "退订" in text and "话费" in text) if sms["language"] == "zh" else \
        ("15.00 CNY/month" in text and "until you cancel" in text)
    step = consent_evidence(seeded, sid, "ordered")["second_step"]
    assert step["method"] == "sms_code" and step["code_sha256"] and code not in json.dumps(step)

    # a wrong code is refused and nothing is appended
    with pytest.raises(InvalidInputError) as wrong, services.access(ALICE_P) as acc:
        confirm(acc, services.catalog(), sid, code="000000" if code != "000000" else "111111")
    assert "code" in str(wrong.value)
    with services.access(ALICE_P) as acc:
        confirmed = confirm(acc, services.catalog(), sid, code=code)
    assert confirmed.state == "confirmed"
    second = consent_evidence(seeded, sid, "confirmed")["second_step"]
    assert second == {"method": "sms_code", "challenge_id": step["challenge_id"], "code_verified": True}
    _cancel(client, alice, sid)


def test_wrong_codes_spend_the_code(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, alice = api
    sid = _order(client, alice, "vas-horoscope-6")["subscription_id"]
    code = sms_code(_sms(seeded, sid)["text"])
    wrong = "123456" if code != "123456" else "654321"
    for _ in range(MAX_CODE_ATTEMPTS):
        with pytest.raises(InvalidInputError), services.access(ALICE_P) as acc:
            confirm(acc, services.catalog(), sid, code=wrong)
    with pytest.raises(ConflictError, match="spent"), services.access(ALICE_P) as acc:
        confirm(acc, services.catalog(), sid, code=code)
    _cancel(client, alice, sid)


def test_a_confirmation_without_the_code_it_was_sent_is_refused(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, alice = api
    sid = _order(client, alice, "vas-video-15")["subscription_id"]
    r = client.post(f"{ORDER}/{sid}/confirm", headers=alice)
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["error"]["details"]["problems"]] == ["code"], r.text
    _cancel(client, alice, sid)


def test_the_console_form_needs_the_code(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, alice = api
    sid = _order(client, alice, "vas-video-15")["subscription_id"]
    with pytest.raises(InvalidInputError, match="confirmation"), services.access(ALICE_P) as acc:
        confirm(acc, services.catalog(), sid, require_code=True)
    with services.access(ALICE_P) as acc:
        assert confirm(acc, services.catalog(), sid, code=sms_code(_sms(seeded, sid)["text"]), require_code=True).state == "confirmed"
    _cancel(client, alice, sid)


def test_the_sms_is_in_the_subscribers_language(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, _alice = api
    r = client.post("/api/v1/auth/token", data={"username": "bob", "password": PASSWORD})
    assert r.status_code == 200, r.text
    bob = auth(r.json()["access_token"])
    sid = _order(client, bob, "vas-video-15")["subscription_id"]
    rows = [json.loads(x) for x in (seeded.settings.outbox_dir / "messages.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    sms = [x for x in rows if x["kind"] == "confirm_code" and x["msisdn"] == BOB][-1]
    offer = next(o for o in seeded.catalog.offers if o.id == "vas-video-15")
    assert sms["language"] == "zh" and offer.name.zh in sms["text"] and offer.provider in sms["text"]
    # the code's life is said (a code works CODE_TTL: ten minutes)
    for words in ("15.00元/月", "每月从话费中扣除，直至您退订", "验证码", "10分钟内有效", "我的订购"):
        assert words in sms["text"], words
    _cancel(client, bob, sid)
