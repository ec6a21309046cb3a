"""Online rating (`fairtel watch --rate`) and the batch run agree in the month of an owner change (过户): each holding
draws the plan's allowance on counters of its own, and counters carried from before the change never open the new
customer's holding.

Line A (basic-39: 300 domestic minutes) is customer c1's; from 10 March 2026 it is customer c9's. c1 calls 300
minutes on 5 March, c9 10 minutes on 20 March: c9's call is inside c9's own allowance, free. B, unchanged, makes the
same calls and pays for its 10 minutes past the allowance.

Before: the batch run and online rating both drew A's allowance in time order across the change, so c9 paid for the
10 minutes; and online rating opened c9's holding with the counters c1's usage left."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.cli._home import home_gate, home_lines, home_plans
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import OnlineRater
from fairtel.store import import_subscribers, plan_timeline, store_catalog

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT

CN = timezone(timedelta(hours=8))
P = "2026-03"
A, B = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
ARRIVED = datetime(2026, 3, 21, tzinfo=UTC)


def _call(rid: str, msisdn: str, day: int, minutes: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": minutes * 60,
                  "peer": "8613912345678", "parts": 1, "incomplete": False}


FILES = {"f0": [_call("c1-call", A, 5, 300), _call("b-early", B, 5, 300)],
         "f1": [_call("c9-call", A, 20, 10), _call("b-late", B, 20, 10)]}


def _import(app: App, tmp: Path, *, changed: bool) -> None:
    path = tmp / ("second.csv" if changed else "first.csv")
    owner, since = ("c9", "2026-03-10T00:00:00+08:00") if changed else ("c1", "")
    path.write_text(HEADER + f"{A},{owner},basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,{since}\n"
                             f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    with app.db.begin() as conn:
        now = datetime(2026, 3, 11, tzinfo=CN) if changed else datetime(2026, 1, 5, tzinfo=CN)
        assert import_subscribers(conn, path, now=now).accepted == 2


@pytest.fixture
def app(tmp_path: Path, database: str | None) -> Any:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
    _import(app, tmp_path, changed=False)
    for name, calls in FILES.items():
        app.lake.write("usage", P, pa.Table.from_pylist(calls, schema=CLEAN_USAGE_SCHEMA), part=name)
    yield app
    app.close()


CATALOG: Catalog = load_catalog(default_catalog_path())


def _part(app: App, name: str) -> Path:
    return app.lake.part_path("usage", P, name)


def _rater(app: App) -> OnlineRater:
    """A rater as `watch --rate` starts one (the register's plans with each line's owner change)."""
    return OnlineRater(app.settings, catalog=CATALOG, subscribers=home_plans(app), gate=home_gate(app, CATALOG))


def _rated(app: App) -> pl.DataFrame:
    frame = pl.read_parquet(sorted((app.settings.lake_dir / "rated" / f"period={P}").glob("*.parquet")))
    return frame.sort(frame.columns, nulls_last=True)


def _amounts(rated: pl.DataFrame) -> dict[str, int]:
    return dict(rated.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows())


def _batch(app: App) -> pl.DataFrame:
    rate_period(app, Period.parse(P, CATALOG.operator.timezone), catalog=CATALOG)  # replaces the period
    return _rated(app)


def test_online_after_a_restart_that_learnt_of_the_change_equals_the_batch_run(app: App, tmp_path: Path) -> None:
    _rater(app).rate_file("f0", [_part(app, "f0")], arrived_at=ARRIVED)  # before the register knew of the change
    _import(app, tmp_path, changed=True)
    _rater(app).rate_file("f1", [_part(app, "f1")], arrived_at=ARRIVED)  # the watch started again
    online = _rated(app)
    amounts = _amounts(online)
    assert amounts["c9-call"] == 0 and amounts["b-late"] > 0
    assert_frame_equal(online, _batch(app), check_exact=True)


def test_online_taking_the_register_change_while_running_equals_the_batch_run(app: App, tmp_path: Path) -> None:
    rater = _rater(app)
    rater.rate_file("f0", [_part(app, "f0")], arrived_at=ARRIVED)
    _import(app, tmp_path, changed=True)
    with app.db.connect() as conn:  # as the watch takes the register's changes before a commit
        plans = pl.from_arrow(plan_timeline(conn, msisdns=[A]))
    assert isinstance(plans, pl.DataFrame)
    rater.update_register([A], plans, lines=home_lines(app, [A]))
    rater.rate_file("f1", [_part(app, "f1")], arrived_at=ARRIVED)
    online = _rated(app)
    assert _amounts(online)["c9-call"] == 0
    assert_frame_equal(online, _batch(app), check_exact=True)


def test_online_after_a_batch_run_of_the_previous_customer_s_usage_equals_the_batch_run(app: App, tmp_path: Path) -> None:
    _import(app, tmp_path, changed=True)
    (app.settings.lake_dir / "usage" / f"period={P}" / _part(app, "f1").name).rename(tmp_path / "f1.parquet")
    first = _batch(app)  # c1's usage and B's first call, rated by the batch run
    assert set(first["record_id"].to_list()) == {"c1-call", "b-early"}
    (tmp_path / "f1.parquet").rename(_part(app, "f1"))
    _rater(app).rate_file("f1", [_part(app, "f1")], arrived_at=ARRIVED)  # counters recovered from the batch's lines
    mixed = _rated(app)
    assert _amounts(mixed)["c9-call"] == 0 and _amounts(mixed)["b-late"] > 0
    assert_frame_equal(mixed, _batch(app), check_exact=True)
