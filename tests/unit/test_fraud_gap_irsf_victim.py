"""IRSF on a stolen or cloned SIM: the burst is seen whole across the turn of a month (a rolling window, one case for
the same calls), the case states the money at stake and when (local times with their offset), names the premium zone
as the catalog does, and a confirmed case may bar the line as its subscriber's: the suspension says the subscriber is
the victim, is audited so, and the case's charged calls made before it become one refund finding (``irsf_fraud``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.fraud import CaseQueue, CaseStatus, Detector, FraudCase, Reason, case_id

SH = ZoneInfo("Asia/Shanghai")
THIEF = "8613000000001"  # the stolen SIM
OTHER = "8613000000002"  # an ordinary line
PREMIUM = "881612345"  # intl-premium in the demo catalog


def _call(n: int, line: str, at: datetime, peer: str, duration: int = 900, roaming: str | None = "JP") -> dict[str, Any]:
    return {"record_id": f"r{n:04d}", "source": "sw", "msisdn": line, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": duration, "peer": peer, "roaming_country": roaming}


def _write(home: Path, period: str, rows: list[dict[str, Any]], rated: bool = True) -> None:
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.store import Lake

    frame = pl.DataFrame(rows)
    table = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                               if f.name not in frame.columns).to_arrow()
    Lake(home / "lake").write("usage", period, table, part="t1")
    if rated:
        charged = frame.select(
            "msisdn", "source", "record_id",
            pl.lit(3000, dtype=pl.Int64).alias("amount_minor"), pl.lit("CNY").alias("currency"),
            pl.lit("sub-1").alias("subscription_id"), pl.lit("intl/voice-premium").alias("rule_id"),
        )
        Lake(home / "lake").write("rated", period, charged.to_arrow(), part="t1")


def _burst(split: bool) -> dict[str, list[dict[str, Any]]]:
    """8 night calls of 15 min to 8 premium numbers, 4 on 31 Oct 23:00-23:36 and 4 on 1 Nov 00:00-00:36 (local),
    and an ordinary line's calls home."""
    oct_ = [_call(i, THIEF, datetime(2026, 10, 31, 23, 12 * i, tzinfo=SH), f"{PREMIUM}{i:03d}") for i in range(4)]
    nov = [_call(10 + i, THIEF, datetime(2026, 11, 1, 0, 12 * i, tzinfo=SH), f"{PREMIUM}{10 + i:03d}") for i in range(4)]
    oct_ += [_call(100 + i, OTHER, datetime(2026, 10, 20, 10, i, tzinfo=SH), "8613900000009", 60, None) for i in range(3)]
    nov += [_call(200 + i, OTHER, datetime(2026, 11, 20, 10, i, tzinfo=SH), "8613900000009", 60, None) for i in range(3)]
    if not split:
        return {"2026-11": oct_ + nov}
    return {"2026-10": oct_, "2026-11": nov}


def _cli() -> typer.Typer:
    from fairtel.cli._fraud_detect import register

    app = typer.Typer()
    fraud = typer.Typer()
    register(fraud)
    app.add_typer(fraud, name="fraud")

    @app.callback()
    def _root() -> None:
        pass

    return app


@pytest.fixture()
def home(tmp_path: Path) -> Iterator[Path]:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings
    from fairtel.store import import_subscribers

    home = tmp_path / "home"
    for period, rows in _burst(split=True).items():
        _write(home, period, rows)
    fapp = bootstrap(load_settings(home=home))
    subs = home / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"861300000000{i},c{i},payg,2025-01-01T00:00:00+08:00,active,zh,sh\n" for i in (1, 2)),
                    encoding="utf-8")
    with fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    fapp.close()
    yield home


def _detect(home: Path) -> dict[str, Any]:
    r = CliRunner().invoke(_cli(), ["fraud", "detect", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_a_burst_across_the_turn_of_a_month_opens_one_case_and_a_rerun_no_other(home: Path) -> None:
    out = _detect(home)
    irsf = [c for c in out["cases"] if c["detector"] == "irsf"]
    assert [(c["subject"], c["period"]) for c in irsf] == [(THIEF, "2026-11")]  # the period of its latest calls
    ev = irsf[0]["evidence"]
    assert ev["premium_calls"] == 8 and ev["premium_minutes"] == 120 and ev["premium_numbers"] == 8
    assert len(ev["premium_records"]) == 8
    again = _detect(home)
    assert [c["case_id"] for c in again["cases"] if c["detector"] == "irsf"] == [irsf[0]["case_id"]]
    assert again["merge"]["added"] == 0


def test_calls_of_a_month_that_has_its_own_case_are_not_counted_again(tmp_path: Path) -> None:
    """Six calls at the end of October open October's case; November's three calls are judged alone (no case)."""
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    home = tmp_path / "h"
    oct_ = [_call(i, THIEF, datetime(2026, 10, 31, 20, 10 * i, tzinfo=SH), f"{PREMIUM}{i:03d}") for i in range(6)]
    nov = [_call(10 + i, THIEF, datetime(2026, 11, 1, 0, 12 * i, tzinfo=SH), f"{PREMIUM}{10 + i:03d}") for i in range(5)]
    _write(home, "2026-10", oct_)
    _write(home, "2026-11", nov)
    bootstrap(load_settings(home=home)).close()
    out = _detect(home)
    irsf = sorted((c["period"], c["evidence"]["premium_calls"]) for c in out["cases"] if c["detector"] == "irsf")
    assert irsf == [("2026-10", 6), ("2026-11", 5)]  # November's case counts only its own calls


def test_the_case_states_money_at_stake_window_local_times_and_the_catalog_zone_name(home: Path) -> None:
    out = _detect(home)
    case = next(c for c in out["cases"] if c["detector"] == "irsf")
    ev = case["evidence"]
    assert ev["charged"] == "240.00" and ev["currency"] == "CNY" and ev["not_rated"] == 0
    assert ev["premium_first_at"] == "2026-10-31T23:00:00+08:00"
    assert ev["premium_last_at"] == "2026-11-01T00:36:00+08:00"
    assert ev["counted_from"].endswith("+08:00")
    words = " ".join(r["en"] for r in case["reasons"])
    assert "International premium" in words and "premium-rate international ranges" not in words
    assert "the visited country's clock" in words
    r = CliRunner().invoke(_cli(), ["fraud", "cases", "--home", str(home), "--explain", "--detector", "irsf"])
    assert r.exit_code == 0, r.output
    assert "at stake: 8 premium call(s), 240.00 CNY charged" in r.output
    assert "2026-10-31T23:00:00+08:00" in r.output


def _case(detector: Detector, subject: str) -> FraudCase:
    return FraudCase(case_id(detector, subject, "2026-11"), detector, subject, "2026-11", 0.6, {},
                     (Reason("x", 1.0, 1.0, "why", "原因"),), datetime(2026, 11, 2, tzinfo=UTC))


def test_a_confirmed_irsf_line_may_be_suspended_as_the_victims() -> None:
    q = CaseQueue([_case(Detector.IRSF, THIEF)])
    _, suspension = q.decide(case_id(Detector.IRSF, THIEF, "2026-11"), CaseStatus.CONFIRMED, by="analyst1",
                                    at=datetime(2026, 11, 3, tzinfo=UTC), suspend=True)
    assert suspension is not None and suspension.victim and suspension.to_dict()["victim"] is True
    assert "victim" in suspension.reason_en and "受害" in suspension.reason_zh
    assert "victim" in suspension.audit_reason("subscriber called")


def test_confirm_and_suspend_an_irsf_case_bars_the_line_and_raises_its_refund(home: Path) -> None:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings
    from fairtel.store import AccessAudit, Subscriber
    from fairtel.store import Finding as FindingRow
    from fairtel.store._schema import table_of

    case = next(c for c in _detect(home)["cases"] if c["detector"] == "irsf")
    r = CliRunner().invoke(_cli(), ["fraud", "decide", case["case_id"], "--confirm", "--suspend", "--by", "analyst1",
                                    "--note", "stolen SIM, subscriber called", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["line"] == "suspended" and out["suspension"]["victim"] is True
    [finding] = out["findings"]
    assert finding["kind"] == "irsf_fraud" and finding["amount"] == "240.00" and finding["currency"] == "CNY"
    assert len(finding["record_ids"]) == 8 and finding["evidence"]["case_id"] == case["case_id"]
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.connect() as conn:
        status = conn.execute(select(table_of(Subscriber).c.status).where(table_of(Subscriber).c.msisdn == THIEF)).scalar()
        audit = table_of(AccessAudit)
        reasons = list(conn.scalars(select(audit.c.reason).where(audit.c.action == "line.suspend")))
        queued = conn.execute(select(table_of(FindingRow).c.kind)).all()
    fapp.close()
    assert status == "suspended"
    assert reasons and "victim" in reasons[0]
    assert ("irsf_fraud",) in queued
    # a second look raises nothing twice
    lake = pl.read_parquet(home / "lake" / "findings" / "period=2026-11" / "fraud.parquet") \
        if (home / "lake" / "findings" / "period=2026-11" / "fraud.parquet").is_file() else None
    assert lake is None or lake.filter(pl.col("kind") == "irsf_fraud").height == 1


def test_the_evidence_times_are_local_not_utc() -> None:
    from fairtel.fraud import detect_irsf

    lines = pl.DataFrame({"msisdn": [THIEF], "premium_calls": [6], "premium_minutes": [90.0], "premium_numbers": [6],
                          "premium_night_share": [1.0], "premium_roaming_calls": [6],
                          "premium_first_at": [datetime(2026, 10, 11, 16, tzinfo=UTC)],
                          "premium_line_age_days": [400.0]})
    [case] = detect_irsf(lines, period="2026-10", now=datetime(2026, 11, 1, tzinfo=UTC),
                         tz="Asia/Shanghai", zone_name={"en": "International premium and high-risk ranges", "zh": "国际高风险"})
    assert case.evidence["premium_first_at"] == "2026-10-12T00:00:00+08:00"
    assert "International premium and high-risk ranges" in case.reasons[0].en and "国际高风险" in case.reasons[0].zh


def test_night_is_judged_on_the_clock_of_the_country_visited() -> None:
    """06:30 in Tokyo (05:30 in Beijing) is morning; 00:30 in Paris (07:30 in Beijing) is night; at home, Beijing's."""
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.fraud import FeatureConfig, compute_features

    tokyo, paris = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Paris")
    rows = [_call(i, THIEF, datetime(2026, 11, 3 + i, 6, 30, tzinfo=tokyo), f"{PREMIUM}{i:03d}", roaming="JP")
            for i in range(3)]
    rows += [_call(10 + i, OTHER, datetime(2026, 11, 3 + i, 0, 30, tzinfo=paris), f"{PREMIUM}{i:03d}", roaming="FR")
             for i in range(3)]
    rows += [_call(20 + i, "8613000000003", datetime(2026, 11, 3 + i, 5, 30, tzinfo=SH), f"{PREMIUM}{i:03d}",
                   roaming=None) for i in range(2)]
    usage = pl.DataFrame(rows).with_columns(pl.lit(0, dtype=pl.Int64).alias("bytes_up"),
                                            pl.lit(0, dtype=pl.Int64).alias("bytes_down"))
    feats = compute_features(usage, catalog=load_catalog(default_catalog_path()),
                             config=FeatureConfig(tz="Asia/Shanghai"))
    share = dict(zip(feats.lines["msisdn"], feats.lines["premium_night_share"], strict=True))
    assert share == {THIEF: 0.0, OTHER: 1.0, "8613000000003": 1.0}


def test_calls_rated_after_the_decision_get_their_refund_finding_from_the_next_run(tmp_path: Path) -> None:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings
    from fairtel.store import Lake

    home = tmp_path / "h"
    burst = _burst(split=False)["2026-11"]
    _write(home, "2026-11", burst, rated=False)
    bootstrap(load_settings(home=home)).close()
    case = next(c for c in _detect(home)["cases"] if c["detector"] == "irsf")
    assert case["evidence"]["charged"] is None and case["evidence"]["not_rated"] == 8
    r = CliRunner().invoke(_cli(), ["fraud", "decide", case["case_id"], "--confirm", "--suspend", "--by", "analyst1",
                                    "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["findings"] == []
    charged = pl.DataFrame(burst).select(
        "msisdn", "source", "record_id", pl.lit(3000, dtype=pl.Int64).alias("amount_minor"),
        pl.lit("CNY").alias("currency"), pl.lit("sub-1").alias("subscription_id"), pl.lit("r").alias("rule_id"))
    Lake(home / "lake").write("rated", "2026-11", charged.to_arrow(), part="t1")
    assert _detect(home)["irsf_fraud_findings"] == 1
    assert _detect(home)["irsf_fraud_findings"] == 0  # raised once
