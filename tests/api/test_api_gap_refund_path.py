"""The API's refund of one finding decides as ``fairtel assure --refund`` does, on SQLite and PostgreSQL.

Eleven days of France data, 60.00 a day (660.00), under the EU roaming cap of 50.00 EUR (400.00 CNY at 0.125), 6 %
tax on data: 260.00 past the cap, 15.60 of the bill's tax on it (275.60). A tariff correction to 50.00 a day leaves
150.00 past the cap, to 70.00 a day 370.00.

1. Usage past a cap no issued bill charged yet is refused (409: no tax could be given back with it); once the bill
   charged it, the agent's refund is the very entry ``assure --refund`` posts (id, amount, tax, bill).
2. What the ledger took back of a refund (a ``refund-recomputed`` debit after a rerate lowered the charges) is
   deducted from what was refunded for the charge (``refunded_charges``), once.
3. A finding refunded before whose amount grew (a rerate that raised the charges past the cap, late usage past it)
   is refunded what it grew by through the API, once its bill charged it, with its tax, and ``assure --refund``
   then posts nothing more.
4. The console's ticket page refused to an admin records the ticket's subscriber in its ``access.denied`` row.

Money is compared exactly, in minor units."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.api._cases import refunded_charges
from fairtel.assurance import Finding, FindingKind, FindingStatus
from fairtel.billing import bill_id_for
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Adjustment, Complaint, TroubleTicket, bills_of_period
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of
from fairtel.web import create_console

M = "8613900000009"
P = "2026-09"
TAX_RATES = '{"data": "0.06"}'
FEE = 3900  # basic-39, untaxed here
KEY = "test-secret-key-0123456789abcdef"
runner = CliRunner()


def _tax(minor: int) -> int:
    return int((Decimal(minor) * Decimal("0.06")).quantize(Decimal(1)))


OWED = FEE + 40000 + _tax(40000)  # the plan fee, the cap and its tax: 463.00


@dataclass
class Home:
    path: Path
    url: str | None
    apps: list[App] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {"FAIRTEL_TAX_RATES": TAX_RATES, "FAIRTEL_SECRET_KEY": KEY}
        if self.url:
            env["FAIRTEL_DATABASE_URL"] = self.url
        return env

    def ft(self, *args: str) -> dict[str, Any]:
        result = runner.invoke(cli, [*args, "--home", str(self.path), "--json"], env=self.env())
        assert result.exit_code == 0, result.output
        out: dict[str, Any] = json.loads(result.stdout)
        return out

    def app(self) -> App:
        app = bootstrap(load_settings(home=self.path, database_url=self.url, environment="test", secret_key=KEY))
        self.apps.append(app)
        return app


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def homes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A maker of homes on the database the test is parametrised with (PostgreSQL: a schema each, dropped after)."""
    base = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    made: list[Home] = []
    schemas: list[str] = []

    def make(name: str) -> Home:
        url = None
        if base is not None:
            schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
            with create_engine(base).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            schemas.append(schema)
            url = f"{base}?options=-csearch_path%3D{schema}"
        home = Home(tmp_path / name, url)
        made.append(home)
        op = _operator(tmp_path)
        home.ft("load", str(op))
        home.ft("rate", "--period", P)
        return home

    yield make
    for home in made:
        for app in home.apps:
            app.db.dispose()
    if base is not None:
        admin = create_engine(base)
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _operator(tmp_path: Path) -> Path:
    op = tmp_path / "op"
    if op.exists():
        return op
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{M},c1,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n",
        encoding="utf-8",
    )
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    (op / "usage" / "sep.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "record_id": f"ri{d}",
                    "source": "pgw",
                    "msisdn": M,
                    "kind": "data",
                    "started_at": f"2026-09-{d}T12:00:00+08:00",
                    "bytes_up": 0,
                    "bytes_down": 104857600,
                    "roaming_country": "FR",
                }
            )
            + "\n"
            for d in range(10, 21)
        ),
        encoding="utf-8",
    )
    for cap in ("50.00", "70.00"):
        (op / f"cat{cap[:2]}.toml").write_text(
            (op / "catalog.toml").read_text(encoding="utf-8").replace('daily_cap = "60.00"', f'daily_cap = "{cap}"'),
            encoding="utf-8",
        )
    return op


def _assure(home: Home, *more: str) -> dict[str, Any]:
    return home.ft("assure", "--bill-shock", "eu_data_roaming", "--rate", "CNY=0.125", *more)


def _ledger(home: Home) -> list[tuple[Any, ...]]:
    """Every refund and take-back of the subscriber: (id, kind, amount, charge before tax, bill, finding), in id order."""
    t = table_of(Adjustment)
    with home.app().db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(t.c.adjustment_id, t.c.kind, t.c.amount_minor, t.c.old_amount_minor, t.c.bill_id, t.c.finding_id)
                .where(t.c.msisdn == M, t.c.finding_id.is_not(None))
                .order_by(t.c.adjustment_id)
            )
        ]


def _owed(home: Home) -> int:
    """What the subscriber owes in all (minor units): the period's bill and every ledger entry no bill carries yet."""
    t = table_of(Adjustment)
    with home.app().db.connect() as conn:
        bills = [b for b in bills_of_period(conn, P) if b.msisdn == M]
        carried = {a for b in bills for a in b.adjustment_ids}
        entries = list(conn.execute(select(t.c.adjustment_id, t.c.kind, t.c.amount_minor).where(t.c.msisdn == M)))
    pending = sum(
        r.amount_minor if r.kind == "debit" else -r.amount_minor for r in entries if r.adjustment_id not in carried
    )
    return sum(b.total_minor for b in bills) + pending


def _cap_finding(home: Home) -> Finding:
    t = table_of(FindingRow)
    with home.app().db.connect() as conn:
        (r,) = conn.execute(select(t).where(t.c.msisdn == M, t.c.kind == FindingKind.USAGE_PAST_CAP.value)).all()
    return Finding(
        finding_id=r.finding_id,
        kind=FindingKind.USAGE_PAST_CAP,
        msisdn=r.msisdn,
        record_ids=tuple(r.record_ids),
        subscription_id=None,
        amount=Decimal(r.amount_minor) / 100,
        currency=r.currency,
        detected_at=r.detected_at,
        evidence=dict(r.evidence or {}),
        status=FindingStatus(r.status),
    )


@dataclass
class Desk:
    client: TestClient
    headers: dict[str, str]

    def refund(self, finding_id: str) -> Any:
        return self.client.post(f"/api/v1/findings/{finding_id}/refund", headers=self.headers)


@contextmanager
def _desk(home: Home) -> Iterator[Desk]:
    """The API over the home, and an agent handling the subscriber (they took the subscriber's complaint)."""
    app = home.app()
    with app.db.begin() as conn:
        create_user(conn, "agent1", PASSWORD, "agent")
        conn.execute(
            table_of(Complaint).insert(),
            [
                {
                    "complaint_id": "cmp-roam",
                    "msisdn": M,
                    "category": "billing",
                    "opened_at": datetime(2026, 10, 2, tzinfo=UTC),
                    "closed_at": None,
                    "status": "open",
                    "channel": "phone",
                    "text": "roaming charges past my cap",
                }
            ],
        )
    with TestClient(create_app(app.settings, options=ApiOptions(rate_per_second=0), app=app)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "agent1", "password": PASSWORD}).json()[
            "access_token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/complaints/cmp-roam/take", headers=headers).status_code == 200
        yield Desk(client, headers)


def test_usage_past_a_cap_is_refunded_through_the_api_once_billed_with_the_tax_assure_gives_back(homes: Any) -> None:
    # through the API: the finding queued before the bill run
    api = homes("api")
    _assure(api)
    f = _cap_finding(api)
    with _desk(api) as agent:
        early = agent.refund(f.finding_id)
        assert early.status_code == 409, early.text
        problem = early.json()["error"]
        assert problem["code"] == "finding_resolution_invalid"
        assert (
            "not billed yet" in problem["message"]
            and "refunded once an issued bill charged all its records" in problem["message"]
        )
        assert (
            problem["details"] == {"billed": False, "records_not_billed": len(f.record_ids)} and len(f.record_ids) == 5
        )
        assert _ledger(api) == []  # nothing refunded: the bill will tax the whole usage
        api.ft("bill", "--period", P, "--issue")
        done = agent.refund(f.finding_id)
        assert done.status_code == 200, done.text
        assert done.json()["outcome"] == "refunded"
        assert (done.json()["adjustment"]["amount"], done.json()["adjustment"]["tax"]) == ("275.60", "15.60")
        assert agent.refund(f.finding_id).status_code == 409  # money moves once
    # by ``assure --refund``, after the bill run
    cli_home = homes("cli")
    cli_home.ft("bill", "--period", P, "--issue")
    assert _assure(cli_home, "--refund")["refund"]["amount"] == {"CNY": "275.60"}
    assert (
        _ledger(api)
        == _ledger(cli_home)
        == [(_ledger(cli_home)[0][0], "refund", 27560, 26000, bill_id_for(M, P), f.finding_id)]
    )
    assert _assure(api, "--refund")["refunds"] == 0
    assert _owed(api) == _owed(cli_home) == OWED


def test_a_refund_taken_back_in_part_is_deducted_once_and_a_later_rise_refunded_through_the_api(homes: Any) -> None:
    home = homes("h")
    op = home.path.parent / "op"
    home.ft("bill", "--period", P, "--issue")
    _assure(home, "--refund")
    home.ft("rerate", "--period", P, "--catalog", str(op / "cat50.toml"))
    _assure(home, "--refund")  # 150.00 past the cap now: 110.00 of the 260.00 refunded taken back, with its tax
    f = _cap_finding(home)
    kinds = [(kind, amount, charge) for _, kind, amount, charge, _, _ in _ledger(home)]
    assert sorted(kinds) == [("debit", 11660, 0), ("refund", 27560, 26000)]
    with home.app().db.connect() as conn:
        assert refunded_charges(conn, [M]).minor(f) == 15000  # 260.00 refunded, 110.00 of it taken back
    assert _owed(home) == OWED
    assert _assure(home, "--refund")["refunds"] == 0 and _owed(home) == OWED  # taken back once, not twice
    with _desk(home) as agent:
        assert agent.refund(f.finding_id).status_code == 409  # nothing grew: refunded already
        # a correction to 70.00 a day: 370.00 past the cap, 220.00 more than the 150.00 left refunded
        home.ft("rerate", "--period", P, "--catalog", str(op / "cat70.toml"))
        grown = agent.refund(f.finding_id)
        assert grown.status_code == 200, grown.text
        assert (grown.json()["adjustment"]["amount"], grown.json()["adjustment"]["tax"]) == ("233.20", "13.20")
        assert _owed(home) == OWED
        assert agent.refund(f.finding_id).status_code == 409
    assert _assure(home, "--refund")["refunds"] == 0 and _owed(home) == OWED


def test_a_finding_that_grew_is_refunded_the_increment_once_through_the_api(homes: Any) -> None:
    home = homes("h")
    op = home.path.parent / "op"
    home.ft("bill", "--period", P, "--issue")
    assert _assure(home, "--refund")["refund"]["amount"] == {"CNY": "275.60"}
    home.ft("rerate", "--period", P, "--catalog", str(op / "cat70.toml"))
    assert _owed(home) == OWED + 11660  # charged past the cap until its refund grows
    f = _cap_finding(home)
    with _desk(home) as agent:
        grown = agent.refund(f.finding_id)
        assert grown.status_code == 200, grown.text
        assert grown.json()["outcome"] == "refunded" and grown.json()["finding"]["status"] == "resolved"
        assert (grown.json()["adjustment"]["amount"], grown.json()["adjustment"]["tax"]) == ("116.60", "6.60")
        assert _owed(home) == OWED
        again = agent.refund(f.finding_id)
        assert again.status_code == 409 and again.json()["error"]["details"]["adjustment_id"]
    assert _assure(home, "--refund")["refunds"] == 0
    assert sorted(charge for _, kind, _, charge, _, _ in _ledger(home) if kind == "refund") == [11000, 26000]
    assert _owed(home) == OWED


# ---- the console's ticket page, refused to a role that reads no customer ----------------------------------
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


def test_the_console_ticket_page_refused_to_an_admin_names_the_ticket_subscriber(seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(TroubleTicket).insert(),
            [
                {
                    "ticket_id": "tkt-deny-1",
                    "msisdn": ALICE,
                    "region": "Shanghai",
                    "category": "no_signal",
                    "priority": 1,
                    "status": "open",
                    "opened_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
                    "resolved_at": None,
                    "summary": "no_signal at home since today",
                }
            ],
        )
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        r = web.post("/login", data={"username": "admin1", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert web.get("/tickets/tkt-deny-1").status_code == 403
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.resource, t.c.subject_msisdn_pseudonym).where(
                t.c.actor == "admin1", t.c.action == "access.denied"
            )
        ).all()
    assert [r.subject_msisdn_pseudonym for r in rows] == [Pseudonymizer(KEY, domain="msisdn")(ALICE)]
    assert ALICE not in str(rows)


def test_late_usage_past_the_cap_is_refunded_through_the_api_once_its_charge_is_billed(homes: Any) -> None:
    """Two more days of France data arrive after the bill and the refund: charged on the bill by the rerate (late
    usage), they grow the finding by 120.00, refunded through the API with the 7.20 of tax the bill charged on them."""
    home = homes("h")
    op = home.path.parent / "op"
    home.ft("bill", "--period", P, "--issue")
    _assure(home, "--refund")
    late = op.parent / "late"
    (late / "usage").mkdir(parents=True)
    for name in ("catalog.toml", "subscribers.csv"):
        (late / name).write_text((op / name).read_text(encoding="utf-8"), encoding="utf-8")
    (late / "usage" / "late.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "record_id": f"ri{d}",
                    "source": "pgw",
                    "msisdn": M,
                    "kind": "data",
                    "started_at": f"2026-09-{d}T12:00:00+08:00",
                    "bytes_up": 0,
                    "bytes_down": 104857600,
                    "roaming_country": "FR",
                }
            )
            + "\n"
            for d in (21, 22)
        ),
        encoding="utf-8",
    )
    home.ft("load", str(late))
    home.ft("rate", "--period", P)
    f = _cap_finding(home)
    with _desk(home) as agent:
        _assure(home)  # the finding as found now: 380.00 past the cap, seven records (the queue keeps the first)
        assert agent.refund(f.finding_id).status_code == 409  # its two new records are on no bill yet
        assert home.ft("rerate", "--period", P)["net"] == "127.20"  # late usage charged on the issued bill
        grown = agent.refund(f.finding_id)
        assert grown.status_code == 200, grown.text
        assert (grown.json()["adjustment"]["amount"], grown.json()["adjustment"]["tax"]) == ("127.20", "7.20")
        assert agent.refund(f.finding_id).status_code == 409
    assert _assure(home, "--refund")["refunds"] == 0
    assert _owed(home) == OWED
