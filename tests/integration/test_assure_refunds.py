"""`fairtel assure --refund` posts automatic refunds to the adjustments ledger, once, audited, and the next
`fairtel bill` carries them; on SQLite and on PostgreSQL (a private schema per test)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from fairtel.api._access import Access, Pseudonyms
from fairtel.api._security import Principal
from fairtel.api.ops import refund_finding
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as cli
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import (
    Adjustment,
    Finding,
    access_log,
    adjustments_of,
    connect,
    get_bill,
    import_consent_events,
    import_subscribers,
    store_catalog,
)
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
runner = CliRunner()
SUBSCRIBERS = (
    "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
    f"{C},c3,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The home's database: its SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'fairtel.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> dict[str, Any]:
    return {"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at, "channel": "sms", "evidence": f"{sub}:{event}"}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _vas(rid: str, msisdn: str, offer: str, minor: int, day: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "spgw", "msisdn": msisdn, "kind": "vas", "offer_id": offer, "amount_minor": minor,
                  "currency": "CNY", "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "parts": 1, "incomplete": False}


def _open(home: Path, url: str) -> App:
    return bootstrap(load_settings(home=home, database_url=url))


def _run(home: Path, url: str, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _setup(tmp_path: Path, url: str) -> Path:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text(SUBSCRIBERS, encoding="utf-8")
    with _open(home, url) as app, app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 3
    return home


def _adjustments(app: App) -> list[Any]:
    t = table_of(Adjustment)
    with app.db.connect() as conn:
        return list(conn.execute(select(t).order_by(t.c.finding_id)))


def test_refunds_of_billed_charges_are_posted_once_and_carried_by_the_next_bill(tmp_path: Path, database_url: str) -> None:
    home = _setup(tmp_path, database_url)
    with _open(home, database_url) as app:
        events = [
            _event("ordered", "s1", A, "vas-music-10", "2026-02-25T10:00:00+08:00"),
            _event("confirmed", "s1", A, "vas-music-10", "2026-02-25T10:05:00+08:00"),
            _event("ordered", "s2", B, "vas-video-15", "2026-02-25T11:00:00+08:00"),
            _event("confirmed", "s2", B, "vas-video-15", "2026-02-25T11:05:00+08:00"),
        ]
        with app.db.begin() as conn:
            assert import_consent_events(conn, _write_jsonl(tmp_path / "c1.jsonl", events)).accepted == 4
        usage = [_vas("v1", A, "vas-music-10", 1000, 2), _vas("v2", B, "vas-video-15", 1500, 6),
                 _vas("u1", C, "vas-ringtone-2", 200, 3), _vas("u2", A, "vas-news-5", 500, 4)]  # u1, u2: never ordered
        # a call of A's from a switch that numbers its records "u1" too: billed on A's bill, never C's charge
        usage.append(_vas("u1", A, "", 0, 3) | {"source": "msc-2", "kind": "voice", "direction": "out", "duration_s": 65,
                                               "peer": "8613912345678", "offer_id": None, "amount_minor": None,
                                               "currency": None})
        # and one numbered "u2", the id of A's own charge the gate refused: billing it must not refund that charge
        usage.append(usage[-1] | {"record_id": "u2", "duration_s": 30, "started_at": datetime(2026, 3, 4, 11, tzinfo=CN).astimezone(UTC)})
        app.lake.write("usage", "2026-03", pa.Table.from_pylist(usage, schema=CLEAN_USAGE_SCHEMA), part="t1")
        rate_period(app, Period.parse("2026-03"), catalog=load_catalog(default_catalog_path()))
    march = _run(home, database_url, "bill", "--period", "2026-03", "--issue")
    assert march["bills"] == 3 and march["refused_vas"] == 2  # the gate kept u1 and u2 off the bills

    # Both subscribers had cancelled at a shop before the charges; the shop's events arrive after the bill run.
    late = [_event("cancelled", "s1", A, "vas-music-10", "2026-03-01T09:00:00+08:00"),
            _event("cancelled", "s2", B, "vas-video-15", "2026-03-01T09:30:00+08:00")]
    with _open(home, database_url) as app, app.db.begin() as conn:
        assert import_consent_events(conn, _write_jsonl(tmp_path / "c2.jsonl", late)).accepted == 2

    found = _run(home, database_url, "assure")
    kinds = {(f["kind"], tuple(f["record_ids"])): f["finding_id"] for f in found["findings"]}
    assert {("charge_after_cancellation", ("v1",)), ("charge_after_cancellation", ("v2",)),
            ("unconsented_charge", ("u1",)), ("unconsented_charge", ("u2",))} <= set(kinds)
    assert found["refunds"] == 0 and found["refund"] == {}
    f_v1, f_v2 = kinds[("charge_after_cancellation", ("v1",))], kinds[("charge_after_cancellation", ("v2",))]

    # An agent refunds B's charge through the API first.
    with _open(home, database_url) as app:
        secret = app.settings.secret_key.get_secret_value()
        acc = Access(principal=Principal("agent-1", Role.AGENT), pseudonyms=Pseudonyms(secret), begin=app.db.begin,
                     lake=app.lake)
        try:
            acc.assign(B, kind="complaint", reference_id="cmp-b")  # an agent resolves findings of customers they handle
            refund_finding(acc, f_v2)
        finally:
            acc.end()

    first = _run(home, database_url, "assure", "--refund")
    assert first["refund"]["posted"] == 1 and first["refund"]["amount"] == {"CNY": "10.00"}
    assert first["refund"]["already_refunded"] == 1 and first["refund"]["not_billed"] == 2
    again = _run(home, database_url, "assure", "--refund")
    assert again["refund"]["posted"] == 0 and again["refund"]["already_refunded"] == 2 and again["refund"]["closed_before"] >= 2

    with _open(home, database_url) as app:
        rows = _adjustments(app)
        assert [(r.finding_id, r.msisdn, r.kind, r.amount_minor) for r in rows] == sorted(
            [(f_v1, A, "refund", 1000), (f_v2, B, "refund", 1500)]
        )
        by_finding = {r.finding_id: r for r in rows}
        assert by_finding[f_v1].created_by == "assure" and by_finding[f_v1].bill_id is not None
        ft = table_of(Finding)
        with app.db.connect() as conn:
            status = {r.finding_id: (r.status, r.resolution) for r in conn.execute(select(ft))}
            audit = access_log(conn, actor="assure")
            assert conn.scalar(select(func.count()).select_from(ft)) == len(found["findings"])
        assert status[f_v1][0] == "resolved" and status[f_v1][1].startswith("refunded")
        assert status[kinds[("unconsented_charge", ("u1",))]] == ("resolved", "not_billed: refused by the consent gate before billing")
        refunds = [a for a in audit if a.reason == "automatic refund"]
        assert [(a.resource, a.subject_msisdn_pseudonym) for a in refunds] == [(f"finding/{f_v1}", Pseudonymizer(secret, domain="msisdn")(A))]
        assert all(A not in (a.subject_msisdn_pseudonym or "") for a in audit)

    april = _run(home, database_url, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 2
    with _open(home, database_url) as app, app.db.connect() as conn:
        bill_a = get_bill(conn, next(b for b in _bill_ids(app, "2026-04") if b[0] == A)[1])
        assert bill_a is not None and bill_a.adjustments_minor == -1000
        assert [ln.adjustment_id for ln in bill_a.lines if ln.adjustment_id] == [by_finding[f_v1].adjustment_id]
        march_a = dict(_bill_ids(app, "2026-03"))[A]
        assert [(e.kind.value, e.bill_id, e.finding_id) for e in adjustments_of(conn, A)] == [("refund", march_a, f_v1)]
    assert _run(home, database_url, "bill", "--period", "2026-05", "--issue")["adjustments_carried"] == 0  # never twice
    messages = [json.loads(line) for line in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(m["msisdn"], m["kind"], m["language"]) for m in messages if m["kind"] == "refund"] == [(A, "refund", "zh")]


def _bill_ids(app: App, period: str) -> list[tuple[str, str]]:
    from fairtel.store import issued_bills

    with app.db.connect() as conn:
        return sorted(issued_bills(conn, period).items())


def test_operator_charges_refunded_once_per_unconsented_charge(tmp_path: Path, database_url: str) -> None:
    """An operator directory's charges were billed by the operator's own system: each unconsented charge
    is refunded once, through the ledger, into the subscriber's next fairtel bill."""
    home = _setup(tmp_path, database_url)
    op = tmp_path / "op"
    (op / "catalog.toml").parent.mkdir(parents=True)
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    _write_jsonl(op / "consent" / "events.jsonl", [
        _event("ordered", "s1", A, "vas-music-10", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s1", A, "vas-music-10", "2026-09-01T10:03:00+08:00"),
    ])
    _write_jsonl(op / "usage" / "spgw.jsonl", [
        {"record_id": "ok", "msisdn": A, "kind": "vas", "started_at": "2026-09-02T00:00:00+08:00", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"},
        {"record_id": "x1", "msisdn": B, "kind": "vas", "started_at": "2026-09-03T00:00:00+08:00", "offer_id": "vas-horoscope-6", "amount": "6.00", "currency": "CNY"},
        {"record_id": "x2", "msisdn": B, "kind": "vas", "started_at": "2026-09-04T00:00:00+08:00", "offer_id": "vas-ringtone-2", "amount": "2.00", "currency": "CNY"},
        {"record_id": "x3", "msisdn": C, "kind": "vas", "started_at": "2026-09-05T00:00:00+08:00", "offer_id": "vas-wallpaper-3", "amount": "3.00", "currency": "CNY"},
    ])
    first = _run(home, database_url, "assure", "--operator-dir", str(op), "--refund")
    unconsented = sorted(f["finding_id"] for f in first["findings"] if f["kind"] == "unconsented_charge")
    assert len(unconsented) == 3 and first["refund"]["posted"] == 3 and first["refund"]["amount"] == {"CNY": "11.00"}
    second = _run(home, database_url, "assure", "--operator-dir", str(op), "--refund")
    assert second["refund"]["posted"] == 0 and second["notifications"] == 0
    with _open(home, database_url) as app:
        rows = _adjustments(app)
    assert sorted(r.finding_id for r in rows) == unconsented and sorted(r.amount_minor for r in rows) == [200, 300, 600]
    assert all(r.bill_id is None for r in rows)  # fairtel did not issue the bills that charged them

    bills = _run(home, database_url, "bill", "--period", "2026-10", "--issue")
    assert bills["adjustments_carried"] == 3
    with _open(home, database_url) as app, app.db.connect() as conn:
        ids = dict(_bill_ids(app, "2026-10"))
        bill_b, bill_c = get_bill(conn, ids[B]), get_bill(conn, ids[C])
        assert bill_b is not None and bill_c is not None
        assert (bill_b.adjustments_minor, bill_c.adjustments_minor) == (-800, -300)
