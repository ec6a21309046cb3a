"""`watch --rate` builds the consent gate again only when the consent ledger changed (an order or a confirmation
added), not every minute for nothing: at an operator's size the ledger read took seconds of each minute."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import fairtel.cli._home as home_module
import fairtel.cli._mediation as mediation_cli
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import load_settings
from fairtel.mediation import ingest_files
from fairtel.store import import_consent_events, import_subscribers, store_catalog

A = "8613800000001"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
T0 = datetime.now(UTC) - timedelta(hours=2)


def _vas(rid: str, at: datetime) -> dict[str, Any]:
    return dict.fromkeys(USAGE_FIELDS, "") | {"record_id": rid, "source": "sw1", "msisdn": A, "started_at": at.isoformat(),
                                               "kind": "vas", "offer_id": "vas-music-10", "amount": "10.00", "currency": "CNY"}


def _events(path: Path, sub: str, at: datetime) -> Path:
    path.write_text("".join(
        f'{{"event":"{e}","subscription_id":"{sub}","msisdn":"{A}","offer_id":"vas-music-10",'
        f'"at":"{(at + timedelta(minutes=i)).isoformat()}","channel":"sms"}}\n'
        for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    return path


def test_the_gate_is_built_again_only_when_the_ledger_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, tmp_path / "r.csv")
    builds: list[int] = []
    real = home_module.home_gate

    def counted(*args: Any, **kw: Any) -> Any:
        builds.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(home_module, "home_gate", counted)
    monkeypatch.setattr(mediation_cli, "SUBSCRIBERS_REFRESH_S", 0.0)  # every pass is "a minute later"
    after = mediation_cli._online_rating(app, quiet=True)
    assert len(builds) == 1  # at start

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

    out = rate("f1", _vas("v1", T0))
    assert out.filter(pl.col("record_id") == "v1")["verdict"].to_list() == ["no_subscription"]
    rate("f2", _vas("v2", T0 + timedelta(minutes=1)))
    assert len(builds) == 1  # nothing added to the ledger: no rebuild however long it has been

    with app.db.begin() as conn:  # the subscriber orders and confirms
        import_consent_events(conn, _events(tmp_path / "c.jsonl", "s-1", T0 + timedelta(minutes=5)))
    out = rate("f3", _vas("v3", T0 + timedelta(minutes=30)))
    assert len(builds) == 2
    assert out.filter(pl.col("record_id") == "v3")["verdict"].to_list() == ["consented"]
    app.close()
