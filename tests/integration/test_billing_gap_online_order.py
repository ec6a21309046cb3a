"""Rerating a period whose bills came from online rating: the records are rated again in the order online rating
drew their allowances in (the files' arrival order, as the rating log records it), not in time order.

Rated in time order, a shared allowance went to other records than the bill's: a rerate with an unchanged tariff
issued debit/credit pairs, and where the rates differ by band their net was not zero.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from fairtel.billing._order import ARRIVAL, RatedOrder, draw_order
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import Catalog, default_catalog_path, parse_catalog
from fairtel.cli._billing import bill_period, rerate_period
from fairtel.cli._home import home_gate, home_plans, home_subscribers
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import ArrivedFile, OnlineRater
from fairtel.rating import rate
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
X, Y = "8613800000011", "8613800000012"
P = "2026-03"
_FLAT = '''[[plans.rules]]
id = "senior-19/voice-domestic"
name = { zh = "国内主叫", en = "Domestic calls" }
kind = "voice"
directions = "out"
zones = ["domestic"]
rate = "voice-dom-015"
'''
_BANDED = '''[[plans.rules]]
id = "senior-19/voice-peak"
name = { zh = "国内主叫（忙时）", en = "Domestic calls, peak" }
kind = "voice"
directions = "out"
zones = ["domestic"]
bands = ["peak"]
rate = "voice-dom-payg-peak"

[[plans.rules]]
id = "senior-19/voice-offpeak"
name = { zh = "国内主叫（闲时）", en = "Domestic calls, off-peak" }
kind = "voice"
directions = "out"
zones = ["domestic"]
bands = ["offpeak"]
rate = "voice-dom-payg-offpeak"
'''


def catalog_text(peak: str = "0.19") -> str:
    """The demo catalog with senior-19's 100 minutes cut to 10, shared by peak (``peak`` a minute) and off-peak
    (0.12) calls: which call draws the minutes changes what the month costs."""
    text = default_catalog_path().read_text(encoding="utf-8")
    assert _FLAT in text and 'quantity = "100min"' in text
    text = text.replace(_FLAT, _BANDED).replace('quantity = "100min"', 'quantity = "10min"')
    return text.replace('steps = [{ rate = "0.19", rate_unit = "60s"', f'steps = [{{ rate = "{peak}", rate_unit = "60s"')


def parsed(text: str) -> Catalog:
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    return catalog


def call(rid: str, msisdn: str, day: int, hour: int, minutes: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "msc", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "peer": "8613912345678",
                  "duration_s": minutes * 60, "parts": 1, "incomplete": False}


# 2026-03-02 and 03-10 are weekdays (10:00: peak), 03-07 a Saturday (off-peak)
R1, R2, R3 = call("r1", X, 2, 10, 8), call("r2", X, 7, 10, 8), call("r3", X, 10, 10, 8)
Q1, Q2 = call("q1", Y, 3, 10, 6), call("q2", Y, 8, 10, 7)


def open_home(tmp_path: Path) -> App:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{X},c1,senior-19,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{Y},c2,senior-19,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, catalog_text())
        assert import_subscribers(conn, subs).accepted == 2
    return app


def arrive(app: App, *files: list[dict[str, Any]], named: str | None = None) -> None:
    """Each file's records written as mediation writes a file's part (named after its content hash; ``named``:
    ``<named><i>`` instead) and rated online, one commit for all of them, in the order given."""
    arrived = []
    for i, records in enumerate(files):
        digest = hashlib.sha256(repr(sorted(r["record_id"] for r in records)).encode()).hexdigest()
        part = digest[:24] if named is None else f"{named}{i}"
        app.lake.write("usage", P, pa.Table.from_pylist(records, schema=CLEAN_USAGE_SCHEMA), part=part)
        arrived.append(ArrivedFile(digest, [app.lake.part_path("usage", P, part)], datetime.now(UTC)))
    catalog = parsed(catalog_text())
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app), gate=home_gate(app, catalog))
    rater.rate_files(arrived)


def billed_amounts(app: App) -> dict[str, int]:
    lines = pl.read_parquet(app.lake.files("billed", periods=[P]))
    return {r: int(a) for r, a in lines.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows()}


def rated_amounts(app: App) -> dict[str, int]:
    lines = pl.read_parquet(app.lake.files("rated", periods=[P]))
    return {r: int(a) for r, a in lines.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows()}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = open_home(tmp_path)
    yield app
    app.close()


def test_files_rated_out_of_time_order_rerate_to_nothing_under_the_same_tariff(app: App) -> None:
    arrive(app, [R2, Q2], [R1], [R3, Q1])  # the Saturday call first: it takes X's 10 minutes' first 8
    assert bill_period(app, P, catalog=parsed(catalog_text()), issue=True)["bills"] == 2
    billed = billed_amounts(app)
    assert billed["r2"] == 0 and billed["r1"] == 6 * 19 and billed["r3"] == 8 * 19  # not r1 free, r2 6 × 0.12
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    assert (out["records_changed"], out["adjustments_issued"], out["net"]) == (0, 0, "0.00"), out["sample"]
    assert out["records_order_unknown"] == 0 and out["notes"] == []


def test_a_changed_rate_rerates_in_the_order_the_lines_were_rated(app: App) -> None:
    arrive(app, [R2, Q2], [R1], [R3, Q1])
    bill_period(app, P, catalog=parsed(catalog_text()), issue=True)
    with app.db.begin() as conn:
        store_catalog(conn, catalog_text(peak="0.25"))
    out = rerate_period(app, P, catalog=parsed(catalog_text(peak="0.25")))
    # r1's 6 and r3's 8 peak minutes at 0.25 instead of 0.19; r2 drew and stays free; Y: q2 (arrived first)
    # free for 7 minutes, q1 3 free and 3 peak minutes
    changes = {s["record_id"]: (s["old"], s["new"]) for s in out["sample"]}
    assert changes == {"r1": ("1.14", "1.50"), "r3": ("1.52", "2.00"), "q1": ("0.57", "0.75")}
    assert out["net"] == "1.02" and out["credits"] == 0
    assert rerate_period(app, P, catalog=parsed(catalog_text(peak="0.25")))["adjustments_issued"] == 0


def test_a_batch_run_after_the_bills_does_not_change_the_order_they_were_rated_in(app: App) -> None:
    arrive(app, [R2, Q2], [R1], [R3, Q1])
    bill_period(app, P, catalog=parsed(catalog_text()), issue=True)
    rate_period(app, Period.parse(P), catalog=parsed(catalog_text()))  # the period replaced, in time order
    assert rated_amounts(app)["r1"] == 0  # the closing run drew the minutes in time order
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    assert (out["records_changed"], out["adjustments_issued"]) == (0, 0), out["sample"]


def test_online_files_after_a_batch_run_rerate_to_nothing(app: App) -> None:
    app.lake.write("usage", P, pa.Table.from_pylist([R3], schema=CLEAN_USAGE_SCHEMA), part="batch")
    rate_period(app, Period.parse(P), catalog=parsed(catalog_text()))
    arrive(app, [R2], [R1])  # after the batch run: r3 (rated first) drew 8 minutes, r2 the last 2
    bill_period(app, P, catalog=parsed(catalog_text()), issue=True)
    billed = billed_amounts(app)
    assert (billed["r3"], billed["r2"], billed["r1"]) == (0, 6 * 12, 8 * 19)
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    assert (out["records_changed"], out["adjustments_issued"]) == (0, 0), out["sample"]


def test_usage_rated_after_the_bill_draws_after_every_billed_record(app: App) -> None:
    arrive(app, [R2], [R3])
    bill_period(app, P, catalog=parsed(catalog_text()), issue=True)
    arrive(app, [R1])  # the earliest call, arriving after the bill: online rating charged it all (r2, r3 drew)
    assert rated_amounts(app)["r1"] == 8 * 19
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    # charged once at what online rating charged it; nothing billed moves
    assert [(s["record_id"], s["old"], s["new"]) for s in out["sample"]] == [("r1", "0.00", "1.52")]
    assert out["records_changed"] == 1 and out["net"] == "1.52"


def test_the_rerate_rates_as_rate_does_with_the_arrival_ordinals(app: App) -> None:
    """What the rerate compares with is ``rate`` over the period with ``draw_order``'s ordinals: the same lines
    online rating gave, record by record."""
    arrive(app, [R3, Q2], [R2], [R1, Q1])
    usage = pl.read_parquet(app.lake.files("usage", periods=[P]), include_file_paths="_part").with_columns(
        pl.col("_part").str.split("/").list.last())
    # one commit of three files: [R3, Q2], [R2], [R1, Q1]
    assert len((app.lake.root / "rating_log" / "online.jsonl").read_text().splitlines()) == 1
    by_record = dict(usage.select("record_id", "_part").iter_rows())
    online = tuple((by_record[r], None) for r in ("r3", "r2", "r1"))
    assert set(usage["_part"].to_list()) == {p for p, _ in online}
    ordered = draw_order(usage, usage.head(0).select("msisdn", "source", "record_id"), RatedOrder(online=online))
    catalog = parsed(catalog_text())
    result = rate(ordered, catalog, home_subscribers(app, period=Period.parse(P)), period=P, arrival=ARRIVAL)
    again = {r: int(a) for r, a in result.rated.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows()}
    assert again == rated_amounts(app)


def test_the_log_names_each_files_parts_so_their_names_do_not_matter(app: App) -> None:
    arrive(app, [R2, Q2], [R1], [R3, Q1], named="part-")  # no part named after its file's hash
    log = (app.lake.root / "rating_log" / "online.jsonl").read_text().splitlines()
    assert [f["parts"] for f in json.loads(log[0])["files"]] == [[f"usage/period={P}/part-{i}.parquet"] for i in range(3)]
    assert bill_period(app, P, catalog=parsed(catalog_text()), issue=True)["bills"] == 2
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    assert (out["records_changed"], out["adjustments_issued"], out["net"]) == (0, 0, "0.00"), out["sample"]
    assert out["records_order_unknown"] == 0 and out["notes"] == []


def test_a_log_from_before_parts_finds_them_by_mediations_naming(app: App) -> None:
    arrive(app, [R2, Q2], [R1], [R3, Q1])
    log = app.lake.root / "rating_log" / "online.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    for e in entries:
        for f in e["files"]:
            del f["parts"]
    log.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    bill_period(app, P, catalog=parsed(catalog_text()), issue=True)
    out = rerate_period(app, P, catalog=parsed(catalog_text()))
    assert (out["records_changed"], out["adjustments_issued"]) == (0, 0), out["sample"]
    assert out["records_order_unknown"] == 0


def test_a_file_under_another_name_than_its_hash_without_parts_logged_is_said_to_be_in_time_order(app: App) -> None:
    app.lake.write("usage", P, pa.Table.from_pylist([R2], schema=CLEAN_USAGE_SCHEMA), part="custom")
    catalog = parsed(catalog_text())
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_plans(app), gate=home_gate(app, catalog))
    rater.rate_file("not-a-content-hash", [app.lake.part_path("usage", P, "custom")], arrived_at=datetime.now(UTC))
    log = app.lake.root / "rating_log" / "online.jsonl"
    entry = json.loads(log.read_text())
    del entry["files"][0]["parts"]  # as a log from before parts
    log.write_text(json.dumps(entry, sort_keys=True) + "\n")
    bill_period(app, P, catalog=catalog, issue=True)
    out = rerate_period(app, P, catalog=catalog)
    assert out["adjustments_issued"] == 0 and out["records_order_unknown"] == 1
    assert any("time order" in n for n in out["notes"])


def test_the_bill_run_names_the_batch_run_as_online_rating_does(app: App) -> None:
    from fairtel.cli._billing import _rating_batch
    from fairtel.engines._online import batch_of

    assert _rating_batch(app, P) is None and batch_of(app.lake.root, P) == (None, frozenset())
    app.lake.write("usage", P, pa.Table.from_pylist([R3], schema=CLEAN_USAGE_SCHEMA), part="batch")
    rate_period(app, Period.parse(P), catalog=parsed(catalog_text()))
    run, parts = batch_of(app.lake.root, P)
    assert run is not None and parts == {"batch.parquet"} and _rating_batch(app, P) == run
