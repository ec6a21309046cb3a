"""`watch --rate` prices the files that come after `fairtel load` made another catalog version current with that
version (the one the bills will name), carrying the period's allowance counters on, and says so on stderr."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import _ui
from fairtel.cli._mediation import _online_rating
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import load_settings
from fairtel.mediation import ingest_files
from fairtel.store import import_subscribers, store_catalog

A = "8613800000001"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"
_RATE = 'steps = [{ rate = "0.15", rate_unit = "60s", increment = "60s" }]'


def catalog(rate: str) -> str:
    """The demo catalog with senior-19's 100 minutes cut to 10 and its domestic calls at ``rate`` a minute."""
    text = default_catalog_path().read_text(encoding="utf-8")
    assert text.count('quantity = "100min"') == 1 and text.count(_RATE) == 1
    return text.replace('quantity = "100min"', 'quantity = "10min"').replace(_RATE, _RATE.replace("0.15", rate))


def _call(rid: str, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USAGE_FIELDS, "")
    return row | {"record_id": rid, "source": "sw1", "msisdn": A, "started_at": at.isoformat(), "kind": "voice",
                  "direction": "out", "peer": "8613912345678", "duration_s": str(8 * 60)}


def test_a_catalog_loaded_during_the_watch_prices_the_next_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(_ui.err_console, "print", lambda text, **_: said.append(str(text)))
    app = bootstrap(load_settings(home=tmp_path / "home"))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,senior-19,2025-01-01T00:00:00+08:00,active,zh,sh\n",
                                    encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, catalog("0.15"))
        import_subscribers(conn, tmp_path / "r.csv")
    after = _online_rating(app, quiet=True)
    t0 = datetime(2026, 3, 2, 2, tzinfo=UTC)  # 10:00 in Shanghai

    def rate(name: str, record: dict[str, Any]) -> int:
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
            w.writeheader()
            w.writerow(record)
        after(ingest_files([path], settings=app.settings))
        lines = pl.concat([pl.read_parquet(f) for f in (tmp_path / "home" / "lake" / "rated").rglob("o-*.parquet")])
        return int(lines.filter(pl.col("record_id") == record["record_id"])["amount_minor"].sum())

    assert rate("f1", _call("c1", t0)) == 0  # 8 of the 10 minutes
    assert not [s for s in said if "catalog" in s]
    with app.db.begin() as conn:
        version = store_catalog(conn, catalog("0.20")).version_id
    # the last 2 minutes free (the counters carried on), 6 at the new version's 0.20
    assert rate("f2", _call("c2", t0 + timedelta(hours=1))) == 6 * 20
    assert [s for s in said if "catalog" in s] == [f"catalog version {version} loaded: rating with it from now on"]
    assert rate("f3", _call("c3", t0 + timedelta(hours=2))) == 8 * 20
    assert len([s for s in said if "catalog" in s]) == 1  # said once
    app.close()
