"""A value-added charge the consent gate refused is never billable: it does not hold an erasure back, and retention
removes it with its period's usage detail.

The bill run leaves a refused charge (no subscription, unconfirmed, a price mismatch, a suspended provider, before the
line's activation...) off every bill, a rerate never bills it late, and ``fairtel bill release`` has nothing to
release (it is no held usage). Counted as "rated and on no bill", it refused the erasure of every line a provider
ever tried to charge without consent, for ever, and retention kept it for ever. Usage held off the bill (a release
may still charge it) and a consented charge rated after the bill run (a rerate charges it) still wait."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.store._erasure import plan
from fairtel.store._lake import Lake
from fairtel.store._retention import not_yet_billed
from fairtel.store._schema import Customer, Subscriber, table_of

GONE, LIVE = "8613900000021", "8613900000022"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
runner = CliRunner()


def _seed(conn: Any) -> None:
    at = NOW - timedelta(days=400)
    conn.execute(table_of(Customer).insert(), [{"customer_id": "c-1", "name": "Zhang Wei", "segment": "consumer",
                                                "created_at": at}])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": GONE, "customer_id": "c-1", "plan_id": "basic-39", "activated_at": at, "status": "closed",
         "language": "zh", "region": "cq", "updated_at": at, "closed_at": NOW - timedelta(days=30),
         "suspended_at": None}])


def _rated(rows: list[tuple[str, str, str | None]]) -> pa.Table:
    """(record_id, kind, verdict) rows of GONE, source ``spgw``."""
    return pa.table({"source": ["spgw"] * len(rows), "record_id": [r for r, _, _ in rows], "msisdn": [GONE] * len(rows),
                     "kind": [k for _, k, _ in rows], "verdict": [v for _, _, v in rows]})


def test_a_refused_vas_charge_does_not_stop_erasure(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        _seed(conn)
    lake = Lake(tmp_path / "lake")
    lake.write("rated", "2026-09", _rated([("v1", "vas", "no_subscription"), ("v2", "vas", "before_activation"),
                                           ("v3", "vas", "merchant_suspended"), ("v4", "vas", "price_mismatch"),
                                           ("v5", "vas", "consented"), ("c1", "voice", None)]), part="run-1")
    lake.write("billed", "2026-09", _rated([("v5", "vas", "consented"), ("c1", "voice", None)]), part="run-1")
    assert not_yet_billed(lake, "2026-09").to_pylist() == []
    with engine.connect() as conn:
        assert plan(conn, GONE, now=NOW, lake=lake).refused == ()


def test_held_usage_and_a_late_consented_charge_still_stop_it(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        _seed(conn)
    lake = Lake(tmp_path / "lake")
    lake.write("rated", "2026-09", _rated([("v1", "vas", "not_confirmed"), ("v6", "vas", "consented"),
                                           ("c2", "voice", "line_suspended")]), part="run-1")
    lake.write("billed", "2026-09", _rated([]), part="run-1")
    assert not_yet_billed(lake, "2026-09").to_pylist() == ["spgw\x1fc2", "spgw\x1fv6"]
    with engine.connect() as conn:
        assert plan(conn, GONE, now=NOW, lake=lake).refused == (
            "2 usage records of 2026-09 rated and on no bill (held or late)",)


# --- on a home: a synthetic line with one unconsented VAS attempt, billed, closed ----------------------------------

def _ft(home: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"],
                           env={"FAIRTEL_CONFIG": os.devnull, **(env or {})})
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _operator(root: Path) -> Path:
    op = root / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
        f"{GONE},c1,basic-39,2020-01-01T00:00:00+08:00,closed,zh,cq,2026-10-01T00:00:00+08:00\n"
        f"{LIVE},c2,basic-39,2020-01-01T00:00:00+08:00,active,zh,cq,\n", encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    usage = [
        {"record_id": "v0000000010", "source": "spgw-01", "msisdn": GONE, "kind": "vas",
         "started_at": "2026-09-06T10:00:00+08:00", "offer_id": "vas-horoscope-6", "amount": "6.00", "currency": "CNY"},
        *({"record_id": f"c-{m[-2:]}", "source": "msc", "msisdn": m, "kind": "voice", "direction": "out",
           "started_at": "2026-09-05T10:00:00+08:00", "duration_s": 60, "peer": "8613811112222"} for m in (GONE, LIVE)),
    ]
    (op / "usage" / "u.jsonl").write_text("".join(json.dumps(u) + "\n" for u in usage), encoding="utf-8")
    return op


def _record_ids(home: Path, dataset: str) -> set[str]:
    directory = home / "lake" / dataset / "period=2026-09"
    return {r for p in directory.glob("*.parquet") if not p.name.startswith(".")
            for r in pq.read_table(p, columns=["record_id"]).column("record_id").to_pylist()}


def test_the_closed_line_of_a_refused_charge_is_erasable_and_retention_removes_the_charge(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ft(home, "load", str(_operator(tmp_path)))
    _ft(home, "rate", "--period", "2026-09")
    issued = _ft(home, "bill", "--period", "2026-09", "--issue")
    assert issued["bills"] == 2 and issued["refused_vas"] == 1
    planned = _ft(home, "privacy", "erase", GONE, "--plan")
    assert planned["refused"] == [] and planned["erasable"] is True
    assert "v0000000010" in _record_ids(home, "rated")
    retention = {"FAIRTEL_RETENTION": json.dumps({"usage_months": 1})}
    done = _ft(home, "retention", "apply", "--by", "dpo-1", env=retention)
    assert done["applied"]["lake_records"] == done["usage_detail"]["records"] > 0
    assert "v0000000010" not in _record_ids(home, "rated") | _record_ids(home, "usage")
    out = _ft(home, "privacy", "erase", GONE, "--apply", "--by", "dpo-1")
    assert out["refused"] == [] and out["erase"]["region"] is True
