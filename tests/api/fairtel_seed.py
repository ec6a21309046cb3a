"""A tiny operator for API and console tests: written as an operator would (CSV, JSON Lines) and loaded with
the store's import functions; bills, findings and cases are inserted as billing, assurance and fraud would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Engine

from fairtel.api import create_user
from fairtel.core.settings import Settings, load_settings
from fairtel.rating._lines import RATED_COLUMNS
from fairtel.store import (
    Bill,
    BillLine,
    Complaint,
    FraudCase,
    Lake,
    Survey,
    connect,
    import_consent_events,
    import_subscribers,
    migrate,
)
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

ALICE, BOB, CAROL = "8613800138000", "8613900139000", "8613700137000"
PASSWORD = "correct-horse-battery"
PERIOD = "2026-10"
USERS = {
    "alice": ("subscriber", ALICE),
    "bob": ("subscriber", BOB),
    "agent1": ("agent", None),
    "analyst1": ("analyst", None),
    "fraud1": ("fraud_analyst", None),
    "admin1": ("admin", None),
}


@dataclass
class Seeded:
    settings: Settings
    engine: Engine
    ids: dict[str, str] = field(default_factory=dict)


def seed(home: Path, *, database_url: str | None = None) -> Seeded:
    settings = load_settings(home=home, database_url=database_url, environment="test", secret_key="test-secret-key-0123456789abcdef")
    home.mkdir(parents=True, exist_ok=True)
    ops = home / "operator"
    ops.mkdir(exist_ok=True)
    (ops / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{ALICE},cust-a,basic-39,2025-01-05T10:00:00+08:00,active,en,Shanghai\n"
        f"{BOB},cust-b,unlimited-129,2024-06-01T09:00:00+08:00,active,zh,Beijing\n"
        f"{CAROL},cust-c,payg,2023-03-01T09:00:00+08:00,active,zh,Shenzhen\n",
        encoding="utf-8",
    )
    events = [
        {"event": "ordered", "subscription_id": "sub-a1", "msisdn": ALICE, "offer_id": "vas-music-10", "at": "2026-09-01T10:00:00+08:00", "channel": "app"},
        {"event": "confirmed", "subscription_id": "sub-a1", "msisdn": ALICE, "offer_id": "vas-music-10", "at": "2026-09-01T10:02:00+08:00", "channel": "sms"},
        {"event": "ordered", "subscription_id": "sub-b1", "msisdn": BOB, "offer_id": "vas-news-5", "at": "2026-09-02T10:00:00+08:00", "channel": "web"},
        {"event": "confirmed", "subscription_id": "sub-b1", "msisdn": BOB, "offer_id": "vas-news-5", "at": "2026-09-02T10:03:00+08:00", "channel": "sms"},
    ]
    (ops / "consent.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")

    engine = migrate(connect(settings.db_url))
    ids: dict[str, str] = {}
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        assert import_subscribers(conn, ops / "subscribers.csv").accepted == 3
        assert import_consent_events(conn, ops / "consent.jsonl").accepted == 4
        for name, msisdn, total in (("a", ALICE, 5400), ("b", BOB, 13400)):
            bill_id = f"bill-{name}-{PERIOD}"
            ids[f"bill_{name}"] = bill_id
            conn.execute(table_of(Bill).insert().values(
                bill_id=bill_id, msisdn=msisdn, period=PERIOD, issued_at=now, catalog_version_id=None, currency="CNY",
                subtotal_minor=total, tax_minor=0, total_minor=total,
            ))
            conn.execute(table_of(BillLine).insert(), [
                {"bill_id": bill_id, "line_no": 1, "kind": "plan_fee", "description": "monthly fee", "rule_id": "plan:fee", "quantity": 1, "unit": "month", "amount_minor": total - 1000, "currency": "CNY"},
                {"bill_id": bill_id, "line_no": 2, "kind": "vas", "description": "vas-music-10", "rule_id": "vas:vas-music-10", "quantity": 1, "unit": "item", "amount_minor": 1000, "currency": "CNY"},
            ])
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": "fnd-1", "kind": "unconsented_charge", "msisdn": ALICE, "subscription_id": None, "record_ids": ["r-vas-9"],
             "amount_minor": 600, "currency": "CNY", "status": "open", "evidence": {"offer_id": "vas-horoscope-6", "peer": CAROL},
             "detected_at": now, "resolved_at": None, "resolved_by": None, "resolution": None},
            {"finding_id": "fnd-2", "kind": "duplicate_charge", "msisdn": BOB, "subscription_id": "sub-b1", "record_ids": ["r-vas-7", "r-vas-8"],
             "amount_minor": 500, "currency": "CNY", "status": "open", "evidence": {}, "detected_at": now,
             "resolved_at": None, "resolved_by": None, "resolution": None},
        ])
        conn.execute(table_of(FraudCase).insert(), [
            {"case_id": "case-1", "detector": "wangiri", "msisdn": CAROL, "score": 0.93, "status": "open", "evidence": {"callbacks": 12}, "opened_at": now,
             "decided_by": None, "decided_at": None},
        ])
        conn.execute(table_of(Complaint).insert(), [
            {"complaint_id": "cmp-1", "msisdn": ALICE, "category": "unexplained_charge", "opened_at": now - timedelta(days=40), "closed_at": None,
             "status": "open", "channel": "phone", "text": "I never ordered horoscope messages"},
            {"complaint_id": "cmp-2", "msisdn": BOB, "category": "billing", "opened_at": now, "closed_at": None,
             "status": "open", "channel": "web", "text": "bill too high"},
        ])
        conn.execute(table_of(Survey).insert(), [
            {"survey_id": f"srv-{i}", "msisdn": m, "score": s, "answered_at": now - timedelta(days=d), "channel": "sms", "comment": None}
            for i, (m, s, d) in enumerate([(ALICE, 9, 1), (BOB, 3, 2), (CAROL, 10, 35)])
        ])
        for username, (role, msisdn) in USERS.items():
            create_user(conn, username, PASSWORD, role, msisdn=msisdn)

    lake = Lake(settings.lake_dir)
    base = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)
    rows = []
    for i, (msisdn, kind) in enumerate([(ALICE, "voice"), (ALICE, "data"), (ALICE, "vas"), (BOB, "voice"), (BOB, "sms")]):
        row = {c: None for c in RATED_COLUMNS}
        row.update(
            record_id=f"r-{i}", source="switch", line=0, msisdn=msisdn, period=PERIOD, started_at=base + timedelta(hours=i), kind=kind,
            plan_id="basic-39", rule_id=f"basic-39:{kind}", rate_id=f"rate-{kind}", zone="domestic" if kind != "vas" else None, band="peak",
            capped=False, throttled=False, currency="CNY",
        )
        if kind == "voice":
            row.update(direction="out", quantity=185, unit="second", allowance_id="basic-39:voice", allowance_used=120, charged_quantity=60, amount_minor=15)
        elif kind == "data":
            row.update(quantity=250_000_000, unit="byte", allowance_id="basic-39:data", allowance_used=250_000_000, charged_quantity=0, amount_minor=0)
        elif kind == "sms":
            row.update(direction="out", quantity=1, unit="message", charged_quantity=1, amount_minor=10)
        else:
            row.update(quantity=1, unit="item", charged_quantity=1, amount_minor=1000, verdict="billable", subscription_id="sub-a1", band=None)
        rows.append(row)
    frame = pl.DataFrame(rows, schema=RATED_COLUMNS).drop("period")
    lake.write("rated", PERIOD, frame.to_arrow(), part="seed")
    lake.write(
        "retention", PERIOD,
        pl.DataFrame({"msisdn": [ALICE, BOB, CAROL], "churn_risk": [0.12, 0.81, 0.55], "reasons": ["", "bill shock;network", "price"]}).to_arrow(),
        part="seed",
    )
    return Seeded(settings=settings, engine=engine, ids=ids)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
