"""The one-time code of a value-added order's second confirmation: what the ledger keeps of it cannot be turned
back into the code without the home's secret; the SMS leaves only once the order is committed; a code works ten
minutes; the subscriber may ask for a new one (the previous one stops working), a few times and not too often,
each new code on record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, api_as_alice, consent_evidence, sms_code
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fairtel.api._access import Access
from fairtel.api._errors import RateLimitedError
from fairtel.api._security import Principal
from fairtel.api._services import Services
from fairtel.api._subscriptions import (
    CODE_RESENT,
    CODE_TTL,
    MAX_CODE_RESENDS,
    RESEND_INTERVAL,
    cancel,
    confirm,
    order,
    resend_code,
)
from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError
from fairtel.core.ids import new_id
from fairtel.core.time import utc_now
from fairtel.privacy import Role
from fairtel.store import ConsentEvent
from fairtel.store._schema import AccessAudit, table_of

ORDER = "/api/v1/me/subscriptions"
ALICE_P = Principal(username="alice", role=Role.SUBSCRIBER, msisdn=ALICE)
BOB_P = Principal(username="bob", role=Role.SUBSCRIBER, msisdn="8613900139000")


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    yield from api_as_alice(seeded)




def _order(services: Services, offer_id: str) -> tuple[str, str]:
    """An order of Alice's and the code its SMS carried."""
    before = len(_messages_of(services))
    with services.access(ALICE_P) as acc:
        sid = order(acc, services.catalog(), offer_id).subscription_id
    sent = _messages_of(services)
    assert len(sent) == before + 1, "the order sent one SMS"
    return sid, sms_code(sent[-1]["text"])


def _messages_of(services: Services) -> list[dict[str, Any]]:
    path = services.app.lake.root.parent / "outbox" / "messages.jsonl" if services.app.lake is not None else None
    assert path is not None
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] if path.exists() else []
    return [r for r in rows if r["kind"] == "confirm_code" and r["msisdn"] == ALICE]


def _resend(services: Services, sid: str, after: timedelta) -> str:
    before = len(_messages_of(services))
    with services.access(ALICE_P) as acc:
        acc.now = utc_now() + after
        resend_code(acc, services.catalog(), sid)
    sent = _messages_of(services)
    assert len(sent) == before + 1, "a new code was sent"
    return sms_code(sent[-1]["text"])


def _confirm(services: Services, sid: str, code: str, after: timedelta = timedelta(0)) -> str:
    with services.access(ALICE_P) as acc:
        acc.now = utc_now() + after
        return confirm(acc, services.catalog(), sid, code=code).state


def _cancel(services: Services, sid: str) -> None:
    with services.access(ALICE_P) as acc:
        cancel(acc, services.catalog(), sid)


def test_the_ledger_does_not_give_the_code_away(api: tuple[Services, TestClient, dict[str, str]], seeded: Seeded) -> None:
    services, _client, _alice = api
    sid, code = _order(services, "vas-video-15")
    step = consent_evidence(seeded, sid, "ordered")["second_step"]
    assert step["method"] == "sms_code" and step["code_sha256"] and code not in json.dumps(step)
    # whoever reads the ledger (an export, a backup) tries every code against what it holds: none matches
    salt = str(step.get("salt", ""))
    found = [c for c in (f"{n:06d}" for n in range(1_000_000))
             if hashlib.sha256(f"{salt}:{sid}:{c}".encode()).hexdigest() == step["code_sha256"]]
    assert found == []
    assert step["hash"] == "hmac-sha256" and "salt" not in step
    assert _confirm(services, sid, code) == "confirmed"
    second = consent_evidence(seeded, sid, "confirmed")["second_step"]
    assert second == {"method": "sms_code", "challenge_id": step["challenge_id"], "code_verified": True}
    _cancel(services, sid)


def test_an_order_made_before_keyed_codes_still_confirms_with_its_code(api: tuple[Services, TestClient, dict[str, str]], seeded: Seeded) -> None:
    services, _client, _alice = api
    sid, salt, code, challenge = new_id("sub"), "ab" * 16, "042917", new_id("chl")
    now = utc_now()
    step = {"method": "sms_code", "challenge_id": challenge, "salt": salt,
            "code_sha256": hashlib.sha256(f"{salt}:{sid}:{code}".encode()).hexdigest()}
    with seeded.engine.begin() as conn:
        conn.execute(table_of(ConsentEvent).insert().values(
            event_id=new_id("cev"), subscription_id=sid, msisdn=ALICE, offer_id="vas-horoscope-6", event="ordered", at=now,
            channel="web", evidence={"second_step": step}, recorded_at=now, source="api:alice"))
    with pytest.raises(InvalidInputError):
        _confirm(services, sid, "000000")
    assert _confirm(services, sid, code) == "confirmed"
    assert consent_evidence(seeded, sid, "confirmed")["second_step"]["code_verified"] is True
    _cancel(services, sid)


def test_an_order_whose_commit_fails_sends_no_sms(api: tuple[Services, TestClient, dict[str, str]], seeded: Seeded) -> None:
    services, _client, _alice = api

    @contextmanager
    def commit_refused() -> Iterator[Connection]:
        with services._begin() as conn:
            yield conn
            raise RuntimeError("the database refused the commit")

    before = _messages_of(services)
    acc = Access(principal=ALICE_P, pseudonyms=services.pseudonyms, begin=commit_refused, lake=services.app.lake)
    with pytest.raises(RuntimeError, match="refused the commit"):
        order(acc, services.catalog(), "vas-news-5")
        acc.end()
    assert _messages_of(services) == before, "no SMS names an order that was not kept"
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        kept = conn.execute(select(t.c.subscription_id).where(t.c.msisdn == ALICE, t.c.offer_id == "vas-news-5")).all()
    assert kept == []


def test_a_new_code_replaces_the_old_one_and_is_on_record(api: tuple[Services, TestClient, dict[str, str]], seeded: Seeded) -> None:
    services, _client, _alice = api
    sid, first = _order(services, "vas-video-15")
    second = _resend(services, sid, RESEND_INTERVAL + timedelta(seconds=1))
    sms = _messages_of(services)[-1]
    offer = next(o for o in services.catalog().offers if o.id == "vas-video-15")
    assert offer.name.in_language(sms["language"]) in sms["text"] and "15.00" in sms["text"]  # the terms again, with the new code
    assert second != first
    with pytest.raises(InvalidInputError, match="confirmation"):
        _confirm(services, sid, first, RESEND_INTERVAL + timedelta(seconds=2))
    assert _confirm(services, sid, second, RESEND_INTERVAL + timedelta(seconds=3)) == "confirmed"
    step = consent_evidence(seeded, sid, "ordered")["second_step"]
    assert consent_evidence(seeded, sid, "confirmed")["second_step"] == {"method": "sms_code", "challenge_id": step["challenge_id"],
                                                                   "code_verified": True}
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.actor, t.c.subject_msisdn_pseudonym).where(
            t.c.action == CODE_RESENT, t.c.resource == f"subscription/{sid}")).all()
    assert len(rows) == 1 and rows[0].actor == "alice" and rows[0].subject_msisdn_pseudonym
    _cancel(services, sid)


def test_new_codes_are_rate_limited(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, alice = api
    sid, _first = _order(services, "vas-horoscope-6")
    r = client.post(f"{ORDER}/{sid}/resend-code", headers=alice)  # at once: too soon
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited" and 0 < int(r.headers["Retry-After"]) <= RESEND_INTERVAL.total_seconds()
    step = RESEND_INTERVAL + timedelta(seconds=1)
    for n in range(1, MAX_CODE_RESENDS + 1):
        _resend(services, sid, step * n)
        if n == 1:  # within the interval of the one just sent
            with pytest.raises(RateLimitedError), services.access(ALICE_P) as acc:
                acc.now = utc_now() + step * n + timedelta(seconds=5)
                resend_code(acc, services.catalog(), sid)
    with pytest.raises(ConflictError, match="order again") as limit, services.access(ALICE_P) as acc:
        acc.now = utc_now() + step * (MAX_CODE_RESENDS + 1)
        resend_code(acc, services.catalog(), sid)
    assert limit.value.details["reason"] == "resend_limit"
    _cancel(services, sid)


def test_a_code_expires_and_a_new_one_confirms(api: tuple[Services, TestClient, dict[str, str]], seeded: Seeded) -> None:
    services, _client, _alice = api
    sid, code = _order(services, "vas-video-15")
    late = CODE_TTL + timedelta(seconds=5)
    with pytest.raises(ConflictError, match="expired") as expired:
        _confirm(services, sid, code, late)
    assert expired.value.details["reason"] == "code_expired" and expired.value.details["field"] == "code"
    fresh = _resend(services, sid, late)
    assert _confirm(services, sid, fresh, late + timedelta(seconds=10)) == "confirmed"
    _cancel(services, sid)


def test_only_the_subscriber_asks_for_a_new_code_of_their_order(api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, _alice = api
    sid, _code_sent = _order(services, "vas-news-5")
    with pytest.raises(NotFoundError), services.access(BOB_P) as acc:
        acc.now = utc_now() + RESEND_INTERVAL * 2
        resend_code(acc, services.catalog(), sid)
    _cancel(services, sid)
    r = client.post(f"{ORDER}/{sid}/resend-code", headers=_alice)
    assert r.status_code == 409 and "cancelled" in r.json()["error"]["message"], r.text
