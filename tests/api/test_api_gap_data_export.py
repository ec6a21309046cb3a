"""A subscriber's data access request: everything held about one line, in one export.

``GET /api/v1/me/data-export`` (the subscriber) and ``GET /api/v1/subscribers/{msisdn}/data-export`` (an agent handling
them) gather every kind of data fairtel holds about the line, nothing of another subscriber, never what is kept to
check a one-time code; the export is audited, and refused to every other role.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from fairtel_seed import ALICE, BILL_B, BOB, CAROL, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.api import ApiOptions, create_app
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, ConsentEvent, Lake, TroubleTicket
from fairtel.store._schema import Adjustment, LoyaltyEntry, RoamingCap, Survey, TicketNote, table_of

KEY = "test-secret-key-0123456789abcdef"
ID_NUMBER = "110101199003071234"
# bob's and carol's numbers as they may be written in free text (dialled at home)
BOB_LOCAL, CAROL_LOCAL = BOB[2:], CAROL[2:]
ME, FOR_ALICE = "/api/v1/me/data-export", f"/api/v1/subscribers/{ALICE}/data-export"


def pseudonym(msisdn: str) -> str:
    return Pseudonymizer(KEY, domain="msisdn")(msisdn)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


@pytest.fixture(scope="module")
def held(seeded: Seeded, client: TestClient, tokens: dict[str, str]) -> None:
    """Beside the seeded home: alice's tickets, ticket note, loyalty entries, roaming cap, survey comment, credit, an order
    she made (its event keeps a one-time code's material), a note on her complaint and an older month of usage; the
    like for bob."""
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert(), [
            {"ticket_id": "tkt-a", "msisdn": ALICE, "region": "Shanghai", "category": "agent_handoff", "priority": 2, "status": "open",
             "opened_at": at, "resolved_at": None,
             "summary": f"chat chat_01alice\nuser: my bill is wrong, {CAROL_LOCAL} never called me\nassistant: I'll put you through."},
            {"ticket_id": "tkt-b", "msisdn": BOB, "region": "Beijing", "category": "no_signal", "priority": 1, "status": "open",
             "opened_at": at, "resolved_at": None, "summary": "bob-fault no signal at home"},
        ])
        conn.execute(table_of(TicketNote).insert(), [
            {"ticket_id": "tkt-a", "noted_at": at, "author": "agent1", "status": None, "note": f"rang her back from {BOB_LOCAL}"},
            {"ticket_id": "tkt-b", "noted_at": at, "author": "agent1", "status": None, "note": "bob-note"},
        ])
        conn.execute(table_of(LoyaltyEntry).insert(), [
            {"entry_id": "loy-a1", "msisdn": ALICE, "kind": "earn", "points": 120, "reason": "welcome", "booked_at": at},
            {"entry_id": "loy-a2", "msisdn": ALICE, "kind": "redeem", "points": 20, "reason": "data pack", "booked_at": at},
            {"entry_id": "loy-b1", "msisdn": BOB, "kind": "earn", "points": 999, "reason": "bob-bonus", "booked_at": at},
        ])
        conn.execute(table_of(RoamingCap).insert(), [
            {"cap_id": "cap-a", "msisdn": ALICE, "amount_minor": 20000, "currency": "CNY", "set_at": at, "set_by": "alice"},
            {"cap_id": "cap-b", "msisdn": BOB, "amount_minor": 30000, "currency": "CNY", "set_at": at, "set_by": "bob"},
        ])
        conn.execute(table_of(Survey).insert(), [
            {"survey_id": "srv-a", "msisdn": ALICE, "score": 7, "answered_at": at, "channel": "app",
             "comment": f"fine; my ID is {ID_NUMBER}"},
            {"survey_id": "srv-b", "msisdn": BOB, "score": 2, "answered_at": at, "channel": "app", "comment": "bob-comment"},
        ])
        conn.execute(table_of(Adjustment).insert(), [
            {"adjustment_id": "adj-a", "kind": "credit", "msisdn": ALICE, "bill_id": None, "finding_id": None, "amount_minor": 150,
             "currency": "CNY", "reason": "goodwill", "created_at": at, "created_by": "agent1"},
            {"adjustment_id": "adj-b", "kind": "credit", "msisdn": BOB, "bill_id": None, "finding_id": None, "amount_minor": 250,
             "currency": "CNY", "reason": "bob-goodwill", "created_at": at, "created_by": "agent1"},
        ])
    # an older month of usage: summarised in the export, its records listed only when that many months are asked for
    given: dict[str, list[Any]] = {
        "record_id": ["old-a", "old-b"], "source": ["switch-2026-06.csv"] * 2, "msisdn": [ALICE, BOB], "kind": ["voice", "voice"],
        "direction": ["out", "out"], "started_at": [datetime(2026, 6, 3, 2, 0, tzinfo=UTC)] * 2, "duration_s": [60, 90],
        "peer": [BOB, ALICE],
    }
    older = pa.table({f.name: pa.array(given.get(f.name, [None, None]), f.type) for f in CLEAN_USAGE_SCHEMA}, schema=CLEAN_USAGE_SCHEMA)
    Lake(seeded.settings.lake_dir).write("usage", "2026-06", older, part="older")
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=auth(tokens["alice"]))
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/complaints/cmp-1/take", headers=auth(tokens["agent1"]))
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/complaints/cmp-1/resolve", json={"note": f"called back on {BOB_LOCAL}"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/subscribers/{ALICE}", headers=auth(tokens["agent1"])).status_code == 200
    assert client.get("/api/v1/me", headers=auth(tokens["bob"])).status_code == 200  # a read of bob's data, not alice's


def _export(client: TestClient, token: str, path: str = ME, **params: Any) -> tuple[dict[str, Any], str]:
    r = client.get(path, params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json(), r.text


def _audit(seeded: Seeded, **where: Any) -> list[Any]:
    t = table_of(AccessAudit)
    q = select(t).where(*(t.c[k] == v for k, v in where.items())).order_by(t.c.audit_id)
    with seeded.engine.connect() as conn:
        return list(conn.execute(q))


def test_the_export_holds_every_kind_of_data_about_the_line(client: TestClient, tokens: dict[str, str], held: None) -> None:
    d, _ = _export(client, tokens["alice"])
    assert d["msisdn"] == ALICE and d["subscriber"]["msisdn"] == ALICE and d["subscriber"]["plan_id"] == "basic-39"
    assert d["customer"]["customer_id"] == "cust-a"
    assert [p["plan_id"] for p in d["plan_history"]] == ["basic-39"]
    assert [s["status"] for s in d["status_history"]] == ["active"]
    [bill] = d["bills"]
    assert bill["period"] == "2026-10" and bill["total"] == "53.50"
    assert [ln["kind"] for ln in bill["lines"]][:2] == ["plan_fee", "voice"]
    assert [(a["adjustment_id"], a["kind"], a["amount"]) for a in d["adjustments"]] == [("adj-a", "credit", "1.50")]
    months = {m["period"]: m for m in d["usage"]["months"]}
    assert months["2026-10"]["by_kind"]["voice"] == {"records": 2, "seconds": 310, "bytes": 0}
    assert months["2026-10"]["charged"] == "14.50"
    assert [r["record_id"] for r in d["usage"]["records"]] == ["old-a", "r-0", "r-1", "r-2", "r-3", "r-4"]
    assert {r["record_id"]: r["charged"] for r in d["usage"]["records"]}["r-1"] == "4.50"
    assert {(e["subscription_id"], e["event"]) for e in d["consent_events"]} >= {("sub-a1", "ordered"), ("sub-a1", "confirmed")}
    assert len(d["consent_events"]) == 3
    assert {s["offer_id"]: s["state"] for s in d["subscriptions"]} == {"vas-music-10": "confirmed", "vas-news-5": "ordered"}
    assert [f["finding_id"] for f in d["findings"]] == ["fnd-1"]
    [complaint] = d["complaints"]
    assert complaint["complaint_id"] == "cmp-1" and complaint["text"] == "I never ordered horoscope messages"
    assert complaint["status"] == "resolved"
    assert any(e["note"] == "called back on 86139****9000" for e in complaint["events"])
    [ticket] = d["tickets"]
    assert ticket["ticket_id"] == "tkt-a"
    assert ticket["conversation"][0] == {"who": "subscriber", "text": "my bill is wrong, 86137****7000 never called me"}
    assert [n["note"] for n in ticket["notes"]] == ["rang her back from 86139****9000"]
    assert [(s["survey_id"], s["score"]) for s in d["surveys"]] == [("srv-0", 9), ("srv-a", 7)]
    assert d["loyalty"]["balance"] == 100 and [e["entry_id"] for e in d["loyalty"]["entries"]] == ["loy-a1", "loy-a2"]
    assert [(c["amount"], c["set_by"]) for c in d["roaming_caps"]] == [("200.00", "alice")]
    assert d["churn_scores"] == [{"period": "2026-10", "churn_risk": 0.12, "reasons": ""}]
    reads = {(a["role"], a["action"]) for a in d["access_log"]}
    assert {("agent", "assignment.start"), ("agent", "subscriber.read"), ("subscriber", "subscription.order"),
            ("subscriber", "subscriber.export")} <= reads


def test_usage_records_are_listed_for_the_latest_months_only(client: TestClient, tokens: dict[str, str], held: None) -> None:
    d, _ = _export(client, tokens["alice"], months=1)
    assert {m["period"]: m["itemised"] for m in d["usage"]["months"]} == {"2026-06": False, "2026-10": True}
    assert {m["period"]: m["by_kind"]["voice"]["records"] for m in d["usage"]["months"]} == {"2026-06": 1, "2026-10": 2}
    assert [r["record_id"] for r in d["usage"]["records"]] == ["r-0", "r-1", "r-2", "r-3", "r-4"]
    assert d["limits"]["usage_months_itemised"] == 1
    for bad in (0, 25):
        r = client.get(ME, params={"months": bad}, headers=auth(tokens["alice"]))
        assert r.status_code == 422 and "months" in r.text


def test_the_export_holds_nothing_of_another_subscriber(seeded: Seeded, client: TestClient, tokens: dict[str, str], held: None) -> None:
    d, text = _export(client, tokens["alice"])
    for other in (BOB, CAROL, BOB_LOCAL, CAROL_LOCAL, BILL_B, "cust-b", "bob-", "tkt-b", "cmp-2", "fnd-2", "sub-b1", "srv-b",
                  "loy-b1", "cap-b", "adj-b", "old-b", "\"r-5\"", "\"r-8\""):
        assert other not in text, other
    # the other party of a call is masked, and the subscriber's own number stays plain
    assert {r["record_id"]: r["peer"] for r in d["usage"]["records"]}["r-0"] == "86139****9000"
    # the access log is every audit row about alice's line (the export's own included), and none about bob's: bob
    # reading his own data is not in it
    assert len(d["access_log"]) == len(_audit(seeded, subject_msisdn_pseudonym=pseudonym(ALICE)))
    assert all(a["own_login"] for a in d["access_log"] if a["role"] == "subscriber")


def test_no_one_time_code_material_is_exported(seeded: Seeded, client: TestClient, tokens: dict[str, str], held: None) -> None:
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        evidence = conn.scalar(select(t.c.evidence).where(t.c.msisdn == ALICE, t.c.offer_id == "vas-news-5", t.c.event == "ordered"))
    step = (json.loads(evidence) if isinstance(evidence, str) else evidence)["second_step"]
    assert step["code_sha256"] and step["challenge_id"] and step["key_tag"]
    d, text = _export(client, tokens["alice"])
    for secret in (step["code_sha256"], step["challenge_id"], step["key_tag"]):
        assert secret not in text
    [order] = [e for e in d["consent_events"] if e["offer_id"] == "vas-news-5"]
    assert order["evidence"]["second_step"] == {"method": step["method"]}
    assert order["evidence"]["actor"] == "alice" and order["source"] == "api:alice"


def test_identity_numbers_and_staff_logins_are_not_exported(client: TestClient, tokens: dict[str, str], held: None) -> None:
    d, text = _export(client, tokens["alice"])
    assert ID_NUMBER not in text
    assert "agent1" not in text
    # one reader, one pseudonym: the agent's audit rows and the notes they wrote name the same reader
    agents = {a["actor"] for a in d["access_log"] if a["role"] == "agent"}
    assert len(agents) == 1
    assert {e["by"] for e in d["complaints"][0]["events"] if e["note"] == "called back on 86139****9000"} == agents
    assert {n["by"] for n in d["tickets"][0]["notes"]} == agents
    assert all(a["actor"] == "alice" for a in d["access_log"] if a["own_login"])


def test_the_export_is_audited(seeded: Seeded, client: TestClient, tokens: dict[str, str], held: None) -> None:
    before = len(_audit(seeded, action="subscriber.export"))
    d, _ = _export(client, tokens["alice"])
    rows = _audit(seeded, action="subscriber.export")[before:]
    assert [(r.actor, r.role, r.subject_msisdn_pseudonym, r.reason, r.resource) for r in rows] == [
        ("alice", "subscriber", pseudonym(ALICE), "own data", "data_export")]
    # the export lists its own read
    assert d["access_log"][-1] | {"at": None} == {"at": None, "role": "subscriber", "actor": "alice", "own_login": True,
                                                  "action": "subscriber.export", "what": "data_export"}
    d, _ = _export(client, tokens["agent1"], FOR_ALICE)
    [row] = _audit(seeded, action="subscriber.export")[before + 1:]
    assert (row.actor, row.role, row.subject_msisdn_pseudonym, row.reason) == ("agent1", "agent", pseudonym(ALICE), "complaint cmp-1")


def test_an_agent_handling_the_subscriber_exports_the_subscribers_copy(client: TestClient, tokens: dict[str, str], held: None) -> None:
    mine, _ = _export(client, tokens["alice"])
    theirs, text = _export(client, tokens["agent1"], FOR_ALICE)
    assert theirs["made_by_role"] == "agent"
    same = ("subscriber", "customer", "bills", "adjustments", "usage", "consent_events", "subscriptions", "findings", "complaints",
            "tickets", "surveys", "loyalty", "roaming_caps", "marketing_preferences", "churn_scores")
    assert {k: theirs[k] for k in same} == {k: mine[k] for k in same}
    assert theirs["access_log"][:len(mine["access_log"])] == mine["access_log"]
    assert BOB not in text and CAROL not in text


@pytest.mark.parametrize("user", ["analyst1", "fraud1", "admin1", "bob"])
def test_other_roles_are_refused_and_the_attempt_is_on_record(seeded: Seeded, client: TestClient, tokens: dict[str, str], held: None,
                                                             user: str) -> None:
    before = len(_audit(seeded, actor=user, action="access.denied"))
    r = client.get(FOR_ALICE, headers=auth(tokens[user]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied", r.text
    assert ALICE not in r.text
    [row] = _audit(seeded, actor=user, action="access.denied")[before:]
    assert row.subject_msisdn_pseudonym == pseudonym(ALICE)
    if user != "bob":  # staff have no line of their own to export
        assert client.get(ME, headers=auth(tokens[user])).status_code == 403


def test_the_refused_attempts_are_in_the_access_log_without_naming_who(client: TestClient, tokens: dict[str, str], held: None) -> None:
    for user in ("analyst1", "fraud1", "admin1", "bob"):
        assert client.get(FOR_ALICE, headers=auth(tokens[user])).status_code == 403
    d, text = _export(client, tokens["alice"])
    denied = [a for a in d["access_log"] if a["action"] == "access.denied"]
    assert {a["role"] for a in denied} >= {"analyst", "fraud_analyst", "admin", "subscriber"}
    assert {a["what"] for a in denied} == {"GET /api/v1/subscribers/{msisdn}/data-export"}
    assert not any(a["own_login"] for a in denied)  # bob's probe, named by a pseudonym
    for login in ("analyst1", "fraud1", "admin1", '"bob"'):
        assert login not in text


def test_an_agent_not_handling_the_customer_is_refused(seeded: Seeded, client: TestClient, tokens: dict[str, str], held: None) -> None:
    r = client.get(f"/api/v1/subscribers/{BOB}/data-export", headers=auth(tokens["agent1"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "assignment_required"
    with seeded.engine.connect() as conn:
        t = table_of(AccessAudit)
        denied = conn.scalar(select(func.count()).select_from(t).where(
            t.c.actor == "agent1", t.c.action == "access.denied", t.c.subject_msisdn_pseudonym == pseudonym(BOB)))
    assert denied >= 1


def test_the_zip_holds_the_json_and_a_csv_for_each_list(client: TestClient, tokens: dict[str, str], held: None) -> None:
    r = client.get(ME, params={"format": "zip"}, headers=auth(tokens["alice"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert ALICE not in r.headers["content-disposition"] and r.headers["content-disposition"].endswith('.zip"')
    z = zipfile.ZipFile(io.BytesIO(r.content))
    d = json.loads(z.read("export.json"))
    assert d["msisdn"] == ALICE and d["tickets"][0]["ticket_id"] == "tkt-a"
    records = list(csv.DictReader(io.StringIO(z.read("usage_records.csv").decode())))
    assert [x["record_id"] for x in records] == [x["record_id"] for x in d["usage"]["records"]]
    lines = list(csv.DictReader(io.StringIO(z.read("bill_lines.csv").decode())))
    assert len(lines) == len(d["bills"][0]["lines"]) and lines[0]["period"] == "2026-10"
    events = list(csv.DictReader(io.StringIO(z.read("consent_events.csv").decode())))
    assert len(events) == len(d["consent_events"]) and json.loads(events[-1]["evidence"])["actor"] == "alice"
    for name in z.namelist():
        body = z.read(name).decode()
        assert BOB not in body and CAROL not in body, name


def test_the_export_carries_the_lines_say_on_marketing(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.put("/api/v1/me/marketing", json={"opted_out": True}, headers=auth(tokens["alice"]))
    assert r.status_code == 200, r.text
    d, _ = _export(client, tokens["alice"])
    said = d["marketing_preferences"]
    assert said and said[-1]["opted_out"] is True and said[-1]["changed_by"] == "alice"
