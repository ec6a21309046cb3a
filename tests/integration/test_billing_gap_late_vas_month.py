"""Late VAS charges and the month of a monthly offer, through the command line on SQLite and PostgreSQL.

* Out of order: a later-dated charge charged late by a rerate (a `late-vas` debit) keeps its month when an
  earlier-dated charge of the same subscription and month arrives afterwards: `fairtel rate` then calls the later one
  the duplicate, and the next rerate used to debit the earlier one too (the month billed twice).
* A charge refused on its issued bill (at 0.00) stays unbilled when a confirmation dated before it is loaded
  afterwards and `rate` + `rerate` run: the rerate used to read the verdict `rate` had just stored and debit it. It is
  reported for an operator's review instead.
* The statement says why each refused charge is not billed, per verdict (a duplicate is not "no confirmed
  subscription").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.store import adjustments_of

runner = CliRunner()
A = "8613900000071"
P = "2026-09"


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _json(home: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_ok(*args, "--home", str(home), "--json"))
    return out


def _charge(rid: str, at: str, offer: str, amount: str) -> str:
    return json.dumps({"record_id": rid, "source": "spgw", "msisdn": A, "kind": "vas", "started_at": at,
                       "offer_id": offer, "amount": amount, "currency": "CNY"}) + "\n"


def _event(event: str, sub: str, offer: str, at: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": A, "offer_id": offer, "at": at,
                       "channel": "sms", "evidence": f"sms-reply:{sub}-{event}"}) + "\n"


def _ingest(home: Path, tmp: Path, name: str, rows: str, period: str = P) -> None:
    path = tmp / name
    path.write_text(rows, encoding="utf-8")
    _ok("ingest", str(path), "--home", str(home))
    _ok("rate", "--period", period, "--home", str(home))


def _entries(home: Path) -> list[tuple[str | None, str, int]]:
    fapp = bootstrap(load_settings(home=home))
    try:
        with fapp.db.connect() as conn:
            return sorted((e.record_id, e.kind.value, e.amount_minor) for e in adjustments_of(conn, A))
    finally:
        fapp.close()


@pytest.fixture
def home(tmp_path: Path, database: str | None) -> Path:
    """A with a confirmed video membership (monthly, 15.00) and a music order never confirmed; September billed
    with one music charge (m1, 10.00) that the consent gate refused (not confirmed): on the bill at 0.00."""
    op, home = tmp_path / "op", tmp_path / "h"
    (op / "consent").mkdir(parents=True)
    shutil.copy(default_catalog_path(), op / "catalog.toml")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,cq\n", encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text(
        _event("ordered", "g", "vas-video-15", "2026-08-01T10:00:00+08:00")
        + _event("confirmed", "g", "vas-video-15", "2026-08-01T10:05:00+08:00")
        + _event("ordered", "m", "vas-music-10", "2026-09-02T10:00:00+08:00"), encoding="utf-8")
    _ok("load", str(op), "--home", str(home), "--no-usage")
    _ingest(home, tmp_path, "f0.jsonl", _charge("m1", "2026-09-03T10:00:00+08:00", "vas-music-10", "10.00"))
    bill = _json(home, "bill", "--period", P, "--issue")
    assert bill["bills"] == 1 and bill["by_kind"].get("vas", "0.00") == "0.00"
    return home


def test_a_month_charged_late_is_not_charged_again_by_an_earlier_dated_charge(home: Path, tmp_path: Path) -> None:
    _ingest(home, tmp_path, "f1.jsonl", _charge("x-late", "2026-09-25T10:00:00+08:00", "vas-video-15", "15.00"))
    first = _json(home, "rerate", "--period", P)
    assert first["vas_charged"] == 1 and first["net"] == "15.00"
    # an earlier-dated charge of the same subscription and month arrives; rating by date now calls x-late its duplicate
    _ingest(home, tmp_path, "f2.jsonl", _charge("x-early", "2026-09-03T12:00:00+08:00", "vas-video-15", "15.00"))
    second = _json(home, "rerate", "--period", P)
    assert second["vas_charged"] == 0 and second["adjustments_issued"] == 0 and second["net"] == "0.00"
    assert _entries(home) == [("x-late", "debit", 1500)]  # the month billed once
    # charge assurance judges as billing did: x-late (billed by its entry) is the month's charge, nothing refunded
    out = _json(home, "assure", "--refund")
    assert out["refund"]["posted"] == 0, out["refund"]
    assert [f["record_ids"] for f in out["findings"] if f["kind"] == "duplicate_charge"] in ([], [["x-early"]])
    assert _entries(home) == [("x-late", "debit", 1500)]
    # and the statement says why x-early is not billed: a duplicate, not a missing subscription
    en = _ok("bill", "statement", A, "--period", P, "--lang", "en", "--home", str(home))
    assert "not billed: already charged for the same period (a duplicate)" in en


def test_the_issued_bill_keeps_its_month_when_an_earlier_dated_charge_arrives(home: Path, tmp_path: Path) -> None:
    """The control case: the later-dated charge is on an issued bill (October), the earlier one comes after it."""
    _ingest(home, tmp_path, "o1.jsonl", _charge("y-late", "2026-10-25T10:00:00+08:00", "vas-video-15", "15.00"), "2026-10")
    assert _json(home, "bill", "--period", "2026-10", "--issue")["by_kind"]["vas"] == "15.00"
    _ingest(home, tmp_path, "o2.jsonl", _charge("y-early", "2026-10-03T12:00:00+08:00", "vas-video-15", "15.00"), "2026-10")
    rr = _json(home, "rerate", "--period", "2026-10")
    assert rr["vas_charged"] == 0 and rr["vas_refused"] == 1 and rr["adjustments_issued"] == 0
    assert _entries(home) == []


def test_the_statement_says_why_each_refused_charge_is_not_billed(home: Path, tmp_path: Path) -> None:
    _ingest(home, tmp_path, "f1.jsonl", _charge("v1", "2026-09-05T10:00:00+08:00", "vas-video-15", "15.00")
            + _charge("v2", "2026-09-06T10:00:00+08:00", "vas-video-15", "15.00")
            + _charge("v3", "2026-09-07T10:00:00+08:00", "vas-video-15", "12.00"))
    assert _json(home, "rerate", "--period", P)["vas_charged"] == 1  # v1; v2 a duplicate, v3 the wrong price
    en = _ok("bill", "statement", A, "--period", P, "--lang", "en", "--home", str(home))
    assert "not billed: the order was not confirmed before the charge" in en  # m1
    assert "not billed: already charged for the same period (a duplicate)" in en  # v2
    assert "not billed: the amount differs from the price confirmed" in en  # v3
    assert "no confirmed subscription covers" not in en
    zh = _ok("bill", "statement", A, "--period", P, "--lang", "zh", "--home", str(home))
    assert "未计费：扣费前订购未确认" in zh and "未计费：同一周期已扣过费，属于重复扣费" in zh
    assert "未计费：扣费金额与确认订购时的资费不符" in zh and "没有已确认的订购可支持此扣费" not in zh


def test_a_charge_refused_on_its_bill_is_not_billed_by_a_backdated_confirmation(home: Path, tmp_path: Path) -> None:
    before = _json(home, "assure", "--refund")  # m1: refused before billing, closed as not billed
    assert [f["record_ids"] for f in before["findings"] if f["kind"] == "unconsented_charge"] == [["m1"]]
    assert before["refund"]["posted"] == 0
    late = tmp_path / "op2"
    (late / "consent").mkdir(parents=True)
    (late / "consent" / "late-confirm.jsonl").write_text(
        _event("confirmed", "m", "vas-music-10", "2026-09-02T10:05:00+08:00"), encoding="utf-8")
    _ok("load", str(late), "--home", str(home), "--no-usage")
    _ok("rate", "--period", P, "--home", str(home))  # m1 now stored as consented
    rr = _json(home, "rerate", "--period", P)
    assert rr["vas_charged"] == 0 and rr["adjustments_issued"] == 0 and rr["net"] == "0.00"
    assert rr["vas_refused_on_bill_consented_now"] == ["spgw/m1"]
    assert any("refused on their issued bill" in n and "spgw/m1" in n for n in rr["notes"])
    assert _entries(home) == []
    # charge assurance raises it for review rather than leaving it closed as not billed on a premise that changed
    after = _json(home, "assure", "--refund")
    review = [f for f in after["findings"] if f["evidence"].get("verdict") == "refused_on_bill"]
    assert [(f["kind"], f["record_ids"], f["amount"]) for f in review] == [("unconsented_charge", ["m1"], "10.00")]
    assert after["refund"]["posted"] == 0 and _entries(home) == []
    # a consented charge that came in after the bill is still charged late, as before
    _ingest(home, tmp_path, "f9.jsonl", _charge("x1", "2026-09-20T10:00:00+08:00", "vas-video-15", "15.00"))
    again = _json(home, "rerate", "--period", P)
    assert again["vas_charged"] == 1 and again["vas_refused_on_bill_consented_now"] == ["spgw/m1"]
    assert _entries(home) == [("x1", "debit", 1500)]
