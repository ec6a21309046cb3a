"""Consented VAS charges rated after their subscriber's bill was issued: a rerun of the bill run names them, and
`fairtel rerate` charges each once as an adjustment entry on the bill of its period, tax included, never one the
consent gate refuses (as it stands now, or as rating stored its verdict)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import CN, P, as_json, open_app, rec

from fairtel.billing import bill_id_for
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import adjustments_of, get_bill, import_consent_events, import_subscribers, store_catalog

A, B, C = "8613800000011", "8613800000012", "8613800000013"
TEXT = default_catalog_path().read_text(encoding="utf-8")


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> dict[str, Any]:
    return {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at, "channel": "sms",
            "evidence": f"{sub}:{event}"}


def _consent(home: Path, name: str, events: list[dict[str, Any]]) -> None:
    path = home.parent / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    app = open_app(home)
    with app.db.begin() as conn:
        assert import_consent_events(conn, path).accepted == len(events)
    app.close()


def _vas(rid: str, msisdn: str, offer: str, minor: int, day: int) -> dict[str, Any]:
    return rec(rid, msisdn, source="spgw", kind="vas", direction=None, peer=None, offer_id=offer, amount_minor=minor,
               currency="CNY", started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


def _usage(home: Path, part: str, rows: list[dict[str, Any]]) -> None:
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part=part)
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three subscribers billed for March: A with a confirmed music pack (charged on the bill), B with a confirmed
    video membership, C with no subscription. VAS is taxed at 6 %."""
    monkeypatch.setenv("FAIRTEL_TAX_RATES", '{"vas": "0.06"}')
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
        f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
        f"{C},c3,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
    app.close()
    _consent(home, "c1.jsonl", [
        _event("ordered", "s1", A, "vas-music-10", "2026-02-25T10:00:00+08:00"),
        _event("confirmed", "s1", A, "vas-music-10", "2026-02-25T10:05:00+08:00"),
        _event("ordered", "s2", A, "vas-ringtone-2", "2026-02-25T11:00:00+08:00"),
        _event("confirmed", "s2", A, "vas-ringtone-2", "2026-02-25T11:05:00+08:00"),
        _event("ordered", "s3", B, "vas-video-15", "2026-02-25T12:00:00+08:00"),
        _event("confirmed", "s3", B, "vas-video-15", "2026-02-25T12:05:00+08:00"),
    ])
    _usage(home, "t1", [_vas("m1", A, "vas-music-10", 1000, 2), rec("v1", B, duration_s=60), rec("v2", C, duration_s=60)])
    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["bills"] == 3 and issued["by_kind"]["vas"] == "10.00"
    return home


def test_a_late_consented_vas_charge_is_billed_once_on_the_bill_of_its_period(home: Path) -> None:
    # late: A's ringtone downloads (per use, consented), a second music charge of the month (a duplicate), and a
    # news charge A never ordered
    _usage(home, "t2", [_vas("r1", A, "vas-ringtone-2", 200, 10), _vas("r2", A, "vas-ringtone-2", 200, 11),
                        _vas("m2", A, "vas-music-10", 1000, 12), _vas("n1", A, "vas-news-5", 500, 12)])
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["unbilled_late_vas"] == 2
    assert any("rerate --period" in n and "VAS" in n for n in again["notes"])

    rr = as_json(home, "rerate", "--period", P)
    assert rr["vas_charged"] == 2 and rr["adjustments_issued"] == 2 and rr["debits"] == 2
    assert rr["vas_refused"] == 2  # the duplicate monthly charge and the unordered one
    # the bill taxed A's VAS once, on 10.00 (0.60); the late 2.00 + 2.00 raise the base to 14.00 (0.84):
    # 2.12 and 2.12, what a bill holding them would have charged more (4.24)
    assert rr["net"] == "4.24"
    assert {(s["item"], s["record_id"], s["amount"]) for s in rr["sample"]} == {("vas", "r1", "2.12"), ("vas", "r2", "2.12")}

    app = open_app(home)
    with app.db.connect() as conn:
        entries = adjustments_of(conn, A)
    app.close()
    assert sorted((e.record_id, e.kind.value, e.amount_minor, e.bill_id, e.period, e.old_amount_minor, e.new_amount_minor)
                  for e in entries) == [("r1", "debit", 212, bill_id_for(A, P), P, 0, 200),
                                        ("r2", "debit", 212, bill_id_for(A, P), P, 0, 200)]

    # never twice: neither a second rerate nor the bill run's rerun counts them again
    second = as_json(home, "rerate", "--period", P)
    assert second["adjustments_issued"] == 0 and second["vas_charged"] == 0 and second["net"] == "0.00"
    assert as_json(home, "bill", "--period", P, "--issue")["unbilled_late_vas"] == 0

    # the next bill carries them, once
    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 2
    app = open_app(home)
    with app.db.connect() as conn:
        bill = get_bill(conn, bill_id_for(A, "2026-04"))
    app.close()
    assert bill is not None and bill.adjustments_minor == 424
    assert as_json(home, "bill", "--period", "2026-05", "--issue")["adjustments_carried"] == 0

    # charged on the March bill by the rerate entries: a finding about one of them is refundable (before, the
    # refund path looked only at the bill's snapshot, and left it pending as never billed)
    from fairtel.cli._assure_refunds import charge_evidence

    app = open_app(home)
    evidence = charge_evidence(app, [(A, "spgw", "r1"), (A, "", "r2"), (A, "spgw", "n1")], outside_billing=False)
    app.close()
    assert evidence.billed[(A, "spgw", "r1")] == bill_id_for(A, P)
    assert evidence.billed[(A, "", "r2")] == bill_id_for(A, P)
    assert (A, "spgw", "n1") not in evidence.billed and (A, "spgw", "n1") in evidence.refused


def test_a_late_vas_charge_the_gate_refuses_is_never_billed(home: Path) -> None:
    # B's late video charge was consented when rated; a cancellation dated before it arrives afterwards.
    # C's late cloud charge was refused when rated (no subscription); its order arrives afterwards.
    _usage(home, "t2", [_vas("w1", B, "vas-video-15", 1500, 20), _vas("k1", C, "vas-cloud-8", 800, 20)])
    assert as_json(home, "bill", "--period", P, "--issue")["unbilled_late_vas"] == 1
    _consent(home, "c2.jsonl", [
        _event("cancelled", "s3", B, "vas-video-15", "2026-03-15T09:00:00+08:00"),
        _event("ordered", "s4", C, "vas-cloud-8", "2026-03-01T10:00:00+08:00"),
        _event("confirmed", "s4", C, "vas-cloud-8", "2026-03-01T10:05:00+08:00"),
    ])
    rr = as_json(home, "rerate", "--period", P)
    assert rr["vas_charged"] == 0 and rr["adjustments_issued"] == 0 and rr["net"] == "0.00"
    assert rr["vas_refused"] == 2
    assert any("refused by the consent gate" in n for n in rr["notes"])
    app = open_app(home)
    with app.db.connect() as conn:
        assert adjustments_of(conn, B) == [] and adjustments_of(conn, C) == []
    app.close()
