"""The SMS code of an order (二次确认) could be gone round, and its five-guess limit outrun, on SQLite and PostgreSQL:

- ``POST /me/subscriptions/{id}/confirm`` with no body confirmed an order that had sent a code, as ``valid``, even
  once its code was spent by wrong guesses: whoever held the password or a token confirmed paid services without
  the phone. An order that sent a code is now confirmed with it only (422 on ``code`` without it, a spent code
  stays spent); an order that sent none (a provider's file, an order made before codes) still confirms without;
- wrong codes were counted from audit rows written after each request had failed, in another transaction:
  guesses sent at the same moment all read "fewer than five" (7 to 14 were checked per code). Each wrong code's
  row now commits before its answer, under the line's lock: at most five codes are checked per code sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, api_as_alice, confirm_codes, consent_evidence, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.api._security import Principal
from fairtel.api._services import Services
from fairtel.api._subscriptions import CODE_REJECTED, MAX_CODE_ATTEMPTS, confirm
from fairtel.core.errors import ConflictError, InvalidInputError
from fairtel.core.time import utc_now
from fairtel.privacy import Role
from fairtel.store import AccessAudit, ConsentEvent, consent_event_id
from fairtel.store._schema import table_of

ORDER = "/api/v1/me/subscriptions"
ALICE_P = Principal(username="alice", role=Role.SUBSCRIBER, msisdn=ALICE)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    yield from api_as_alice(seeded)


def _order(seeded: Seeded, client: TestClient, alice: dict[str, str], offer_id: str) -> tuple[str, str]:
    """A new order of ``offer_id`` (any order of it waiting before is cancelled first) and the code its SMS sent."""
    for s in client.get(ORDER, headers=alice).json():
        if s["offer_id"] == offer_id and s["state"] in ("ordered", "confirmed"):
            assert client.post(f"/api/v1/subscriptions/{s['subscription_id']}/cancel", headers=alice).status_code == 200
    r = client.post(ORDER, json={"offer_id": offer_id}, headers=alice)
    assert r.status_code == 201, r.text
    assert r.json()["confirm_with"] == "sms_code"
    return r.json()["subscription_id"], confirm_codes(seeded, ALICE)[-1]


def _wrong(code: str, i: int = 0) -> str:
    guess = f"{(int(code) + 1 + i) % 10 ** 6:06d}"
    assert guess != code
    return guess


def _state(client: TestClient, alice: dict[str, str], sid: str) -> dict[str, Any]:
    return next(s for s in client.get(ORDER, headers=alice).json() if s["subscription_id"] == sid)


def _events(seeded: Seeded, sid: str) -> list[str]:
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        return list(conn.scalars(select(t.c.event).where(t.c.subscription_id == sid).order_by(t.c.at, t.c.event_id)))


def _rejected(seeded: Seeded, sid: str) -> int:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(t).where(
            t.c.action == CODE_REJECTED, t.c.resource == f"subscription/{sid}")) or 0)


def _refused_for_code(r: Any) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "input_invalid"
    assert [p["field"] for p in r.json()["error"]["details"]["problems"]] == ["code"]


# ---- the code cannot be left out -----------------------------------------------------------------------------
def test_an_order_that_sent_a_code_is_not_confirmed_without_it(
        seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, alice = api
    sid, code = _order(seeded, client, alice, "vas-video-15")
    _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", headers=alice))  # no body
    _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", json={}, headers=alice))  # a body without the code
    _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", json={"code": None}, headers=alice))
    assert _state(client, alice, sid)["state"] == "ordered" and _events(seeded, sid) == ["ordered"]
    r = client.post(f"{ORDER}/{sid}/confirm", json={"code": code}, headers=alice)
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert consent_evidence(seeded, sid, "confirmed")["second_step"]["code_verified"] is True
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200


def test_a_code_spent_by_wrong_guesses_stays_spent(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, alice = api
    sid, code = _order(seeded, client, alice, "vas-game-30")
    for i in range(MAX_CODE_ATTEMPTS):
        _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", json={"code": _wrong(code, i)}, headers=alice))
    spent = client.post(f"{ORDER}/{sid}/confirm", json={"code": code}, headers=alice)
    assert spent.status_code == 409 and spent.json()["error"]["details"]["reason"] == "code_spent", spent.text
    _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", headers=alice))  # and not confirmed without it either
    assert _state(client, alice, sid)["state"] == "ordered" and _events(seeded, sid) == ["ordered"]
    assert _rejected(seeded, sid) == MAX_CODE_ATTEMPTS
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200


def test_an_order_that_sent_no_code_still_confirms_without_one(
        seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    """An order the ledger took from elsewhere (a provider's file): no code was sent, none can be asked for."""
    _services, client, alice = api
    sid, at = "sub-provider-file-1", utc_now() - timedelta(minutes=5)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(ConsentEvent).insert().values(
            event_id=consent_event_id(sid, "ordered", at), subscription_id=sid, msisdn=ALICE, offer_id="vas-horoscope-6",
            event="ordered", at=at, channel="app", evidence={}, recorded_at=at, source="file:provider"))
    assert _state(client, alice, sid)["confirm_with"] is None
    r = client.post(f"{ORDER}/{sid}/confirm", headers=alice)
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert "second_step" not in consent_evidence(seeded, sid, "confirmed")
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200


# ---- five guesses, however sent ------------------------------------------------------------------------------
def _guess_at_once(services: Services, sid: str, guesses: list[str]) -> list[str]:
    gate = threading.Barrier(len(guesses))
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess(code: str) -> None:
        gate.wait()
        try:
            with services.access(ALICE_P) as acc:
                confirm(acc, services.catalog(), sid, code=code)
            outcome = "confirmed"
        except InvalidInputError:
            outcome = "checked"
        except ConflictError as exc:
            outcome = str(exc.details.get("reason") or exc.code)
        except Exception as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_guesses_at_the_same_moment_check_at_most_five_codes(
        seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    services, client, alice = api
    sid, code = _order(seeded, client, alice, "vas-news-5")
    outcomes = _guess_at_once(services, sid, [_wrong(code, i) for i in range(16)])
    assert outcomes.count("checked") == MAX_CODE_ATTEMPTS, outcomes
    assert outcomes.count("code_spent") == 16 - MAX_CODE_ATTEMPTS, outcomes
    assert _rejected(seeded, sid) == MAX_CODE_ATTEMPTS
    spent = client.post(f"{ORDER}/{sid}/confirm", json={"code": code}, headers=alice)
    assert spent.status_code == 409 and spent.json()["error"]["details"]["reason"] == "code_spent", spent.text
    assert _events(seeded, sid) == ["ordered"]
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200


def test_a_wrong_code_is_on_record_once_marked_failed(seeded: Seeded, api: tuple[Services, TestClient, dict[str, str]]) -> None:
    _services, client, alice = api
    sid, code = _order(seeded, client, alice, "vas-wallpaper-3")
    _refused_for_code(client.post(f"{ORDER}/{sid}/confirm", json={"code": _wrong(code)}, headers={**alice, "X-Request-ID": "wrong-one"}))
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.action, t.c.reason).where(t.c.request_id.like("%~wrong-one"))).all()
    assert [(r.action, r.reason) for r in rows] == [(CODE_REJECTED, "wrong confirmation code (failed: input_invalid)")]
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200
