"""`watch --rate` takes the register's changes on its next pass (a new line is rated, a suspended line's value-added
charges refused), not a minute later, and reads only the lines that changed."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli._mediation import _online_rating
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import load_settings
from fairtel.mediation import ingest_files
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, import_consent_events, import_subscribers, store_catalog, suspend_line

A, B, C = "8613800000001", "8613800000002", "8613800000003"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
T0 = datetime.now(UTC) - timedelta(hours=2)


def _rec(rid: str, msisdn: str, at: datetime, *, vas: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USAGE_FIELDS, "")
    base = {"record_id": rid, "source": "sw1", "msisdn": msisdn, "started_at": at.isoformat()}
    if vas:
        return row | base | {"kind": "vas", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"}
    return row | base | {"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": "60"}


def test_the_next_pass_takes_the_register_changes(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("".join(
        f'{{"event":"{e}","subscription_id":"s-{B}","msisdn":"{B}","offer_id":"vas-music-10",'
        f'"at":"{(T0 - timedelta(days=3, minutes=-i)).isoformat()}","channel":"sms"}}\n'
        for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, tmp_path / "r.csv")
        import_consent_events(conn, tmp_path / "c.jsonl")
    after = _online_rating(app, quiet=True)

    def rate(name: str, *records: dict[str, Any]) -> pl.DataFrame:
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
            w.writeheader()
            w.writerows(records)
        after(ingest_files([path], settings=app.settings))
        lake = tmp_path / "home" / "lake"
        return pl.concat([pl.read_parquet(f) for d in ("rated", "unrated") for f in sorted((lake / d).rglob("o-*.parquet"))],
                         how="diagonal_relaxed")

    out = rate("f1", _rec("b1", B, T0, vas=True))
    assert out.filter(pl.col("record_id") == "b1")["verdict"].to_list() == ["consented"]
    with app.db.begin() as conn:
        (tmp_path / "n.csv").write_text(f"{HEADER}\n{C},c3,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
        import_subscribers(conn, tmp_path / "n.csv")
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        assert suspend_line(conn, B, at=T0 + timedelta(minutes=30), audit=who, reason="case 1") == "suspended"
    out = rate("f2", _rec("c1", C, T0 + timedelta(hours=1)), _rec("b2", B, T0 + timedelta(hours=1), vas=True))
    c1 = out.filter(pl.col("record_id") == "c1")
    assert c1["plan_id"].to_list() == ["payg"] and c1["amount_minor"].to_list()[0] > 0
    assert out.filter(pl.col("record_id") == "b2")["verdict"].to_list() == ["line_suspended"]
    app.close()
