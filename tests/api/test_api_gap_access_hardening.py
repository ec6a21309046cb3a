"""Holes in the API's access control a privacy review found, closed, on SQLite and PostgreSQL:

- an admin could read any line in clear as its subscriber: an API key made for a subscriber login, or a second
  subscriber login bound to a line that has one (now refused, on record with the line's pseudonym; a read made
  with a key names the key in the audit);
- a subscriber probing another's subscription or complaint got 404 and left no ``access.denied`` row;
- a fraud "reveal" took a reason of spaces or dots, and checked the body before the caller's role (422, on
  record nowhere); role refusals about one subscriber (a case, a ticket) named no subject;
- the caller's ``X-Request-ID`` went into the audit as it was (a phone number, another request's id);
- an agent told a real customer's bill (403) from a made-up one (404): the bill id is computable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app
from fairtel.api._security import api_key_hash
from fairtel.api._users import create_user, set_disabled
from fairtel.billing import bill_id_for
from fairtel.cli import app as cli
from fairtel.core.errors import ConflictError
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, ApiKey, ConsentEvent, TroubleTicket, User
from fairtel.store._engine import writer
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
NOT_A_CUSTOMER = "8613600136000"


def pseudonym(msisdn: str) -> str:
    return Pseudonymizer(KEY, domain="msisdn")(msisdn)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


def login(client: TestClient, user: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def rows_of(seeded: Seeded, tag: str) -> list[Any]:
    """The audit rows of the requests sent with ``X-Request-ID: tag`` (recorded after the server's own id)."""
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.request_id.like(f"%~{tag}")).order_by(t.c.audit_id)))


def tagged(headers: dict[str, str], tag: str) -> dict[str, str]:
    return {**headers, "X-Request-ID": tag}


# ---- H1: no reading a line in clear as its subscriber -------------------------------------------------------
def test_a_subscriber_login_gets_no_api_key_and_the_attempt_is_on_its_lines_record(
    client: TestClient, seeded: Seeded
) -> None:
    admin = login(client, "admin1")
    r = client.post(
        "/api/v1/users/alice/api-keys", json={"label": "impersonation"}, headers=tagged(admin, "key-for-alice")
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict" and "systems" in r.json()["error"]["message"]
    k = table_of(ApiKey)
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(k.c.key_id).where(k.c.username == "alice")) is None
    [row] = rows_of(seeded, "key-for-alice")
    assert (row.action, row.actor, row.subject_msisdn_pseudonym) == ("api_key.create", "admin1", pseudonym(ALICE))
    assert "failed: conflict" in row.reason
    # a search by Alice finds who tried
    found = client.get("/api/v1/audit", params={"msisdn": ALICE, "action": "api_key.create"}, headers=admin).json()[
        "items"
    ]
    assert any(i["actor"] == "admin1" for i in found)


def test_a_key_a_subscriber_login_was_given_before_is_not_valid(client: TestClient, seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(ApiKey)
            .insert()
            .values(
                key_id="key-old-alice",
                key_hash=api_key_hash("ftk_old_alice_key"),
                username="alice",
                label=None,
                created_at=datetime.now(UTC),
                revoked_at=None,
            )
        )
    for path in ("/api/v1/me/bills/2026-10", "/api/v1/me/usage"):
        r = client.get(path, headers={"X-API-Key": "ftk_old_alice_key"})
        assert r.status_code == 401, r.text


def test_a_read_made_with_a_key_names_the_key_in_the_audit(client: TestClient, seeded: Seeded) -> None:
    admin = login(client, "admin1")
    made = client.post(
        "/api/v1/users/analyst1/api-keys", json={"label": "reports"}, headers=tagged(admin, "key-for-analyst")
    )
    assert made.status_code == 201, made.text
    key_id, key = made.json()["key_id"], made.json()["key"]
    [created] = rows_of(seeded, "key-for-analyst")
    assert (created.action, created.resource, created.subject_msisdn_pseudonym) == (
        "api_key.create",
        f"api_key/{key_id}",
        None,
    )

    r = client.get("/api/v1/complaints", headers={"X-API-Key": key, "X-Request-ID": "read-by-key"})
    assert r.status_code == 200, r.text
    rows = rows_of(seeded, "read-by-key")
    assert rows and all(row.reason.endswith(f"(via api_key {key_id})") for row in rows), [r.reason for r in rows]
    # a read with a password's token names none
    r = client.get("/api/v1/complaints", headers=tagged(login(client, "analyst1"), "read-by-token"))
    assert r.status_code == 200
    assert all("api_key" not in row.reason for row in rows_of(seeded, "read-by-token"))


def test_a_line_has_one_subscriber_login(client: TestClient, seeded: Seeded) -> None:
    admin = login(client, "admin1")
    shadow = {"username": "shadow1", "role": "subscriber", "msisdn": ALICE, "password": "Shadow-pass-123!"}
    r = client.post("/api/v1/users", json=shadow, headers=tagged(admin, "second-login"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["details"]["field"] == "msisdn"
    assert (
        client.post("/api/v1/auth/token", data={"username": "shadow1", "password": "Shadow-pass-123!"}).status_code
        == 401
    )
    [row] = rows_of(seeded, "second-login")
    assert (row.action, row.subject_msisdn_pseudonym) == (
        "user.create",
        pseudonym(ALICE),
    ) and "failed: conflict" in row.reason

    # Carol's line has none: her login is made, on record with her pseudonym; a second is refused
    carol = {"username": "carol", "role": "subscriber", "msisdn": CAROL, "password": "Carol-pass-123!"}
    r = client.post("/api/v1/users", json=carol, headers=tagged(admin, "carol-login"))
    assert r.status_code == 201, r.text
    [row] = rows_of(seeded, "carol-login")
    assert (row.action, row.subject_msisdn_pseudonym, row.reason) == (
        "user.create",
        pseudonym(CAROL),
        "role subscriber",
    )
    assert client.post("/api/v1/users", json={**carol, "username": "carol2"}, headers=admin).status_code == 409

    # a line that changed hands: its old login disabled, a new one may be made; the old one is not enabled beside it
    assert client.post("/api/v1/users/carol/disable", headers=admin).status_code == 204
    assert client.post("/api/v1/users", json={**carol, "username": "carol-new"}, headers=admin).status_code == 201
    with seeded.engine.begin() as conn, pytest.raises(ConflictError):
        set_disabled(conn, "carol", False)


def test_two_logins_made_at_once_for_one_line_are_not_both_kept(seeded: Seeded) -> None:
    """The second waits for the first's line (a row lock; SQLite's write lock) and then sees its login."""
    line = BOB
    with writer(seeded.engine).begin() as conn:
        conn.execute(update(table_of(User)).where(table_of(User).c.username == "bob").values(disabled=True))
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with writer(seeded.engine).begin() as c2:
                create_user(c2, "bob-racer2", "Racer-pass-123!", "subscriber", msisdn=line)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        with writer(seeded.engine).begin() as c1:
            create_user(c1, "bob-racer1", "Racer-pass-123!", "subscriber", msisdn=line)
            other = threading.Thread(target=second)
            other.start()
            time.sleep(0.5)
            assert other.is_alive(), outcome  # waiting for the first
        other.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], ConflictError), outcome
        u = table_of(User)
        with seeded.engine.connect() as conn:
            live = conn.scalars(select(u.c.username).where(u.c.msisdn == line, u.c.disabled.is_(False))).all()
        assert live == ["bob-racer1"]
    finally:
        with seeded.engine.begin() as conn:
            conn.execute(
                update(table_of(User)).where(table_of(User).c.username.like("bob-racer%")).values(disabled=True)
            )
            conn.execute(update(table_of(User)).where(table_of(User).c.username == "bob").values(disabled=False))


def test_the_command_line_refuses_what_the_api_refuses(seeded: Seeded) -> None:
    if seeded.engine.dialect.name != "sqlite":
        pytest.skip("the command line opens the home's own database")
    runner = CliRunner()
    home = str(seeded.settings.home)
    env = {"FAIRTEL_SECRET_KEY": KEY, "FAIRTEL_ENVIRONMENT": "test"}
    added = runner.invoke(
        cli,
        ["users", "add", "shadow-cli", "--role", "subscriber", "--msisdn", ALICE, "--password-stdin", "--home", home],
        input="Shadow-pass-123!\n",
        env=env,
    )
    assert added.exit_code != 0 and "subscriber login already" in added.output, added.output
    keyed = runner.invoke(cli, ["users", "key", "alice", "--home", home], env=env)
    assert keyed.exit_code != 0 and "systems" in keyed.output, keyed.output
    u, k = table_of(User), table_of(ApiKey)
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(u.c.username).where(u.c.username == "shadow-cli")) is None
        assert conn.scalar(select(k.c.key_id).where(k.c.username == "alice", k.c.key_id != "key-old-alice")) is None


# ---- M3: a probe of another's subscription or complaint is on record ------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/subscriptions/sub-a1/cancel", None),
        ("POST", "/api/v1/me/subscriptions/sub-a1/confirm", None),
        ("GET", "/api/v1/complaints/cmp-1/history", None),
        ("POST", "/api/v1/complaints/cmp-1/reopen", {}),
    ],
)
def test_a_probe_of_another_subscribers_object_is_not_found_and_audited(
    client: TestClient, seeded: Seeded, method: str, path: str, body: dict[str, str] | None
) -> None:
    tag = "probe-" + path.rsplit("/", 1)[-1]
    r = client.request(method, path, json=body, headers=tagged(login(client, "bob"), tag))
    assert r.status_code == 404, r.text
    [row] = rows_of(seeded, tag)
    assert (row.actor, row.action, row.subject_msisdn_pseudonym) == ("bob", "access.denied", pseudonym(ALICE))
    assert row.reason == "refused: permission_denied, answered not_found"
    e = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:  # nothing changed
        assert conn.scalar(select(e.c.event).where(e.c.subscription_id == "sub-a1", e.c.event == "cancelled")) is None


# ---- M4, L5, L6: revealing a case's number ---------------------------------------------------------------
@pytest.mark.parametrize("reason", ["     ", ".....", "12345", " ab. ", "-- ? --", "核实"])
def test_a_reveal_needs_a_reason_in_words(client: TestClient, reason: str) -> None:
    r = client.post("/api/v1/fraud/cases/case-1/reveal", json={"reason": reason}, headers=login(client, "fraud1"))
    assert r.status_code == 422, r.text
    assert "reason" in r.text


@pytest.mark.parametrize("reason", ["  call back the line  ", "核实来电号码", "block it"])
def test_a_reveal_with_a_reason_in_words_is_recorded_stripped(client: TestClient, seeded: Seeded, reason: str) -> None:
    tag = f"reveal-{len(reason)}"
    r = client.post(
        "/api/v1/fraud/cases/case-1/reveal", json={"reason": reason}, headers=tagged(login(client, "fraud1"), tag)
    )
    assert r.status_code == 200, r.text
    assert r.json()["msisdn"] == CAROL
    [row] = rows_of(seeded, tag)
    assert (row.action, row.subject_msisdn_pseudonym, row.reason) == (
        "fraud_case.reveal_number",
        pseudonym(CAROL),
        reason.strip(),
    )


@pytest.mark.parametrize("who", ["analyst1", "admin1", "agent1", "alice"])
@pytest.mark.parametrize("reason", ["x", "a reason long enough"])
def test_a_reveal_by_a_role_that_may_not_is_refused_before_its_reason_is_read(
    client: TestClient, seeded: Seeded, who: str, reason: str
) -> None:
    tag = f"reveal-by-{who}-{len(reason)}"
    r = client.post(
        "/api/v1/fraud/cases/case-1/reveal", json={"reason": reason}, headers=tagged(login(client, who), tag)
    )
    assert r.status_code == 403, r.text
    [row] = rows_of(seeded, tag)
    assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", pseudonym(CAROL))
    assert row.reason.startswith("refused: permission_denied")
    # a case that does not exist is refused alike (no subject to name)
    r = client.post("/api/v1/fraud/cases/case-none/reveal", json={"reason": reason}, headers=login(client, who))
    assert r.status_code == 403, r.text


@pytest.fixture(scope="module")
def ticket(seeded: Seeded) -> str:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(TroubleTicket)
            .insert()
            .values(
                ticket_id="tkt-gap-1",
                msisdn=ALICE,
                region="Shanghai",
                category="no_signal",
                priority=2,
                status="open",
                opened_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
                resolved_at=None,
                summary="no signal at home",
            )
        )
    return "tkt-gap-1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tickets/{id}/transcript"),
        ("POST", "/api/v1/tickets/{id}/take"),
    ],
)
def test_a_role_refused_a_ticket_is_on_record_with_its_subscriber(
    client: TestClient, seeded: Seeded, ticket: str, method: str, path: str
) -> None:
    for who in ("admin1", "analyst1"):
        tag = f"ticket-{who}-{method}"
        r = client.request(method, path.format(id=ticket), headers=tagged(login(client, who), tag))
        assert r.status_code == 403, r.text
        [row] = rows_of(seeded, tag)
        assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", pseudonym(ALICE)), row


def test_a_role_refused_a_complaint_is_on_record_with_its_subscriber(client: TestClient, seeded: Seeded) -> None:
    r = client.post("/api/v1/complaints/cmp-2/take", headers=tagged(login(client, "analyst1"), "take-by-analyst"))
    assert r.status_code == 403, r.text
    [row] = rows_of(seeded, "take-by-analyst")
    assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", pseudonym(BOB))


# ---- L1: a bill id tells nothing to a caller who may not read it --------------------------------------------
def test_an_agent_not_handling_a_customer_cannot_tell_their_bill_from_none(client: TestClient, seeded: Seeded) -> None:
    agent = login(client, "agent1")
    real = client.get(f"/api/v1/bills/{bill_id_for(ALICE, '2026-10')}", headers=tagged(agent, "bill-real"))
    made_up = client.get(
        f"/api/v1/bills/{bill_id_for(NOT_A_CUSTOMER, '2026-10')}", headers=tagged(agent, "bill-made-up")
    )
    lines = client.get(f"/api/v1/bills/{bill_id_for(ALICE, '2026-10')}/lines", headers=agent)
    assert real.status_code == made_up.status_code == lines.status_code == 404, (real.text, made_up.text)
    assert real.json()["error"]["code"] == made_up.json()["error"]["code"] == "not_found"
    [row] = rows_of(seeded, "bill-real")  # the refusal is on record all the same
    assert (row.action, row.subject_msisdn_pseudonym) == ("access.denied", pseudonym(ALICE))
    assert row.reason == "refused: assignment_required, answered not_found"
    # handling her, the agent reads it
    taken = client.post("/api/v1/complaints/cmp-1/take", headers=agent)
    assert taken.status_code == 200, taken.text
    try:
        assert client.get(f"/api/v1/bills/{bill_id_for(ALICE, '2026-10')}", headers=agent).status_code == 200
    finally:
        client.post(f"/api/v1/assignments/{taken.json()['assignment_id']}/release", headers=agent)


# ---- M5: the audit's request id is the server's ------------------------------------------------------------
def test_the_audit_records_the_servers_request_id(client: TestClient, seeded: Seeded) -> None:
    analyst = login(client, "analyst1")
    t = table_of(AccessAudit)

    def recorded(response: Any) -> list[Any]:
        rid = response.headers["x-request-id"]
        with seeded.engine.connect() as conn:
            return list(conn.execute(select(t).where(t.c.request_id == rid)))

    planted = client.get("/api/v1/complaints", headers={**analyst, "X-Request-ID": "13800138000"})
    assert planted.status_code == 200
    assert "13800138000" not in planted.headers["x-request-id"] and recorded(planted)
    dotted = client.get("/api/v1/complaints", headers={**analyst, "X-Request-ID": "req-138-0013-8000"})
    assert "0013" not in dotted.headers["x-request-id"] and recorded(dotted)
    with seeded.engine.connect() as conn:
        assert not conn.execute(select(t.c.audit_id).where(t.c.request_id.like("%0013%8000%"))).first()

    # the same id sent twice: two requests, told apart in the audit, the caller's id kept after the server's
    first = client.get("/api/v1/complaints", headers={**analyst, "X-Request-ID": "batch-7"})
    second = client.get("/api/v1/complaints", headers={**analyst, "X-Request-ID": "batch-7"})
    a, b = first.headers["x-request-id"], second.headers["x-request-id"]
    assert a != b and a.endswith("~batch-7") and b.endswith("~batch-7")
    assert recorded(first) and recorded(second)
    assert {r.audit_id for r in recorded(first)}.isdisjoint({r.audit_id for r in recorded(second)})
    # a long id is cut to what the audit holds
    long = client.get("/api/v1/complaints", headers={**analyst, "X-Request-ID": "x" * 64})
    assert len(long.headers["x-request-id"]) == 64 and recorded(long)
