"""A provider whose billing rights are suspended (`fairtel merchants suspend`, 下架) is off sale: ``/offers`` does
not list its offers, and an order, a confirmation or a new code of one of them is refused (409
``merchant_suspended``, naming the provider and since when), with no SMS sent; cancelling stays open. Once the
suspension is lifted its offers are sold again. Before, the suspended provider's offers were listed, ordered,
confirmed, and the order's SMS told the subscriber they would be charged."""

from __future__ import annotations

import json
from datetime import timedelta

from fairtel_seed import ALICE, Seeded, auth, confirm_codes
from fastapi.testclient import TestClient

from fairtel.core.time import utc_now
from fairtel.store import lift_merchant, suspend_merchant

ORDER = "/api/v1/me/subscriptions"
OFFER, PROVIDER = "vas-wallpaper-3", "sp-pixelart"


def _sms_count(seeded: Seeded) -> int:
    path = seeded.settings.outbox_dir / "messages.jsonl"
    if not path.exists():
        return 0
    return sum(1 for x in path.read_text(encoding="utf-8").splitlines() if x.strip() and json.loads(x)["msisdn"] == ALICE)


def _listed(client: TestClient, headers: dict[str, str]) -> set[str]:
    r = client.get("/api/v1/offers", headers=headers)
    assert r.status_code == 200, r.text
    return {o["offer_id"] for o in r.json()}


def test_a_suspended_providers_offers_are_off_sale(seeded: Seeded, client: TestClient, tokens: dict[str, str]) -> None:
    alice = auth(tokens["alice"])
    assert OFFER in _listed(client, alice)
    r = client.post(ORDER, json={"offer_id": OFFER}, headers=alice)  # ordered before the suspension
    assert r.status_code == 201, r.text
    waiting = r.json()["subscription_id"]
    since = utc_now() - timedelta(seconds=1)
    with seeded.engine.begin() as conn:
        assert suspend_merchant(conn, PROVIDER, at=since, actor="ops1", reason="扣费 complaints") is not None
    try:
        listed = _listed(client, alice)
        assert OFFER not in listed and "vas-music-10" in listed  # other providers still sell
        sent = _sms_count(seeded)
        r = client.post(ORDER, json={"offer_id": OFFER}, headers=alice)
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "merchant_suspended"
        assert error["details"]["provider_id"] == PROVIDER and error["details"]["offer_id"] == OFFER
        assert error["details"]["suspended_since"]
        assert "已暂停" in error["message"] and "suspended" in error["message"]
        code = confirm_codes(seeded, ALICE)[-1]  # the code of the order made before the suspension
        r = client.post(f"{ORDER}/{waiting}/confirm", json={"code": code}, headers=alice)
        assert r.status_code == 409 and r.json()["error"]["code"] == "merchant_suspended", r.text
        r = client.post(f"{ORDER}/{waiting}/resend-code", headers=alice)
        assert r.status_code == 409 and r.json()["error"]["code"] == "merchant_suspended", r.text
        assert _sms_count(seeded) == sent  # no SMS: nothing was offered
        mine = {s["subscription_id"]: s["state"] for s in client.get(ORDER, headers=alice).json()}
        assert mine[waiting] == "ordered"
        r = client.post(f"/api/v1/subscriptions/{waiting}/cancel", headers=alice)  # cancelling stays open
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    finally:
        with seeded.engine.begin() as conn:
            lift_merchant(conn, PROVIDER, at=utc_now(), actor="ops1", reason="settled")
    assert OFFER in _listed(client, alice)
    r = client.post(ORDER, json={"offer_id": OFFER}, headers=alice)  # sold again once lifted
    assert r.status_code == 201, r.text
