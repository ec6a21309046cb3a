"""The API's behaviour: login and tokens, API keys, agents' assignments, consent, refunds, usage with
explanations, pagination, error codes, limits and secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, auth, confirm_codes
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import (
    STATUS_OF_CODE,
    ApiOptions,
    ChatReply,
    Principal,
    TokenSigner,
    create_app,
    hash_password,
    verify_password,
)
from fairtel.billing import bill_id_for
from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.privacy import Role
from fairtel.store import Adjustment, AgentAssignment, ApiKey, ConsentEvent
from fairtel.store._schema import table_of


def err(r: Any) -> str:
    return str(r.json()["error"]["code"])


# ---- credentials --------------------------------------------------------------------------------------
def test_passwords_are_scrypt_hashed_and_checked() -> None:
    h = hash_password("a long enough secret")
    assert h.startswith("scrypt$16384$8$1$") and "a long enough secret" not in h
    assert verify_password("a long enough secret", h)
    assert not verify_password("a long enough secreT", h)
    assert hash_password("a long enough secret") != h  # salted


def test_login_refuses_wrong_password_and_unknown_user(client: TestClient) -> None:
    for user, pw in (("alice", "wrong-password-1"), ("nobody", PASSWORD)):
        r = client.post("/api/v1/auth/token", data={"username": user, "password": pw})
        assert r.status_code == 401 and err(r) == "not_authenticated"


def test_tokens_expire_and_cannot_be_forged(client: TestClient, seeded: Seeded, tokens: dict[str, str]) -> None:
    signer = TokenSigner(seeded.settings.secret_key.get_secret_value())
    alice = Principal("alice", Role.SUBSCRIBER, ALICE)
    old = signer.issue(alice, now=datetime.now(UTC) - timedelta(hours=9))
    r = client.get("/api/v1/me", headers=auth(old))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    # the same claims signed with another key, and a token whose role was edited, are refused
    forged = TokenSigner("another-secret-0123456789").issue(alice)
    assert client.get("/api/v1/me", headers=auth(forged)).status_code == 401
    payload, sig = tokens["alice"].split(".")
    assert client.get("/api/v1/me", headers=auth(payload[:-2] + "xx." + sig)).status_code == 401
    assert client.get("/api/v1/me", headers=auth(signer.issue(alice))).status_code == 200


def test_api_keys_are_shown_once_work_and_can_be_revoked(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    r = client.post("/api/v1/users/analyst1/api-keys", json={"label": "reporting"}, headers=auth(tokens["admin1"]))
    assert r.status_code == 201
    key_id, key = r.json()["key_id"], r.json()["key"]
    with seeded.engine.connect() as conn:
        stored = conn.execute(select(table_of(ApiKey).c.key_hash)).scalars().all()
    assert key not in stored and len(stored[-1]) == 64
    assert client.get("/api/v1/kpis", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/audit", headers={"X-API-Key": key}).status_code == 403  # acts with the analyst's role
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=auth(tokens["admin1"])).status_code == 204
    r = client.get("/api/v1/kpis", headers={"X-API-Key": key})
    assert r.status_code == 401 and err(r) == "not_authenticated"


# ---- agents see a customer only while handling them -----------------------------------------------------
def test_agent_needs_a_live_assignment(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    h = auth(tokens["agent1"])
    r = client.get(f"/api/v1/subscribers/{BOB}", headers=h)
    assert r.status_code == 403 and err(r) == "assignment_required"
    listed = client.get("/api/v1/complaints", headers=h).json()["items"]
    bob_row = next(c for c in listed if c["complaint_id"] == "cmp-2")
    assert bob_row["msisdn"] != BOB and bob_row["msisdn"].endswith(BOB[-4:]) and bob_row["text"] is None  # masked until handled
    taken = client.post("/api/v1/complaints/cmp-2/take", headers=h)
    assert taken.status_code == 200
    assert taken.json()["msisdn"] == BOB
    assert client.get(f"/api/v1/subscribers/{BOB}", headers=h).json()["msisdn"] == BOB
    assert client.get(f"/api/v1/subscribers/{BOB}/bills", headers=h).json()["items"][0]["total"] == "134.00"
    # released: closed again
    assert client.post(f"/api/v1/assignments/{taken.json()['assignment_id']}/release", headers=h).status_code == 204
    assert client.get(f"/api/v1/subscribers/{BOB}", headers=h).status_code == 403
    # an expired assignment opens nothing either
    now = datetime.now(UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(AgentAssignment).insert().values(
            assignment_id="asg-old", agent="agent1", msisdn=BOB, reference_kind="chat", reference_id="chat-1",
            started_at=now - timedelta(hours=3), expires_at=now - timedelta(hours=1), released_at=None,
        ))
    assert client.get(f"/api/v1/subscribers/{BOB}", headers=h).status_code == 403


# ---- consent --------------------------------------------------------------------------------------------
def test_order_confirm_cancel_appends_events(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    alice, bob = auth(tokens["alice"]), auth(tokens["bob"])
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-cloud-8"}, headers=alice)
    assert r.status_code == 201 and r.json()["state"] == "ordered"
    sid = r.json()["subscription_id"]
    assert client.post(f"/api/v1/me/subscriptions/{sid}/confirm", headers=bob).status_code == 404  # not bob's
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=bob).status_code == 404
    r = client.post(f"/api/v1/me/subscriptions/{sid}/confirm", json={"code": confirm_codes(seeded, ALICE)[-1]}, headers=alice)
    assert r.status_code == 200 and r.json()["state"] == "confirmed" and r.json()["confirmation"] == "valid"
    assert err(client.post(f"/api/v1/me/subscriptions/{sid}/confirm", headers=alice)) == "conflict"
    r = client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    with seeded.engine.connect() as conn:
        events = conn.execute(select(ConsentEvent.event, ConsentEvent.channel).where(ConsentEvent.subscription_id == sid).order_by(ConsentEvent.at)).all()
    assert [e.event for e in events] == ["ordered", "confirmed", "cancelled"] and {e.channel for e in events} == {"web"}
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-nothing"}, headers=alice)
    assert r.status_code == 422 and err(r) == "input_invalid"


# ---- findings -------------------------------------------------------------------------------------------
def test_refund_writes_an_adjustment_once(client: TestClient, tokens: dict[str, str], seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob's news charge was billed twice: refunded once, naming the bill. Alice's horoscope charge was refused by the
    consent gate and never billed: its finding closes with no money moving."""
    h = auth(tokens["agent1"])
    taken = [client.post(f"/api/v1/complaints/{c}/take", headers=h).json()["assignment_id"] for c in ("cmp-1", "cmp-2")]
    r = client.post("/api/v1/findings/fnd-2/refund", json={"reason": "charged twice"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["finding"]["status"] == "resolved" and body["adjustment"]["amount"] == "5.00" and body["outcome"] == "refunded"
    with seeded.engine.connect() as conn:
        adj = conn.execute(select(Adjustment.amount_minor, Adjustment.kind, Adjustment.created_by, Adjustment.bill_id)
                           .where(Adjustment.finding_id == "fnd-2")).all()
    assert [tuple(a) for a in adj] == [(500, "refund", "agent1", bill_id_for(BOB, "2026-10"))]
    again = client.post("/api/v1/findings/fnd-2/refund", headers=h)
    assert again.status_code == 409 and err(again) == "finding_resolution_invalid"
    never_billed = client.post("/api/v1/findings/fnd-1/refund", json={"reason": "customer never ordered"}, headers=h)
    assert never_billed.status_code == 200, never_billed.text
    assert never_billed.json()["outcome"] == "not_billed" and never_billed.json()["adjustment"] is None
    assert client.post("/api/v1/findings/fnd-2/dismiss", json={"reason": ""}, headers=h).status_code == 422
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    assert kpis["refunded"] == "5.00" and kpis["revenue_at_risk"] == "0.00"
    for assignment in taken:
        assert client.post(f"/api/v1/assignments/{assignment}/release", headers=h).status_code == 204


# ---- itemised lines -------------------------------------------------------------------------------------
def test_usage_lines_are_own_and_explained(client: TestClient, tokens: dict[str, str]) -> None:
    page = client.get("/api/v1/me/usage", params={"period": "2026-10"}, headers=auth(tokens["alice"])).json()
    assert page["available"] and page["period"] == "2026-10"
    assert [i["record_id"] for i in page["items"]] == ["r-0", "r-1", "r-2", "r-3", "r-4"]  # bob's r-5 ... are not there
    assert page["total"] == "14.50"  # the call to Hong Kong and the music pack; the rest is in allowances or refused
    in_allowance, to_hong_kong = page["items"][0], page["items"][1]
    assert in_allowance["amount"] == "0.00" and in_allowance["allowance_id"] == "basic-39/voice"
    assert "3 min 05 s" in in_allowance["why"]["en"] and "“Domestic calls included, 300 min”" in in_allowance["why"]["en"]
    assert "套餐内额度“套餐内国内主叫 300 分钟”" in in_allowance["why"]["zh"] and "（国内）" in in_allowance["why"]["zh"]
    assert to_hong_kong["amount"] == "4.50" and to_hong_kong["zone"] == "intl-1"
    assert "intl/voice-intl-1" in to_hong_kong["why"]["en"] and "Hong Kong, Macao and Taiwan" in to_hong_kong["why"]["en"]
    assert "港澳台长途" in to_hong_kong["why"]["zh"] and "忙时" in to_hong_kong["why"]["zh"]
    assert page["items"][2]["why"]["en"].startswith("238.42 MiB data")  # 250,000,000 bytes in MiB of 1024², as the statement counts and names them
    music, horoscope = page["items"][3], page["items"][4]
    assert "sub-a1" in music["why"]["en"] and "畅听音乐包" in music["why"]["zh"]
    assert horoscope["amount"] == "0.00" and horoscope["why"]["en"].startswith("Not billed") and horoscope["verdict"] == "no_subscription"
    only_vas = client.get("/api/v1/me/usage", params={"period": "2026-10", "kind": "vas"}, headers=auth(tokens["alice"])).json()
    assert [i["record_id"] for i in only_vas["items"]] == ["r-3", "r-4"]
    empty = client.get("/api/v1/me/usage", params={"period": "2026-01"}, headers=auth(tokens["alice"])).json()
    assert empty["items"] == [] and empty["available"]


def test_every_bill_adds_up_to_its_lines_and_they_come_from_the_rated_usage(client: TestClient, tokens: dict[str, str]) -> None:
    """The seeded bills were issued by a real bill run: lines sum to the total, usage lines are the rated lines."""
    for user, msisdn in (("alice", ALICE), ("bob", BOB)):
        h = auth(tokens[user])
        bill = client.get("/api/v1/me/bills/2026-10", headers=h).json()
        assert bill["bill_id"] == bill_id_for(msisdn, "2026-10")
        assert sum(Decimal(line["amount"]) for line in bill["lines"]) == Decimal(bill["total"]) == Decimal(bill["subtotal"]) + Decimal(bill["tax"])
        usage = client.get("/api/v1/me/usage", params={"period": "2026-10"}, headers=h).json()
        billed_usage = sum(Decimal(line["amount"]) for line in bill["lines"] if line["kind"] not in ("plan_fee", "tax", "adjustment"))
        assert billed_usage == Decimal(usage["total"])
    alice = client.get("/api/v1/me/bills/2026-10", headers=auth(tokens["alice"])).json()
    assert [(line["kind"], line["amount"]) for line in alice["lines"]] == [
        ("plan_fee", "39.00"), ("voice", "0.00"), ("voice", "4.50"), ("data", "0.00"), ("vas", "10.00")]
    assert alice["total"] == "53.50" and alice["lines"][1]["allowance_id"] == "basic-39/voice"


def test_pagination_walks_every_row_once(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["analyst1"])
    seen, cursor = [], None
    for _ in range(10):
        r = client.get("/api/v1/subscribers", params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=h).json()
        seen += [s["msisdn"] for s in r["items"]]
        cursor = r["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 == len(set(seen))
    r = client.get("/api/v1/subscribers", params={"cursor": "!!nonsense"}, headers=h)
    assert r.status_code == 422 and err(r) == "input_invalid"
    assert client.get("/api/v1/subscribers", params={"limit": 0}, headers=h).status_code == 422


# ---- errors, limits, secrets ----------------------------------------------------------------------------
def test_errors_have_one_shape(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.get("/api/v1/no-such-thing", headers=auth(tokens["alice"]))
    assert r.status_code == 404 and err(r) == "not_found"
    r = client.get("/api/v1/me/bills/2026-13", headers=auth(tokens["alice"]))
    assert r.status_code == STATUS_OF_CODE["time_invalid"] and err(r) == "time_invalid"
    r = client.post("/api/v1/me/surveys", json={"score": 11}, headers=auth(tokens["alice"]))
    assert r.status_code == 422 and r.json()["error"]["details"]["problems"][0]["field"] == "score"
    r = client.post("/api/v1/chat", json={"message": "hello"}, headers=auth(tokens["alice"]))
    assert r.status_code == 503 and err(r) == "assistant_unavailable"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]


def test_body_size_and_rate_are_limited(seeded: Seeded) -> None:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=1, rate_burst=3, max_body_bytes=1024))
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/token", content=b"x" * 5000, headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and err(r) == "request_too_large"
        codes = [c.get("/api/v1/health").status_code for _ in range(6)]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        r = c.get("/api/v1/health")
        assert err(r) == "rate_limited" and int(r.headers["retry-after"]) >= 1


def test_login_attempts_are_limited(seeded: Seeded) -> None:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, login_attempts_per_minute=3))
    with TestClient(app) as c:
        codes = [c.post("/api/v1/auth/token", data={"username": "alice", "password": "guess-number-x"}).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]


def test_default_secret_refused_outside_development(tmp_path: Any) -> None:
    with pytest.raises(ConfigError):
        create_app(load_settings(home=tmp_path, environment="production"))
    create_app(load_settings(home=tmp_path / "dev", environment="development"))  # allowed for a developer's machine


def test_chat_goes_to_the_assistant_when_there_is_one(seeded: Seeded) -> None:
    class Echo:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def reply(self, message: str, *, msisdn: str, language: str | None) -> ChatReply:
            self.asked.append((message, msisdn))
            return ChatReply(text=f"you said {message}", intent="echo", language=language)

    echo = Echo()
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), assistant=echo)
    with TestClient(app) as c:
        tok = c.post("/api/v1/auth/token", data={"username": "bob", "password": PASSWORD}).json()["access_token"]
        r = c.post("/api/v1/chat", json={"message": "话费多少", "language": "zh"}, headers=auth(tok))
    assert r.status_code == 200 and r.json() == {"reply": "you said 话费多少", "intent": "echo", "language": "zh"}
    assert echo.asked == [("话费多少", BOB)]  # the assistant is told whose line, from the token, not from the request


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "fairtel"
    assert "/api/v1/me/usage" in schema["paths"] and "/api/v1/findings/{finding_id}/refund" in schema["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])


def test_the_dashboard_counts_complaints_and_nps_as_fairtel_kpi_does(client: TestClient, tokens: dict[str, str],
                                                                     seeded: Seeded) -> None:
    """One definition of each indicator: each month's complaints per million lines in service and its NPS on the
    dashboard are the figures `fairtel kpi --period` reports for that month."""
    from decimal import Decimal

    from fairtel.cli._care import gather_kpis

    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    months = [p["label"] for p in kpis["complaints_per_million"]["points"]]
    # month by month from the first complaint's to this one, none skipped (a quiet month is 0, not left out)
    first, last = Period.parse(months[0]), Period.parse(months[-1])
    expected = [first.key]
    while expected[-1] != last.key:
        expected.append(Period.parse(expected[-1]).next().key)
    assert months == expected and len(months) >= 2
    for p in kpis["complaints_per_million"]["points"]:
        report = gather_kpis(seeded.app, p["label"])
        assert Decimal(str(p["value"])) == Decimal(report.complaints["per_million"]), p
    for p in kpis["nps"]["points"]:
        assert Decimal(str(p["value"])) == Decimal(gather_kpis(seeded.app, p["label"]).nps["nps"]), p
