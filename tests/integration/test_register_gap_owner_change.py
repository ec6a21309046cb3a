"""A line moved to another customer with its activation kept (an owner change): the register file names another
``customer_id`` for the line and the same ``activated_at``. The new customer holds the line from the file's
``customer_since`` when it gives one, else from the import (as the register learnt it), and the import's report says
so. From then on the new customer's login reads nothing of before the change (bills, usage, the roaming cap, the
data export), the assistant's port dates their holding from it, and a credit posted after the change on the
previous customer's bill is not carried into the new customer's next bill (the bill run leaves it pending, with a
note). A number activated again for a new holder (a later ``activated_at``) begins a new holding: the date of an
earlier owner change no longer counts.

Before: an owner change was not dated. The new customer's login read the previous customer's bills, usage, roaming
cap and data export, the assistant told them of the previous customer's charges, and a care credit on the previous
customer's bill went into the new customer's next bill. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from fairtel_seed import ALICE, BILL_A, PASSWORD, PERIOD, SUBSCRIBERS, Seeded, client_for, seeded_on, token

from fairtel.api import create_user
from fairtel.api._users import set_disabled
from fairtel.cli._billing import bill_period
from fairtel.cli._home import home_catalog
from fairtel.core.time import Period, utc_now
from fairtel.store import StoreCareData, Subscriber, import_subscribers
from fairtel.store._schema import BillLine, table_of

NEW = "new-owner"
CN = timezone(timedelta(hours=8))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with client_for(seeded) as c:
        yield c


def _holder_since(engine: Engine, msisdn: str) -> datetime | None:
    s = table_of(Subscriber)
    with engine.connect() as conn:
        at = conn.scalar(select(s.c.holder_since).where(s.c.msisdn == msisdn))
    return None if at is None else (at if at.tzinfo is not None else at.replace(tzinfo=UTC))


@pytest.fixture(scope="module")
def moved(seeded: Seeded, client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Alice (customer cust-a) sets a roaming cap; she has the seed's October bill and usage. Then the register
    moves her line to customer cust-new, its activation kept, and an administrator issues the new customer a login."""
    old = token(client, "alice")
    assert client.put("/api/v1/me/roaming-cap", json={"amount": "50.00"}, headers=old).status_code == 200
    register = tmp_path_factory.mktemp("register") / "subscribers.csv"
    register.write_text(SUBSCRIBERS.replace(f"{ALICE},cust-a,", f"{ALICE},cust-new,"), encoding="utf-8")
    before = utc_now()
    with seeded.engine.begin() as conn:
        report = import_subscribers(conn, register)
    after = utc_now()
    with seeded.engine.begin() as conn:
        create_user(conn, NEW, PASSWORD, "subscriber", msisdn=ALICE)
    return {"report": report.to_dict(), "before": before, "after": after, "new": token(client, NEW)}


def test_the_import_dates_the_owner_change(seeded: Seeded, moved: dict[str, Any]) -> None:
    since = _holder_since(seeded.engine, ALICE)
    assert since is not None and moved["before"] <= since <= moved["after"]
    notes = " ".join(moved["report"]["notes"])
    assert "moved to another customer" in notes and "…8000" in notes and "from this import" in notes
    assert ALICE not in notes
    assert moved["report"]["logins_disabled"] == 1


def test_the_new_customer_reads_nothing_of_before_the_change(seeded: Seeded, client: TestClient, moved: dict[str, Any]) -> None:
    new = moved["new"]
    assert client.get("/api/v1/me", headers=new).json()["customer_id"] == "cust-new"
    assert client.get("/api/v1/me/bills", headers=new).json()["items"] == []
    assert client.get(f"/api/v1/me/bills/{PERIOD}", headers=new).status_code == 404
    assert client.get(f"/api/v1/bills/{BILL_A}", headers=new).status_code == 404
    usage = client.get(f"/api/v1/me/usage?period={PERIOD}", headers=new).json()
    assert usage["items"] == [] and usage["bill_id"] is None
    cap = client.get("/api/v1/me/roaming-cap", headers=new).json()
    assert cap["amount"] is None and cap["set_by"] is None

    r = client.get("/api/v1/me/data-export?months=3", headers=new)
    assert r.status_code == 200, r.text
    export = r.json()
    for section in ("bills", "adjustments", "roaming_caps"):
        assert export[section] == [], section
    assert export["usage"]["records"] == []
    assert export["loyalty"]["entries"] == []
    since = _holder_since(seeded.engine, ALICE)
    assert since is not None
    assert all(datetime.fromisoformat(x["at"]) >= since for x in export["access_log"])
    assert not any(x["actor"] == "alice" for x in export["access_log"])

    # the assistant's port dates the holding from the change
    port = StoreCareData(seeded.engine, seeded.settings.lake_dir, home_catalog(seeded.app, None, []))
    assert port.holding_since(ALICE) == since

    # staff still read the line's whole record
    agent = token(client, "agent1")
    r = client.post("/api/v1/complaints/cmp-1/take", headers=agent)
    assert r.status_code in (200, 201), r.text
    bills = client.get(f"/api/v1/subscribers/{ALICE}/bills", headers=agent).json()["items"]
    assert [b["period"] for b in bills] == [PERIOD]


def test_a_credit_on_the_previous_customer_s_bill_is_not_carried(seeded: Seeded, client: TestClient,
                                                                  moved: dict[str, Any]) -> None:
    agent = token(client, "agent1")
    r = client.post("/api/v1/complaints/cmp-1/take", headers=agent)
    assert r.status_code in (200, 201, 409), r.text
    r = client.post(f"/api/v1/bills/{BILL_A}/credits", json={"amount": "50.00", "reason": "roaming goodwill"},
                    headers=agent)
    assert r.status_code in (200, 201), r.text
    credit = r.json()["adjustment"]["adjustment_id"]

    per = Period.containing(utc_now(), seeded.catalog.operator.timezone)
    out = bill_period(seeded.app, per.key, catalog=seeded.catalog, issue=True, now=per.end + timedelta(hours=1))
    b = table_of(BillLine)
    with seeded.engine.connect() as conn:
        carried = conn.scalar(select(b.c.bill_id).where(b.c.adjustment_id == credit))
    assert carried is None
    assert any("left pending, not carried" in n for n in out["notes"]), out["notes"]


def test_a_login_made_before_the_change_is_the_previous_customer_s(seeded: Seeded, client: TestClient,
                                                                   moved: dict[str, Any]) -> None:
    """Enabled again by hand, the previous customer's login opens nothing (``line_changed_hands``)."""
    with seeded.engine.begin() as conn:
        set_disabled(conn, NEW, True)
        set_disabled(conn, "alice", False)
    try:
        r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["error"]["code"] == "line_changed_hands", r.text
    finally:
        with seeded.engine.begin() as conn:
            set_disabled(conn, "alice", True)
            set_disabled(conn, NEW, False)
    assert client.get("/api/v1/me", headers=token(client, NEW)).status_code == 200


# -- the register alone ------------------------------------------------------------------------------------------

HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since"
A, B = "8613800000011", "8613800000012"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OLD = "2023-01-23T17:02:19+08:00"


def _register(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def test_customer_since_from_the_file_and_a_reassignment(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        first = import_subscribers(conn, _register(tmp_path / "1.csv", f"{A},cu-1,payg,{OLD},active,zh,sh,",
                                                   f"{B},cu-2,payg,{OLD},active,zh,sh,"), now=NOW)
    assert first.accepted == 2 and _holder_since(engine, A) is None and _holder_since(engine, B) is None

    # a customer_since in the future or before the activation is refused, naming the field
    with engine.begin() as conn:
        bad = import_subscribers(conn, _register(tmp_path / "bad.csv",
                                                 f"{A},cu-9,payg,{OLD},active,zh,sh,2026-12-01T00:00:00+08:00",
                                                 f"{B},cu-9,payg,{OLD},active,zh,sh,2022-01-01T00:00:00+08:00"), now=NOW)
    assert bad.rejected == 2 and {p.field for p in bad.problems} == {"customer_since"}
    assert _holder_since(engine, A) is None

    # A moves to cu-3 as the file dates it; B moves to cu-4 undated: from the import
    with engine.begin() as conn:
        second = import_subscribers(conn, _register(tmp_path / "2.csv",
                                                    f"{A},cu-3,payg,{OLD},active,zh,sh,2026-10-15T00:00:00+08:00",
                                                    f"{B},cu-4,payg,{OLD},active,zh,sh,"), now=NOW)
    assert second.updated == 2
    assert _holder_since(engine, A) == datetime(2026, 10, 15, tzinfo=CN)
    assert _holder_since(engine, B) == NOW
    notes = " ".join(second.to_dict()["notes"])
    assert "…0011" in notes and "customer_since" in notes and "…0012" in notes and "from this import" in notes

    # an unchanged customer keeps it (the file's customer_since is not read again)
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "3.csv", f"{A},cu-3,basic-39,{OLD},active,zh,sh,",
                                           f"{B},cu-4,payg,{OLD},active,zh,sh,2026-10-20T00:00:00+08:00"),
                           now=NOW + timedelta(days=1))
    assert _holder_since(engine, A) == datetime(2026, 10, 15, tzinfo=CN)
    assert _holder_since(engine, B) == NOW

    # the number activated again for a new holder begins a new holding: cleared
    with engine.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "4.csv", f"{A},cu-5,payg,2026-11-05T00:00:00+08:00,active,zh,sh,",
                                           f"{B},cu-4,payg,{OLD},active,zh,sh,"), now=NOW + timedelta(days=10))
    assert _holder_since(engine, A) is None
    assert _holder_since(engine, B) == NOW
