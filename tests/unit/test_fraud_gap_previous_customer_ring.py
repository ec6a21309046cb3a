"""A one-ring (Wangiri) call charged while roaming to a line's PREVIOUS customer, before the line changed hands (过户:
the register's ``customer_since``), is still fraud: its ``one_ring_roaming_charge`` finding is kept for the operator,
marked as about usage before the current holding (``before_holding``, with ``holding_from``), counted apart by
``fraud detect`` and ``fraud cases --explain``, and addressed to nobody on the line: no refund reaches its current
customer (``refund`` refuses it, ``decide_refunds`` never refunds it) and no SMS tells them of it. Before: the
finding was raised on the number like any other, so an analyst's refund credited, and told, the new customer."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_gap_one_ring_roaming import ABROAD, NOW, PERIOD, TARGETS, case, rated_lines, runner, usage

from fairtel.assurance import (
    Finding,
    FindingKind,
    RefundPolicy,
    ResolutionError,
    decide_refunds,
    refund,
)
from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.cli._wangiri import one_ring_calls, one_ring_charge_findings
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import Lake, import_subscribers

MOVED, KEPT = sorted(ABROAD)  # both rung (and charged) abroad on 7 September; MOVED changed hands on the 15th
CHANGE = "2026-09-15T09:00:00+08:00"


def _subscribers() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": TARGETS, "activated_at": ["2025-01-01T00:00:00+08:00"] * len(TARGETS),
                         "holder_since": [CHANGE if m == MOVED else None for m in TARGETS]},
                        schema_overrides={"holder_since": pl.String})


def test_the_previous_customers_ring_finding_is_kept_marked_and_never_refunded_to_the_line() -> None:
    frame, back = usage()
    rings = one_ring_calls(frame.lazy(), [case().subject], one_ring_max_s=3)
    found = {f.msisdn: f for f in one_ring_charge_findings([case()], rings, rated_lines(frame, back), detected_at=NOW,
                                                           tz="Asia/Shanghai", subscribers=_subscribers())}
    assert set(found) == {MOVED, KEPT}  # still fraud: both findings raised
    earlier, current = found[MOVED], found[KEPT]
    assert earlier.before_holding and earlier.evidence["before_holding"] is True
    assert datetime.fromisoformat(earlier.evidence["holding_from"]) == datetime.fromisoformat(CHANGE)
    assert not current.before_holding and "before_holding" not in current.evidence
    assert (earlier.amount, earlier.kind) == (Decimal("1.99"), FindingKind.ONE_RING_ROAMING_CHARGE)

    with pytest.raises(ResolutionError, match="before the line's current holding"):
        refund(earlier, by="analyst", now=NOW)
    adj, _ = refund(current, by="analyst", now=NOW)
    assert adj.msisdn == KEPT and adj.amount == Decimal("1.99")
    everything = RefundPolicy(automatic=frozenset({FindingKind.ONE_RING_ROAMING_CHARGE}))
    decided = decide_refunds([earlier, current], policy=everything, now=NOW)
    assert [r.msisdn for r in decided.refunds] == [KEPT] and [f.msisdn for f in decided.pending] == [MOVED]


def test_a_finding_marked_before_the_holding_is_refused_whatever_raised_it() -> None:
    f = Finding(finding_id="fnd_prev", kind=FindingKind.IRSF_FRAUD, msisdn=MOVED, record_ids=("r1",),
                subscription_id=None, amount=Decimal("12.00"), currency="CNY", detected_at=NOW,
                evidence={"before_holding": True, "holding_from": "2026-09-15T01:00:00+00:00"})
    with pytest.raises(ResolutionError):
        refund(f, by="analyst", now=NOW)
    assert decide_refunds([f], policy=RefundPolicy(automatic=frozenset({FindingKind.IRSF_FRAUD})), now=NOW).refunds == []


def _register(path: Path, moved: bool) -> Path:
    rows = []
    for i, m in enumerate(TARGETS):
        customer, since = (f"c{i}", "")
        if moved and m == MOVED:
            customer, since = "c-new", CHANGE
        rows.append(f"{m},{customer},payg,2025-01-01T00:00:00+08:00,active,en,sh,{since}\n")
    path.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n" + "".join(rows),
                    encoding="utf-8")
    return path


def test_fraud_detect_counts_the_previous_customers_ring_apart_and_tells_the_new_one_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    frame, back = usage()
    table = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA if f.name not in frame.columns
    ).to_arrow()
    lake = Lake(home / "lake")
    lake.write("usage", PERIOD, table, part="t1")
    path = lake.part_path("rated", PERIOD, "r1")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rated_lines(frame, back).to_arrow(), path)
    fapp: App = bootstrap(load_settings(home=home))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "before.csv", moved=False))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "after.csv", moved=True))

    out = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["one_ring_roaming_charge_findings"] == 2
    assert summary["one_ring_roaming_charge_findings_before_holding"] == 1
    sent = [json.loads(x) for x in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert MOVED not in {m["msisdn"] for m in sent}
    assert any(m["msisdn"] == KEPT and "refunded on your next bill" in m["text"] for m in sent)

    held = {r["msisdn"]: json.loads(r["evidence"]) for r in pl.read_parquet(
        lake.part_path("findings", PERIOD, "fraud")).filter(pl.col("kind") == "one_ring_roaming_charge").iter_rows(named=True)}
    assert held[MOVED]["before_holding"] is True and "before_holding" not in held[KEPT]
    with bootstrap(load_settings(home=home)) as again, again.db.connect() as conn:
        from sqlalchemy import select

        from fairtel.store import Finding as FindingRow

        queued = {r.msisdn: r.evidence for r in conn.execute(select(FindingRow.msisdn, FindingRow.evidence)
                                                              .where(FindingRow.kind == "one_ring_roaming_charge"))}
    stored = queued[MOVED] if isinstance(queued[MOVED], dict) else json.loads(queued[MOVED])
    assert stored["before_holding"] is True  # the work queue keeps the mark the refund path reads

    explained = runner.invoke(app, ["fraud", "cases", "--home", str(home), "--explain"])
    assert explained.exit_code == 0, explained.output
    words = " ".join(explained.output.split())
    assert "1 ring(s) charged while roaming (1.99 CNY, one_ring_roaming_charge)" in words
    assert ("1 ring(s) charged to a line's previous customer, before an owner change (1.99 CNY, "
            "one_ring_roaming_charge)") in words
    text = runner.invoke(app, ["fraud", "detect", "--home", str(home)])
    assert "(0 of a line's previous customer, before an owner change" in " ".join(text.output.split())


def test_an_irsf_case_lists_no_premium_call_of_the_previous_customer() -> None:
    """The calls an IRSF case names (and a confirmed victim's case refunds) are its line's current holding's, as its
    features count them: the previous customer's premium calls are neither the case's nor refunded to the line."""
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.fraud import premium_calls

    def call(rid: str, day: int) -> dict[str, object]:
        row: dict[str, object] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
        return row | {"record_id": rid, "source": "sw1", "msisdn": MOVED, "kind": "voice", "direction": "out",
                      "started_at": datetime(2026, 9, day, 12, tzinfo=UTC), "duration_s": 600, "peer": "8819000001",
                      "parts": 1, "incomplete": False}

    usage_ = pl.DataFrame([call("before", 10), call("after", 20)], schema=pl.Schema(CLEAN_USAGE_SCHEMA))
    catalog = load_catalog(default_catalog_path())
    assert premium_calls(usage_, catalog=catalog)["record_id"].to_list() == ["before", "after"]
    held = premium_calls(usage_, catalog=catalog, subscribers=_subscribers())
    assert held["record_id"].to_list() == ["after"]
