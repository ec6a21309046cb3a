"""A tiny operator for API and console tests, produced by the real pipeline.

The operator directory is written as an operator would (catalog, subscribers CSV, consent JSON Lines, canonical
usage CSV) and goes through ``load`` (import and mediation), ``rate`` and ``bill --issue``, so every bill the
tests read is one billing issued from rated usage, and its lines add up to its total. Findings, fraud cases,
complaints, surveys and churn scores are inserted as assurance, fraud, care and insight would write them
(they point at the seeded usage records).

The pipeline runs once per test process, into a template home that each ``seed`` copies (a SQLite home is a
directory), so a test module gets a fresh home of its own for the price of a copy.
"""

from __future__ import annotations

import atexit
import csv
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy.engine import Engine

from fairtel.api import create_user
from fairtel.billing import bill_id_for
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.cli._billing import bill_period
from fairtel.cli._load import load_directory
from fairtel.cli._rating import rate_period
from fairtel.core.settings import Settings, load_settings
from fairtel.core.time import Period
from fairtel.store import Complaint, FraudCase, Lake, Survey
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ALICE, BOB, CAROL = "8613800138000", "8613900139000", "8613700137000"
PASSWORD = "correct-horse-battery"
PERIOD = "2026-10"
BILL_A, BILL_B = bill_id_for(ALICE, PERIOD), bill_id_for(BOB, PERIOD)
USERS = {
    "alice": ("subscriber", ALICE),
    "bob": ("subscriber", BOB),
    "agent1": ("agent", None),
    "analyst1": ("analyst", None),
    "fraud1": ("fraud_analyst", None),
    "admin1": ("admin", None),
}

SUBSCRIBERS = (
    "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
    f"{ALICE},cust-a,basic-39,2025-01-05T10:00:00+08:00,active,en,Shanghai\n"
    f"{BOB},cust-b,unlimited-129,2024-06-01T09:00:00+08:00,active,zh,Beijing\n"
    f"{CAROL},cust-c,payg,2023-03-01T09:00:00+08:00,active,zh,Shenzhen\n"
)
CONSENT = (
    {"event": "ordered", "subscription_id": "sub-a1", "msisdn": ALICE, "offer_id": "vas-music-10", "at": "2026-09-01T10:00:00+08:00", "channel": "app"},
    {"event": "confirmed", "subscription_id": "sub-a1", "msisdn": ALICE, "offer_id": "vas-music-10", "at": "2026-09-01T10:02:00+08:00", "channel": "sms"},
    {"event": "ordered", "subscription_id": "sub-b1", "msisdn": BOB, "offer_id": "vas-news-5", "at": "2026-09-02T10:00:00+08:00", "channel": "web"},
    {"event": "confirmed", "subscription_id": "sub-b1", "msisdn": BOB, "offer_id": "vas-news-5", "at": "2026-09-02T10:03:00+08:00", "channel": "sms"},
)
# Canonical usage records (docs/formats.md) of October 2026, on the operator's clock (Asia/Shanghai).
USAGE_FIELDS = ("record_id", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down", "peer",
                "offer_id", "amount", "currency")
USAGE: tuple[dict[str, Any], ...] = (
    # alice, basic-39: a domestic call inside the 300-minute allowance, a call to Hong Kong (charged), data inside
    # the allowance, the music pack she confirmed, and a horoscope charge she never ordered (refused by the consent gate)
    {"record_id": "r-0", "msisdn": ALICE, "kind": "voice", "direction": "out", "started_at": "2026-10-03T20:00:00+08:00", "duration_s": 185, "peer": BOB},
    {"record_id": "r-1", "msisdn": ALICE, "kind": "voice", "direction": "out", "started_at": "2026-10-05T10:30:00+08:00", "duration_s": 125, "peer": "85291234567"},
    {"record_id": "r-2", "msisdn": ALICE, "kind": "data", "started_at": "2026-10-06T09:00:00+08:00", "bytes_up": 50_000_000, "bytes_down": 200_000_000},
    {"record_id": "r-3", "msisdn": ALICE, "kind": "vas", "started_at": "2026-10-07T08:00:00+08:00", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"},
    {"record_id": "r-4", "msisdn": ALICE, "kind": "vas", "started_at": "2026-10-08T08:00:00+08:00", "offer_id": "vas-horoscope-6", "amount": "6.00", "currency": "CNY"},
    # bob, unlimited-129: a call and an SMS inside the allowances, his news service charged twice the same morning
    {"record_id": "r-5", "msisdn": BOB, "kind": "voice", "direction": "out", "started_at": "2026-10-03T13:00:00+08:00", "duration_s": 600, "peer": CAROL},
    {"record_id": "r-6", "msisdn": BOB, "kind": "sms", "direction": "out", "started_at": "2026-10-03T14:00:00+08:00", "peer": ALICE},
    {"record_id": "r-7", "msisdn": BOB, "kind": "vas", "started_at": "2026-10-04T08:00:00+08:00", "offer_id": "vas-news-5", "amount": "5.00", "currency": "CNY"},
    {"record_id": "r-8", "msisdn": BOB, "kind": "vas", "started_at": "2026-10-04T08:00:05+08:00", "offer_id": "vas-news-5", "amount": "5.00", "currency": "CNY"},
    # carol, pay as you go: one peak-time call
    {"record_id": "r-9", "msisdn": CAROL, "kind": "voice", "direction": "out", "started_at": "2026-10-09T10:00:00+08:00", "duration_s": 61, "peer": ALICE},
)


@dataclass
class Seeded:
    settings: Settings
    engine: Engine
    app: App
    catalog: Catalog
    ids: dict[str, str] = field(default_factory=dict)

    def issue(self, period: str) -> dict[str, Any]:
        """Rate and bill ``period`` as ``fairtel rate`` and ``fairtel bill --issue`` do."""
        rate_period(self.app, Period.parse(period, self.catalog.operator.timezone), catalog=self.catalog)
        return bill_period(self.app, period, catalog=self.catalog, issue=True)


def write_operator(ops: Path) -> Path:
    """The operator directory ``fairtel load`` reads."""
    (ops / "consent").mkdir(parents=True, exist_ok=True)
    (ops / "usage").mkdir(exist_ok=True)
    shutil.copyfile(default_catalog_path(), ops / "catalog.toml")
    (ops / "subscribers.csv").write_text(SUBSCRIBERS, encoding="utf-8")
    (ops / "consent" / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in CONSENT), encoding="utf-8")
    with (ops / "usage" / f"switch-{PERIOD}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in USAGE_FIELDS} for r in USAGE)
    return ops


TEST_KEY = "test-secret-key-0123456789abcdef"


def _settings(home: Path, database_url: str | None = None) -> Settings:
    # the home keeps the same key as its own secret.key: a command run on it without FAIRTEL_SECRET_KEY (the CLI in
    # a test) uses the key the server's pseudonyms and tokens were made with, as one deployment does
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file = home / "secret.key"
    if not key_file.exists():
        key_file.write_text(TEST_KEY + "\n", encoding="ascii")
        key_file.chmod(0o600)
    return load_settings(home=home, database_url=database_url, environment="test", secret_key=TEST_KEY)


_TEMPLATE: list[Path] = []


def _template() -> Path:
    """A home seeded by the pipeline, built on first use and removed when the process ends."""
    if not _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="fairtel-seed-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        built = _build(root / "home")
        built.app.close()
        _TEMPLATE.append(root / "home")
    return _TEMPLATE[0]


def seed(home: Path, *, database_url: str | None = None) -> Seeded:
    """A home of its own at ``home``: a copy of the template (SQLite), or built afresh in ``database_url``."""
    if database_url is not None or _settings(home).database_url:  # the database is not in the home: build it there
        return _build(home, database_url)
    shutil.copytree(_template(), home, dirs_exist_ok=True)
    app = bootstrap(_settings(home))
    return Seeded(settings=app.settings, engine=app.db, app=app, catalog=load_catalog(home / "operator" / "catalog.toml"),
                  ids={"bill_a": BILL_A, "bill_b": BILL_B})


def _build(home: Path, database_url: str | None = None) -> Seeded:
    settings = _settings(home, database_url)
    app = bootstrap(settings)
    loaded = load_directory(app, write_operator(home / "operator"))
    assert loaded.exit_code == 0, loaded.to_dict()
    assert loaded.subscribers is not None and loaded.subscribers.accepted == 3
    assert [f["accepted"] for f in loaded.usage["files"]] == [len(USAGE)], loaded.usage
    catalog = load_catalog(home / "operator" / "catalog.toml")
    s = Seeded(settings=settings, engine=app.db, app=app, catalog=catalog, ids={"bill_a": BILL_A, "bill_b": BILL_B})
    issued = s.issue(PERIOD)
    assert issued["bills"] == 3, issued

    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with app.db.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": "fnd-1", "kind": "unconsented_charge", "msisdn": ALICE, "subscription_id": None, "record_ids": ["r-4"],
             "amount_minor": 600, "currency": "CNY", "status": "open", "evidence": {"offer_id": "vas-horoscope-6", "peer": CAROL},
             "detected_at": now, "resolved_at": None, "resolved_by": None, "resolution": None},
            {"finding_id": "fnd-2", "kind": "duplicate_charge", "msisdn": BOB, "subscription_id": "sub-b1", "record_ids": ["r-7", "r-8"],
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
            {"survey_id": f"srv-{i}", "msisdn": m, "score": sc, "answered_at": now - timedelta(days=d), "channel": "sms", "comment": None}
            for i, (m, sc, d) in enumerate([(ALICE, 9, 1), (BOB, 3, 2), (CAROL, 10, 35)])
        ])
        for username, (role, msisdn) in USERS.items():
            create_user(conn, username, PASSWORD, role, msisdn=msisdn)

    Lake(settings.lake_dir).write(
        "retention", PERIOD,
        pl.DataFrame({"msisdn": [ALICE, BOB, CAROL], "churn_risk": [0.12, 0.81, 0.55], "reasons": ["", "bill shock;network", "price"]}).to_arrow(),
        part="seed",
    )
    return s


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(client: TestClient, username: str) -> dict[str, str]:
    """The headers of ``username`` logged in through the token route (the seed's password)."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


@contextmanager
def client_for(seeded: Seeded) -> Iterator[TestClient]:
    """The API over ``seeded`` in a test client, with no rate limit and no user cache (a login disabled or changed
    is seen at once). For a module fixture: ``with client_for(seeded) as c: yield c``."""
    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions, create_app

    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, user_cache_s=0), app=seeded.app)
    with TestClient(app) as c:
        yield c


def seeded_on(backend: str, home: Path, postgres_url: str | None = None) -> Iterator[Seeded]:
    """``seed(home)`` on SQLite, or on PostgreSQL in a schema of its own (``postgres_url``) dropped afterwards: the
    body of a fixture parametrised over both databases (``yield from seeded_on(request.param, ...)``)."""
    if backend == "sqlite":
        s = seed(home)
        yield s
        s.engine.dispose()
        return
    assert postgres_url is not None, "PostgreSQL needs its URL"
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        s = seed(home, database_url=f"{postgres_url}?options=-csearch_path%3D{schema}")
        yield s
        s.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def client_on_sqlite(home: Path) -> Iterator[TestClient]:
    """``client_for`` a home seeded afresh on SQLite at ``home``, disposed afterwards: the body of a module fixture
    of tests that read the API alone (``yield from client_on_sqlite(tmp_path_factory.mktemp("home"))``)."""
    for seeded in seeded_on("sqlite", home):
        with client_for(seeded) as c:
            yield c


def simbox_case_row(case: str, subject: str, period: str, score: float, opened_at: datetime) -> dict[str, Any]:
    """A SIM-box case as the detector writes it to the queue (``fraud_cases``): its reason in both languages, its
    period in the evidence, open."""
    from fairtel.fraud import Detector, FraudCase, Reason

    c = FraudCase(
        case_id=case,
        detector=Detector.SIMBOX,
        subject=subject,
        period=period,
        score=score,
        evidence={"calls_out": 4948},
        opened_at=opened_at,
        reasons=(
            Reason("calls_out_per_day", 164.9, 40.0, "165 outgoing calls a day (≥ 40)", "日均主叫 165 次（≥ 40）"),
        ),
    )
    return {
        "case_id": case,
        "detector": "simbox",
        "msisdn": subject,
        "score": score,
        "status": "open",
        "evidence": c.to_dict(),
        "opened_at": opened_at,
        "decided_by": None,
        "decided_at": None,
    }


def sms_code(text: str) -> str:
    """The one-time code an order's confirmation SMS carries."""
    m = re.search(r"(?:验证码|code )(\d{6})", text)
    assert m, text
    return m.group(1)


def confirm_codes(seeded: Seeded, msisdn: str) -> list[str]:
    """The one-time codes the outbox sent ``msisdn`` for their orders, oldest first."""
    path = seeded.settings.outbox_dir / "messages.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] if path.exists() else []
    return [sms_code(r["text"]) for r in rows if r["kind"] == "confirm_code" and r["msisdn"] == msisdn]


def consent_evidence(seeded: Seeded, subscription_id: str, event: str) -> dict[str, Any]:
    """The evidence the consent ledger keeps of a subscription's ``event`` (one event of that kind)."""
    from sqlalchemy import select

    from fairtel.store import ConsentEvent
    from fairtel.store._schema import table_of

    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        value = conn.execute(select(t.c.evidence).where(t.c.subscription_id == subscription_id, t.c.event == event)).scalar_one()
    return value if isinstance(value, dict) else json.loads(value)


def api_as_alice(seeded: Seeded) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """The API over ``seeded`` (no rate limit) in a test client, with alice logged in: (services, client, her
    headers). For a module fixture: ``yield from api_as_alice(seeded)``."""
    from fastapi.testclient import TestClient

    from fairtel.api import ApiOptions, create_app
    from fairtel.api._services import Services

    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
        assert r.status_code == 200, r.text
        services = app.state.services
        assert isinstance(services, Services)
        yield services, client, auth(r.json()["access_token"])
