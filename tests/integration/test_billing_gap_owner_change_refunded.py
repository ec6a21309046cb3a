"""An owner change learnt after the bill is corrected by `fairtel rerate` crediting the previous customer's billed
records; a VAS charge given back before (charge assurance's refund, a customer care credit naming it) is credited only
for what is still charged, and a refund decided after the correction does not pay the charge again.

The home is ``test_billing_gap_owner_change_rerate``'s: A's March bill charged c9 c1's music pack of the 3rd (10.00 +
0.60 VAS tax), c1's call of the 5th and the whole month's fee; the register then learns that A is c9's since 10 March.
SQLite and PostgreSQL.

Before: the rerate credited the music pack whole (10.60) after a refund of it (10.60: 21.20 given back for a 10.60
charge), and ``fairtel assure --refund`` after the rerate refunded it again (10.60 more)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import A, as_json, open_app
from test_billing_gap_owner_change_late import P
from test_billing_gap_owner_change_rerate import home  # noqa: F401 (the fixture)

from fairtel.assurance import Finding, FindingKind
from fairtel.billing import AdjustmentEntry, AdjustmentKind, bill_id_for
from fairtel.billing._model import care_credit_reason
from fairtel.cli._assure_refunds import post_refunds
from fairtel.store import Finding as FindingRow
from fairtel.store import adjustments_of, record_adjustments
from fairtel.store._schema import table_of

NOW = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)


def _finding(finding_id: str, kind: FindingKind, amount: str) -> Finding:
    return Finding(finding_id=finding_id, kind=kind, msisdn=A, record_ids=("c1-music",), subscription_id="s1",
                   amount=Decimal(amount), currency="CNY", detected_at=NOW, evidence={"source": "spgw"})


def _refund(where: Path, f: Finding) -> list[Decimal]:
    """Queue ``f`` and refund it as ``fairtel assure --refund`` does: what it posted, tax included."""
    app = open_app(where)
    try:
        with app.db.begin() as conn:
            conn.execute(table_of(FindingRow).insert(), [{
                "finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": f.subscription_id,
                "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
                "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None,
                "resolution": None}])
        return [a.amount for a in post_refunds(app, [f], outside_billing=False, now=NOW).posted]
    finally:
        app.close()


def _music(where: Path) -> list[tuple[str, int]]:
    """Every entry naming c1's music pack or its refund's finding: (kind, signed amount), and A's refunds."""
    app = open_app(where)
    with app.db.connect() as conn:
        out = sorted((e.kind.value, e.signed_minor) for e in adjustments_of(conn, A)
                     if e.record_id == "c1-music" or e.kind is AdjustmentKind.REFUND)
    app.close()
    return out


def test_a_charge_refunded_before_the_rerate_is_not_credited_again(home: Path) -> None:  # noqa: F811
    assert _refund(home, _finding("fnd-music-cancel", FindingKind.CHARGE_AFTER_CANCELLATION, "10.00")) == [Decimal("10.60")]
    rr = as_json(home, "rerate", "--period", P)
    # the fee (12.00) and c1's call (3.27) credited; the music pack was given back whole by its refund
    assert rr["net"] == "-15.27" and rr["owner_change_credits"] == 2, rr
    assert _music(home) == [("refund", -1060)]
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0


def test_a_charge_refunded_in_part_is_credited_the_rest(home: Path) -> None:  # noqa: F811
    # a price mismatch of 2.00 refunded (2.12 with its tax): 8.00 of the 10.00 is still charged to c9
    assert _refund(home, _finding("fnd-music-price", FindingKind.PRICE_MISMATCH, "2.00")) == [Decimal("2.12")]
    rr = as_json(home, "rerate", "--period", P)
    # 8.00 and the tax it added to the bill's VAS charges less the refund (0.48): 10.60 given back in all
    assert sorted(_music(home)) == [("credit", -848), ("refund", -212)], _music(home)
    assert rr["net"] == "-23.75", rr
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
    # and the statement says what was given back before
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 4
    from test_billing_cli import invoke

    en = " ".join(invoke(home, "bill", "statement", A, "--period", "2026-04", "--lang", "en").stdout.split())
    zh = invoke(home, "bill", "statement", A, "--period", "2026-04", "--lang", "zh").stdout
    assert "record c1-music 8.00 CNY, 2.00 CNY given back before" in en, en
    assert "话单 c1-music 8.00 元，此前已退 2.00 元" in zh, zh


def test_a_care_credit_naming_the_charge_is_not_credited_again(home: Path) -> None:  # noqa: F811
    app = open_app(home)
    with app.db.begin() as conn:  # an agent gave back half of it (5.30 with its tax) on a complaint
        assert record_adjustments(conn, [AdjustmentEntry(
            adjustment_id="adj-care-music", kind=AdjustmentKind.CREDIT, msisdn=A, amount_minor=530, currency="CNY",
            reason=care_credit_reason("disputed music pack", "CNY", record="c1-music"), created_at=NOW,
            created_by="agent1", bill_id=bill_id_for(A, P), source="spgw", record_id="c1-music")])
    app.close()
    rr = as_json(home, "rerate", "--period", P)
    assert sorted(_music(home)) == [("credit", -530), ("credit", -530)], _music(home)
    assert rr["net"] == "-20.57", rr


def test_a_refund_decided_after_the_rerate_pays_nothing_again(home: Path) -> None:  # noqa: F811
    rr = as_json(home, "rerate", "--period", P)
    assert rr["net"] == "-25.87", rr
    assert _music(home) == [("credit", -1060)]
    # charge assurance then finds the music pack charged after a cancellation: credited already, nothing to refund
    assert _refund(home, _finding("fnd-music-late", FindingKind.CHARGE_AFTER_CANCELLATION, "10.00")) == []
    assert _music(home) == [("credit", -1060)]
    app = open_app(home)
    with app.db.connect() as conn:
        from sqlalchemy import select

        t = table_of(FindingRow)
        assert conn.execute(select(t.c.status).where(t.c.finding_id == "fnd-music-late")).scalar_one() == "resolved"
    app.close()


def test_the_api_refund_after_the_rerate_pays_nothing_again(home: Path) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions, create_app, create_user
    from fairtel.core.settings import load_settings
    from fairtel.store import Complaint

    as_json(home, "rerate", "--period", P)
    f = _finding("fnd-music-api", FindingKind.CHARGE_AFTER_CANCELLATION, "10.00")
    app = open_app(home)
    with app.db.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [{
            "finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": f.subscription_id,
            "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
            "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None,
            "resolution": None}])
        create_user(conn, "agent-x", "a long enough password", "agent")
        conn.execute(table_of(Complaint).insert(), [
            {"complaint_id": "cmp-music", "msisdn": A, "category": "unexplained_charge", "opened_at": NOW,
             "closed_at": None, "status": "open", "channel": "phone", "text": "I never ordered a music pack"}])
    app.close()
    with TestClient(create_app(load_settings(home=home), options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "agent-x", "password": "a long enough password"}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        assert client.post("/api/v1/complaints/cmp-music/take", headers=h).status_code == 200
        r = client.post(f"/api/v1/findings/{f.finding_id}/refund", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "refunded_before", r.json()
    assert _music(home) == [("credit", -1060)]


def test_explain_words_the_owner_change_credit_as_such(home: Path) -> None:  # noqa: F811
    """``fairtel explain`` of c1's call credited by the rerate said "priced again after a tariff change"."""
    from test_billing_cli import runner

    from fairtel.cli import app as fairtel

    as_json(home, "rerate", "--period", P)
    said = {}
    for lang in ("en", "zh"):
        result = runner.invoke(fairtel, ["explain", "c1-call", "--lang", lang, "--home", str(home)])
        assert result.exit_code == 0, result.output
        said[lang] = " ".join(result.stdout.split())
    assert "tariff change" not in said["en"] and "资费调整" not in said["zh"], said
    assert ("the line was transferred to you on 2026-03-10; this record was made before that, the previous customer's, "
            "not yours to pay: 3.27 CNY credited on your next bill (tax included)") in said["en"], said["en"]
    assert "号码于 2026-03-10 过户给您，本话单发生在过户之前，是原机主的费用，不由您承担，将在下期账单中抵扣 3.27 元（含税）" in said["zh"], said["zh"]


def test_the_owner_change_code_explain_knows_is_billing_s() -> None:
    from fairtel.billing._model import HOLDING_CODES, REASON_PARAMS
    from fairtel.rating._explain import OWNER_CHANGE_CODE

    assert OWNER_CHANGE_CODE in HOLDING_CODES and "since" in REASON_PARAMS[OWNER_CHANGE_CODE]
