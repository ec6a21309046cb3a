"""Fraud decisions through the API: the answer shows the case as decided, the decision is the one the command
line reads (a rerun of the detectors keeps it, the case files get it), a confirmed SIM-box line is suspended
with a note, audited with its reason, and the subscribers a Wangiri case names are audited when a page
shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.api._cases import decide_fraud_case
from fairtel.api._security import Principal
from fairtel.cli import app as cli
from fairtel.core.errors import ConflictError
from fairtel.fraud import CaseFiles, CaseQueue, CaseStatus, Detector, FraudCase, Reason
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import AccessAudit, get_subscriber
from fairtel.store import FraudCase as CaseRow
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WANGIRI_CALLER = "37129876543"
CONFIRMED, SUSPENDED, WANGIRI = "fcs_gap_confirmed", "fcs_gap_suspended", "fcs_gap_wangiri"


def pseudonym(msisdn: str) -> str:
    return Pseudonymizer(KEY, domain="msisdn")(msisdn)


def _case(case: str, detector: Detector, subject: str, **kw: Any) -> FraudCase:
    return FraudCase(case_id=case, detector=detector, subject=subject, period="2026-10", score=0.9, evidence={"calls_out": 400},
                     reasons=(Reason("calls_out_per_day", 400.0, 40.0, "400 outgoing calls a day (≥ 40)", "日均主叫 400 次（≥ 40）"),),
                     opened_at=T0, **kw)


@pytest.fixture(scope="module")
def cases(seeded: Seeded) -> list[str]:
    """Cases in the home's case files, mirrored into the database as `fairtel fraud detect` leaves them."""
    from fairtel.cli._fraud_detect import sync_db

    files = CaseFiles(seeded.settings.home / "fraud")
    queue = CaseQueue()
    queue.merge([_case(CONFIRMED, Detector.SIMBOX, ALICE), _case(SUSPENDED, Detector.SIMBOX, BOB),
                 _case(WANGIRI, Detector.WANGIRI, WANGIRI_CALLER, subject_kind="caller", related=(ALICE, CAROL))])
    files.save_cases(queue)
    sync_db(seeded.app, queue.cases())
    return [CONFIRMED, SUSPENDED, WANGIRI]


def audit(seeded: Seeded, *where: Any) -> list[Any]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(*(w(t) for w in where)).order_by(t.c.audit_id)))


def case_row(seeded: Seeded, case: str) -> Any:
    t = table_of(CaseRow)
    with seeded.engine.connect() as conn:
        return conn.execute(select(t).where(t.c.case_id == case)).one()


def test_a_decision_through_the_api_is_the_one_the_command_line_reads(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, cases: list[str]
) -> None:
    r = client.post(f"/api/v1/fraud/cases/{CONFIRMED}/decide", json={"status": "confirmed"}, headers=auth(tokens["fraud1"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["evidence"]["status"] == "confirmed"
    assert [h["by"] for h in r.json()["evidence"]["history"]] == ["fraud1"]

    home = str(seeded.settings.home)
    r = CliRunner().invoke(cli, ["fraud", "detect", "--home", home, "--json"])  # reruns the detectors: nothing reopens
    assert r.exit_code == 0, r.output
    row = case_row(seeded, CONFIRMED)
    assert (row.status, row.decided_by) == ("confirmed", "fraud1")
    r = CliRunner().invoke(cli, ["fraud", "cases", "--home", home, "--status", "confirmed", "--json"])
    assert [c["case_id"] for c in json.loads(r.stdout)["cases"]] == [CONFIRMED]
    assert CaseFiles(seeded.settings.home / "fraud").load().get(CONFIRMED).status is CaseStatus.CONFIRMED

    r = CliRunner().invoke(cli, ["fraud", "decide", CONFIRMED, "--false-alarm", "--by", "analyst-li", "--home", home, "--json"])
    assert r.exit_code != 0 and "already decided" in r.stdout  # never decided twice
    r = client.post(f"/api/v1/fraud/cases/{CONFIRMED}/decide", json={"status": "false_alarm"}, headers=auth(tokens["fraud1"]))
    assert r.status_code == 409
    decided = audit(seeded, lambda t: t.c.action == "fraud_case.decide", lambda t: t.c.resource == f"fraud_case/{CONFIRMED}")
    assert [(a.actor, a.reason) for a in decided] == [("fraud1", "confirmed")]


def test_a_confirmed_simbox_line_is_suspended_with_the_analysts_note(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, cases: list[str]
) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    fraud1 = Principal("fraud1", Role.FRAUD_ANALYST)
    # over HTTP the request's suspend and note reach the decision: a Wangiri caller cannot be suspended (409)
    r = client.post(f"/api/v1/fraud/cases/{WANGIRI}/decide", json={"status": "confirmed", "suspend": True, "note": "x"},
                    headers=auth(tokens["fraud1"]))
    assert r.status_code == 409, r.text
    with pytest.raises(ConflictError), svc.access(fraud1) as acc:  # a Wangiri caller is an outside number
        decide_fraud_case(acc, WANGIRI, "confirmed", suspend=True)
    with pytest.raises(ConflictError), svc.access(fraud1) as acc:  # a false alarm suspends nothing
        decide_fraud_case(acc, SUSPENDED, "false_alarm", suspend=True)
    assert case_row(seeded, SUSPENDED).status == "open" and case_row(seeded, WANGIRI).status == "open"

    with svc.access(fraud1, request_id="gap-suspend") as acc:
        out = decide_fraud_case(acc, SUSPENDED, "confirmed", note="owner reached on +86 139 0013 9000", suspend=True)
    assert out.line == "suspended" and out.status == "confirmed"
    with seeded.engine.connect() as conn:
        assert get_subscriber(conn, BOB).status == "suspended"  # type: ignore[union-attr]
    said = f"owner reached on {pseudonym(BOB)}"
    assert out.evidence["history"][0]["note"] == said and out.evidence["history"][0]["suspend"] is True
    [decided] = audit(seeded, lambda t: t.c.request_id == "gap-suspend")
    assert (decided.action, decided.reason) == ("fraud_case.decide", f"confirmed, line suspension requested: {said}")
    [line] = audit(seeded, lambda t: t.c.action == "line.suspend", lambda t: t.c.subject_msisdn_pseudonym == pseudonym(BOB))
    assert line.actor == "fraud1" and line.reason == f"simbox case {SUSPENDED} confirmed: {said}"
    stored = json.dumps(case_row(seeded, SUSPENDED).evidence["history"])
    assert "139 0013 9000" not in stored and said in stored

    r = CliRunner().invoke(cli, ["fraud", "cases", "--home", str(seeded.settings.home), "--json"])
    assert r.exit_code == 0, r.output
    suspensions = CaseFiles(seeded.settings.home / "fraud").suspensions()  # the request is in the case files too
    assert [(s["case_id"], s["requested_by"]) for s in suspensions] == [(SUSPENDED, "fraud1")]


def test_the_subscribers_a_wangiri_case_names_are_audited_with_the_page(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, cases: list[str]
) -> None:
    r = client.get("/api/v1/fraud/cases", params={"detector": "wangiri"}, headers={**auth(tokens["fraud1"]), "X-Request-Id": "gap-wangiri"})
    assert r.status_code == 200, r.text
    [case] = [c for c in r.json()["items"] if c["case_id"] == WANGIRI]
    shown = set(case["evidence"]["related"])
    assert shown == {pseudonym(ALICE), pseudonym(CAROL)}
    subjects = {a.subject_msisdn_pseudonym for a in audit(seeded, lambda t: t.c.request_id.like("%~gap-wangiri"))}
    assert shown <= subjects and pseudonym(WANGIRI_CALLER) in subjects
