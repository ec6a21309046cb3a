"""A refund of a billed charge gives back what the subscriber paid for it: the charge and the tax its bill charged
on it, at that bill's rates, whether `fairtel assure --refund` or the API posts it; refunds of one bill take their
shares of the bill's tax in turn, so together they give back exactly the tax the bill charged, never a rounding
more; reruns post nothing; the next bill carries each refund as one line, not taxed again. And `assure --refund
--json` counts the findings really added to the queue (psycopg gives -1 as the row count of an INSERT ... ON
CONFLICT DO NOTHING). On SQLite and on PostgreSQL (a private schema per test)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from fairtel.api._access import Access, Pseudonyms
from fairtel.api._cases import refund_finding, sync_findings
from fairtel.api._security import Principal
from fairtel.assurance import Finding, FindingKind, findings_frame
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as cli
from fairtel.cli._billing import statement_for
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.privacy import Role
from fairtel.store import (
    Adjustment,
    connect,
    get_bill,
    import_consent_events,
    import_subscribers,
    issued_bills,
    store_catalog,
)
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
# VAS taxed at 6.5 %: A's news (5.00) and wallpaper (3.00) charges are taxed 0.52 together on A's bill, though
# each taxed alone would come to 0.33 and 0.20 (0.53): refunded one after the other they must give back 0.52.
TAX_RATES = '{"vas": "0.065", "plan_fee": "0.06"}'
runner = CliRunner()
SUBSCRIBERS = (
    "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
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
    return bootstrap(load_settings(home=home, database_url=url, tax_rates=json.loads(TAX_RATES)))


def _run(home: Path, url: str, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_DATABASE_URL": url, "FAIRTEL_TAX_RATES": TAX_RATES})
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _refunds(app: App) -> dict[str, tuple[Any, ...]]:
    """finding id → (amount, charge before tax, bill) of its refund."""
    t = table_of(Adjustment)
    with app.db.connect() as conn:
        return {r.finding_id: (r.amount_minor, r.old_amount_minor, r.new_amount_minor, r.bill_id)
                for r in conn.execute(select(t).where(t.c.kind == "refund"))}


def _billed_march(tmp_path: Path, url: str) -> Path:
    """A home whose March bills carried A's news and wallpaper charges and B's game charge, all three cancelled at a
    shop before they were charged: the shop's events arrive after the bill run."""
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text(SUBSCRIBERS, encoding="utf-8")
    with _open(home, url) as app:
        with app.db.begin() as conn:
            store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
            assert import_subscribers(conn, subs).accepted == 2
        orders = [_event(e, sub, m, offer, at) for sub, m, offer in (("s1", A, "vas-news-5"), ("s2", B, "vas-game-30"), ("s3", A, "vas-wallpaper-3"))
                  for e, at in (("ordered", "2026-02-20T10:00:00+08:00"), ("confirmed", "2026-02-20T10:05:00+08:00"))]
        with app.db.begin() as conn:
            assert import_consent_events(conn, _write_jsonl(tmp_path / "c1.jsonl", orders)).accepted == 6
        usage = [_vas("v1", A, "vas-news-5", 500, 2), _vas("v2", B, "vas-game-30", 3000, 6), _vas("v3", A, "vas-wallpaper-3", 300, 3)]
        app.lake.write("usage", "2026-03", pa.Table.from_pylist(usage, schema=CLEAN_USAGE_SCHEMA), part="t1")
        rate_period(app, Period.parse("2026-03"), catalog=load_catalog(default_catalog_path()))
    assert _run(home, url, "bill", "--period", "2026-03", "--issue")["bills"] == 2
    with _open(home, url) as app, app.db.connect() as conn:
        march = issued_bills(conn, "2026-03")
        bill_a, bill_b = get_bill(conn, march[A]), get_bill(conn, march[B])
        assert bill_a is not None and bill_b is not None
        assert (bill_a.amount_of("vas"), bill_b.amount_of("vas")) == (800, 3000)
        tax_lines = {b.msisdn: [ln.amount_minor for ln in b.lines if ln.rule_id == "tax/vas"] for b in (bill_a, bill_b)}
        assert tax_lines == {A: [52], B: [195]}  # 8.00 and 30.00 at 6.5 %
    late = [_event("cancelled", sub, m, offer, "2026-03-01T09:00:00+08:00")
            for sub, m, offer in (("s1", A, "vas-news-5"), ("s2", B, "vas-game-30"), ("s3", A, "vas-wallpaper-3"))]
    with _open(home, url) as app, app.db.begin() as conn:
        assert import_consent_events(conn, _write_jsonl(tmp_path / "c2.jsonl", late)).accepted == 3
    return home


def test_refunds_give_back_the_tax_their_bill_charged_and_the_next_bill_carries_them_whole(tmp_path: Path, database_url: str) -> None:
    home = _billed_march(tmp_path, database_url)
    found = _run(home, database_url, "assure")  # findings queued, no refund yet
    ids = {tuple(f["record_ids"]): f["finding_id"] for f in found["findings"] if f["kind"] == "charge_after_cancellation"}
    assert set(ids) == {("v1",), ("v2",), ("v3",)}

    # An agent refunds A's news charge through the API first: 5.00 and the 0.32 of A's VAS tax it carried
    # (0.52 on 8.00, 0.20 on the 3.00 left).
    with _open(home, database_url) as app:
        acc = Access(principal=Principal("agent-1", Role.AGENT), pseudonyms=Pseudonyms(app.settings.secret_key.get_secret_value()),
                     begin=app.db.begin, lake=app.lake)
        try:
            acc.assign(A, kind="complaint", reference_id="cmp-a")
            out = refund_finding(acc, ids[("v1",)])
        finally:
            acc.end()
    assert out.outcome == "refunded" and out.adjustment is not None
    assert out.adjustment.amount == "5.32"
    assert out.adjustment.tax == "0.32"
    assert out.finding.resolution == "refunded: charge after the subscription ended (5.32 CNY, tax 0.32 CNY included)"

    first = _run(home, database_url, "assure", "--refund")
    assert first["refund"]["posted"] == 2 and first["refund"]["amount"] == {"CNY": "35.15"}  # 3.00 + 0.20, 30.00 + 1.95
    assert first["refund"]["already_refunded"] == 1 and first["refund"]["queued"] == 0
    again = _run(home, database_url, "assure", "--refund")
    assert again["refund"]["posted"] == 0 and again["refund"]["already_refunded"] == 3 and again["refund"]["queued"] == 0

    with _open(home, database_url) as app:
        with app.db.connect() as conn:
            march = issued_bills(conn, "2026-03")
        refunds = _refunds(app)
        # amount tax included; the charge before tax beside it (the tax is the difference)
        assert refunds == {ids[("v1",)]: (532, 500, 0, march[A]), ids[("v3",)]: (320, 300, 0, march[A]),
                           ids[("v2",)]: (3195, 3000, 0, march[B])}
        assert sum(r[0] - r[1] for r in refunds.values() if r[3] == march[A]) == 52  # exactly A's VAS tax, no rounding more
        ft = table_of(FindingRow)
        with app.db.connect() as conn:
            resolution = conn.scalar(select(ft.c.resolution).where(ft.c.finding_id == ids[("v2",)]))
        assert resolution == "refunded: charge after the subscription ended (31.95 CNY, tax 1.95 CNY included)"
    messages = [json.loads(line) for line in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    said = {m["msisdn"]: m["text"] for m in messages if m["kind"] == "refund"}
    assert "已为您退还3.20元（退订后的扣费，含税费0.20元）" in said[A]
    assert "we have refunded 31.95 CNY (charge after the subscription ended, tax of 1.95 CNY included)" in said[B]

    april = _run(home, database_url, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 3
    with _open(home, database_url) as app:
        with app.db.connect() as conn:
            bill_a = get_bill(conn, issued_bills(conn, "2026-04")[A])
        assert bill_a is not None and bill_a.adjustments_minor == -852
        assert bill_a.tax_minor == sum(ln.amount_minor for ln in bill_a.lines if ln.kind == "tax")  # no tax on the refunds
        # the statement shows each refund as one line of what was given back, tax included, and adds up
        rows = list(csv.DictReader(io.StringIO(statement_for(app, A, "2026-04", catalog=load_catalog(default_catalog_path()), fmt="csv",
                                                             lang="en"))))
    refund_lines = sorted((Decimal(r["Amount"]), r["Details"]) for r in rows if r["Section"] == "Adjustment")
    assert refund_lines == [(Decimal("-5.32"), "Refund: charge after the subscription ended (tax 0.32 CNY included)"),
                            (Decimal("-3.20"), "Refund: charge after the subscription ended (tax 0.20 CNY included)")]
    total = next(Decimal(r["Amount"]) for r in rows if r["Section"] == "Total due")
    assert total == Decimal(bill_a.total_minor) / 100 == sum(Decimal(r["Amount"]) for r in rows if r["Section"] != "Total due")


def test_the_queue_counts_the_findings_it_really_added(tmp_path: Path, database_url: str) -> None:
    """`assure --refund` reports `queued`: on PostgreSQL it read -1 per finding from the driver."""
    home = _billed_march(tmp_path, database_url)
    first = _run(home, database_url, "assure", "--refund")
    # all three refunded in one run: the charges (38.00) and exactly the tax their bills charged (0.52 + 1.95)
    assert first["refund"]["posted"] == 3 and first["refund"]["amount"] == {"CNY": "40.47"}
    assert first["refund"]["queued"] == 3
    assert _run(home, database_url, "assure", "--refund")["refund"]["queued"] == 0

    # one more finding written to the lake (another run's part, holding one already queued too): one added
    now = datetime(2026, 4, 2, tzinfo=UTC)
    extra = Finding(finding_id="fnd-extra", kind=FindingKind.UNCONSENTED_CHARGE, msisdn=B, record_ids=("x9",), subscription_id=None,
                    amount=Decimal("2.00"), currency="CNY", detected_at=now)
    with _open(home, database_url) as app:
        queued = next(iter(_refunds(app)))
        with app.db.connect() as conn:
            row = conn.execute(select(table_of(FindingRow)).where(table_of(FindingRow).c.finding_id == queued)).one()
        again = Finding(finding_id=queued, kind=FindingKind(row.kind), msisdn=row.msisdn, record_ids=tuple(row.record_ids), subscription_id=None,
                        amount=Decimal("1.00"), currency="CNY", detected_at=now)
        app.lake.write("findings", "2026-04", findings_frame([extra, again]).to_arrow(), part="extra")
        with app.db.begin() as conn:
            assert sync_findings(conn, app.lake) == 1
        with app.db.begin() as conn:
            assert sync_findings(conn, app.lake) == 0
            kept = conn.execute(select(table_of(FindingRow)).where(table_of(FindingRow).c.finding_id == queued)).one()
    assert (kept.status, kept.amount_minor) == ("resolved", row.amount_minor)  # the queue keeps what it held
