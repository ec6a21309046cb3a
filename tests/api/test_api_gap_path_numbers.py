"""A subscriber number in a path (``/subscribers/{msisdn}``) was compared and audited as the raw string: a probe
of another line written as dialled at home (``13900139000``) or from ``+`` was refused, but its ``access.denied``
row carried the pseudonym of that string, not the line's (a search of the audit by the line missed it); and a
subscriber's own number so written was refused. The path's number is now read as its line's, as audit searches
and free text read numbers: refused and on record under the line's pseudonym, or the subscriber's own line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.api._services import Services
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

BOB_AT_HOME, ALICE_AT_HOME = BOB.removeprefix("86"), ALICE.removeprefix("86")


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[tuple[Services, TestClient]]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)
    with TestClient(app) as client:
        services = app.state.services
        assert isinstance(services, Services)
        yield services, client


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _rows(seeded: Seeded, tag: str) -> list[Any]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.request_id.like(f"%~{tag}")).order_by(t.c.audit_id)))


@pytest.mark.parametrize("written", [BOB_AT_HOME, "+" + BOB, "0086" + BOB_AT_HOME, BOB])
@pytest.mark.parametrize("path", ["", "/bills", "/subscriptions"])
def test_a_probe_of_another_line_however_written_is_on_that_lines_record(
        seeded: Seeded, api: tuple[Services, TestClient], written: str, path: str) -> None:
    services, client = api
    tag = f"probe-{len(written)}-{path.strip('/') or 'line'}-{'plus' if written.startswith('+') else 'digits'}"
    r = client.get(f"/api/v1/subscribers/{quote(written)}{path}", headers={**_login(client, "alice"), "X-Request-ID": tag})
    assert r.status_code == 403, r.text
    [row] = _rows(seeded, tag)
    assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", services.pseudonyms.msisdn(BOB))


def test_an_agent_not_handling_the_line_is_refused_on_its_record(seeded: Seeded, api: tuple[Services, TestClient]) -> None:
    services, client = api
    r = client.get(f"/api/v1/subscribers/{BOB_AT_HOME}", headers={**_login(client, "agent1"), "X-Request-ID": "agent-probe"})
    assert r.status_code == 403, r.text
    [row] = _rows(seeded, "agent-probe")
    assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", services.pseudonyms.msisdn(BOB))


@pytest.mark.parametrize("written", [ALICE_AT_HOME, "+" + ALICE])
def test_a_subscribers_own_number_however_written_is_their_own_line(
        seeded: Seeded, api: tuple[Services, TestClient], written: str) -> None:
    services, client = api
    alice = _login(client, "alice")
    full = client.get(f"/api/v1/subscribers/{ALICE}", headers=alice)
    assert full.status_code == 200, full.text
    r = client.get(f"/api/v1/subscribers/{quote(written)}", headers={**alice, "X-Request-ID": "own-" + str(len(written))})
    assert r.status_code == 200 and r.json() == full.json(), r.text
    [row] = _rows(seeded, "own-" + str(len(written)))
    assert (row.action, row.subject_msisdn_pseudonym) == ("subscriber.read", services.pseudonyms.msisdn(ALICE))
    subs = client.get(f"/api/v1/subscribers/{quote(written)}/subscriptions", headers=alice)
    assert subs.status_code == 200 and "sub-a1" in {s["subscription_id"] for s in subs.json()}, subs.text


def test_what_is_not_a_number_names_no_line(api: tuple[Services, TestClient]) -> None:
    _services, client = api
    assert client.get("/api/v1/subscribers/not-a-number", headers=_login(client, "alice")).status_code == 403
