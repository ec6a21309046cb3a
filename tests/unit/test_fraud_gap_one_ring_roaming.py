"""A one-ring (Wangiri) call received while roaming is charged (incoming calls are charged abroad): once the number
is a Wangiri case, every such charged ring is a ``one_ring_roaming_charge`` finding an analyst refunds as a call
back, raised once; the subscriber rung while roaming is not told calls to it are charged at premium rates, and is
told the ring's charge is reviewed and refunded once confirmed. ``fraud detect`` counts the warnings and the
messages to callers back apart; ``fraud cases --explain`` lists the victims' refund findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow.parquet as pq
from typer.testing import CliRunner

from fairtel.assurance import FindingKind, RefundPolicy, refund_reasons
from fairtel.assurance._notify import WangiriTarget, wangiri_messages
from fairtel.assurance._refunds import refund_reason
from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.cli._wangiri import one_ring_calls, one_ring_charge_findings
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.reasons import REFUND_REASONS_ZH
from fairtel.core.settings import load_settings
from fairtel.fraud import Detector, FraudCase
from fairtel.store import Lake, import_subscribers
from fairtel.web._i18n import CODES, RESOLUTION_REASONS_ZH

SH = ZoneInfo("Asia/Shanghai")
RING_AT = datetime(2026, 9, 7, 3, tzinfo=SH)
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
CALLER = "371298765432"  # Latvia 3712: the default catalog's premium zone
TARGETS = [f"86139{100 + k:08d}" for k in range(12)]
ABROAD = {TARGETS[1]: "JP", TARGETS[2]: "JP"}  # rung while roaming, charged 1.99 for the ring
runner = CliRunner()
_ids = count()


def rec(msisdn: str, direction: str, at: datetime, *, dur: int, roaming: str | None = None) -> dict[str, Any]:
    return {"record_id": f"o{next(_ids):06d}", "source": "test", "msisdn": msisdn, "kind": "voice", "direction": direction,
            "started_at": at.astimezone(UTC), "duration_s": dur, "peer": CALLER, "roaming_country": roaming}


SCHEMA = {"record_id": pl.String, "source": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
          "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "peer": pl.String, "roaming_country": pl.String}


def usage() -> tuple[pl.DataFrame, dict[str, Any]]:
    """The number rings 12 subscribers for a second (two of them abroad); the first calls it back from home."""
    rows = [rec(m, "in", RING_AT + timedelta(minutes=k), dur=1, roaming=ABROAD.get(m)) for k, m in enumerate(TARGETS)]
    back = rec(TARGETS[0], "out", RING_AT + timedelta(hours=5), dur=95)
    return pl.DataFrame([*rows, back], schema=SCHEMA), back


def rated_lines(frame: pl.DataFrame, back: dict[str, Any]) -> pl.DataFrame:
    """The two rings abroad charged 1.99 at the roaming rate, one ring at home charged 1.00 (not roaming), the
    others free; the call back 26.00 at premium rates."""
    rows = []
    for r in frame.filter(pl.col("direction") == "in").iter_rows(named=True):
        abroad = r["msisdn"] in ABROAD
        amount = 199 if abroad else 100 if r["msisdn"] == TARGETS[3] else 0
        rows.append({"record_id": r["record_id"], "msisdn": r["msisdn"], "amount_minor": amount,
                     "rule_id": "roam/voice-roam-2" if abroad else "dom/voice", "roaming_zone": "roam-2" if abroad else None})
    rows.append({"record_id": back["record_id"], "msisdn": back["msisdn"], "amount_minor": 2600,
                 "rule_id": "intl/voice-premium", "roaming_zone": None})
    return pl.DataFrame(rows).with_columns(
        pl.lit("test").alias("source"), pl.lit(0).alias("line"), pl.lit(PERIOD).alias("period"), pl.lit("CNY").alias("currency"),
        pl.lit(None, dtype=pl.String).alias("subscription_id"))


def case() -> FraudCase:
    return FraudCase(case_id="fcs_w1", detector=Detector.WANGIRI, subject=CALLER, subject_kind="caller", period=PERIOD,
                     score=1.0, evidence={"zone": "intl-premium"}, reasons=(), opened_at=NOW)


# ---------------------------------------------------------------------------------------------- findings
def test_every_ring_charged_while_roaming_is_a_refund_finding_raised_once() -> None:
    frame, back = usage()
    rings = one_ring_calls(frame.lazy(), [CALLER], one_ring_max_s=3)
    assert rings.height == len(TARGETS) and back["record_id"] not in rings["record_id"].to_list()
    found = one_ring_charge_findings([case()], rings, rated_lines(frame, back), detected_at=NOW, tz="Asia/Shanghai")
    assert sorted(f.msisdn for f in found) == sorted(ABROAD)  # the ring charged at home and the free ones: none
    f = found[0]
    assert f.kind is FindingKind.ONE_RING_ROAMING_CHARGE and f.kind.value == "one_ring_roaming_charge"
    assert (f.amount, f.currency, len(f.record_ids)) == (Decimal("1.99"), "CNY", 1)
    assert f.evidence["case_id"] == "fcs_w1" and f.evidence["caller"] == CALLER and f.evidence["roaming_zone"] == "roam-2"
    assert f.evidence["period"] == PERIOD and f.evidence["started_at"].endswith("+08:00")
    assert f.kind not in RefundPolicy().automatic  # an analyst decides, as for a call back
    again = one_ring_charge_findings([case()], rings, rated_lines(frame, back), detected_at=NOW + timedelta(days=1))
    assert sorted(g.finding_id for g in again) == sorted(g.finding_id for g in found)
    assert one_ring_charge_findings([], rings, rated_lines(frame, back), detected_at=NOW) == []  # no case, no finding

    reason = refund_reason(f)
    assert reason == "one-ring scam call received while roaming" and reason in refund_reasons()
    zh = REFUND_REASONS_ZH[reason]
    assert "漫游" in zh and not any(c.isascii() and c.isalpha() for c in zh)
    assert RESOLUTION_REASONS_ZH[reason] == zh and "one_ring_roaming_charge" in CODES


# ---------------------------------------------------------------------------------------------- SMS
def test_a_subscriber_rung_while_roaming_is_told_the_roaming_rate_and_the_refund() -> None:
    at = datetime(2026, 9, 6, 19, tzinfo=UTC)
    targets = [
        WangiriTarget(TARGETS[1], CALLER, at, premium=True, called_back=False, roaming=True, ring_finding_id="fnd_r1"),
        WangiriTarget(TARGETS[2], CALLER, at, premium=True, called_back=False, roaming=True, ring_finding_id="fnd_r2"),
        WangiriTarget(TARGETS[4], CALLER, at, premium=True, called_back=False),
        # rung (and charged) abroad, then called back from abroad: one message, saying both
        WangiriTarget(TARGETS[5], CALLER, at, premium=True, called_back=False, roaming=True, ring_finding_id="fnd_r5"),
        WangiriTarget(TARGETS[5], CALLER, at + timedelta(hours=1), premium=False, called_back=True, finding_id="fnd_b5",
                      roaming=True),
    ]
    langs = {TARGETS[1]: "en", TARGETS[4]: "en", TARGETS[5]: "en"}
    by = {m.msisdn: m for m in wangiri_messages(targets, languages=langs, now=NOW, tz="Asia/Shanghai")}
    en = by[TARGETS[1]]
    assert en.kind == "wangiri_warning" and en.finding_id == "fnd_r1"
    assert "premium" not in en.text and "while you were roaming" in en.text and "roaming call rates" in en.text
    assert "once confirmed, will be refunded on your next bill" in en.text
    zh = by[TARGETS[2]].text
    assert "国际高资费" not in zh and "漫游" in zh and "确认后将在下期账单中退还" in zh
    home = by[TARGETS[4]].text  # rung at home: as before
    assert "premium rates" in home and "refund" not in home
    both = by[TARGETS[5]]
    assert both.kind == "wangiri_callback" and both.finding_id == "fnd_b5"
    assert "premium" not in both.text and "refunded on your next bill" in both.text


# ---------------------------------------------------------------------------------------------- command line
def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    frame, back = usage()
    table = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA if f.name not in frame.columns
    ).to_arrow()
    Lake(home / "lake").write("usage", PERIOD, table, part="t1")
    path = Lake(home / "lake").part_path("rated", PERIOD, "r1")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rated_lines(frame, back).to_arrow(), path)
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
        f"{m},c{i},payg,2025-01-01T00:00:00+08:00,active,{'en' if i == 1 else 'zh'},sh\n" for i, m in enumerate(TARGETS)),
        encoding="utf-8")
    fapp: App = bootstrap(load_settings(home=home))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    return home


def test_fraud_detect_raises_the_ring_findings_warns_and_counts_each_kind(tmp_path: Path) -> None:
    home = _home(tmp_path)
    first = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["one_ring_roaming_charge_findings"] == 2 and summary["premium_callback_findings"] == 1
    assert summary["warnings_sent"] == len(TARGETS)
    assert (summary["wangiri_warnings_sent"], summary["wangiri_callback_messages_sent"]) == (len(TARGETS) - 1, 1)
    sent = {m["msisdn"]: m for m in map(json.loads, (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines())}
    assert "premium" not in sent[TARGETS[1]]["text"] and "refunded on your next bill" in sent[TARGETS[1]]["text"]
    assert "国际高资费" not in sent[TARGETS[2]]["text"] and "退还" in sent[TARGETS[2]]["text"]
    assert "国际高资费" in sent[TARGETS[3]]["text"] and "退还" not in sent[TARGETS[3]]["text"]  # rung at home

    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        from sqlalchemy import select

        from fairtel.store import Finding as FindingRow

        queued = sorted((q.kind, q.msisdn, q.amount_minor, q.status) for q in conn.execute(
            select(FindingRow.kind, FindingRow.msisdn, FindingRow.amount_minor, FindingRow.status)))
    assert queued == [("one_ring_roaming_charge", TARGETS[1], 199, "open"), ("one_ring_roaming_charge", TARGETS[2], 199, "open"),
                      ("premium_callback", TARGETS[0], 2600, "open")]

    again = runner.invoke(app, ["fraud", "detect", "--home", str(home)])
    assert again.exit_code == 0, again.output
    words = " ".join(again.output.split())
    assert "0 Wangiri SMS sent to the outbox (0 do-not-call-back warning(s), 0 to callers back" in words
    assert "0 new one-ring roaming charge finding(s)" in words

    explained = runner.invoke(app, ["fraud", "cases", "--home", str(home), "--explain"])
    assert explained.exit_code == 0, explained.output
    words = " ".join(explained.output.split())
    assert "refund findings:" in words and "2 ring(s) charged while roaming (3.98 CNY, one_ring_roaming_charge)" in words
    assert "1 call(s) back charged (26.00 CNY, premium_callback)" in words
