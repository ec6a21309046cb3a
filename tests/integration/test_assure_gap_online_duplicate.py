"""`fairtel assure` on a home judges VAS charges as the bills did: of two charges of one monthly fee rated online
(the later-dated file first), the one the bill holds is the month's charge. Re-gated by date alone it used to be
called the duplicate of the earlier-dated charge no bill holds, and refunded (with an SMS): the month then paid by
nobody."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()
A = "8613900000007"


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _charge(rid: str, at: str, source: str) -> str:
    return json.dumps({"record_id": rid, "source": source, "msisdn": A, "kind": "vas", "started_at": at,
                       "offer_id": "vas-video-15", "amount": "15.00", "currency": "CNY"}) + "\n"


def test_the_charge_the_bill_holds_is_not_refunded_as_a_duplicate(tmp_path: Path) -> None:
    op, home, inbox = tmp_path / "op", tmp_path / "h", tmp_path / "inbox"
    (op / "consent").mkdir(parents=True)
    shutil.copy(default_catalog_path(), op / "catalog.toml")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,cq\n", encoding="utf-8")
    events = [("ordered", "2026-08-01T10:00:00.000+08:00", "order-from:x"),
              ("confirmed", "2026-08-01T10:05:00.000+08:00", "sms-reply:g")]
    (op / "consent" / "e.jsonl").write_text("".join(
        json.dumps({"event": e, "subscription_id": "g", "msisdn": A, "offer_id": "vas-video-15", "at": at,
                    "channel": "sms", "evidence": ev}) + "\n" for e, at, ev in events), encoding="utf-8")
    _ok("load", str(op), "--home", str(home), "--no-usage")
    inbox.mkdir()
    # the mid-month charge arrives (and is rated) first; a second source's charge dated the 1st after it
    (inbox / "f1.jsonl").write_text(_charge("og1", "2026-09-15T10:00:00+08:00", "spgw"), encoding="utf-8")
    _ok("watch", str(inbox), "--once", "--rate", "--home", str(home))
    (inbox / "f2.jsonl").write_text(_charge("og2", "2026-09-01T10:00:00+08:00", "spgw2"), encoding="utf-8")
    _ok("watch", str(inbox), "--once", "--rate", "--home", str(home))
    bill = json.loads(_ok("bill", "--period", "2026-09", "--issue", "--home", str(home), "--json"))
    assert bill["by_kind"]["vas"] == "15.00"

    out = json.loads(_ok("assure", "--home", str(home), "--refund", "--json"))
    assert out["refund"]["posted"] == 0, out["refund"]
    dups = [f for f in out["findings"] if f["kind"] == "duplicate_charge"]
    assert [(f["record_ids"], f["evidence"]["duplicate_of"]) for f in dups] == [(["og2"], "og1")]
    outbox = home / "outbox" / "messages.jsonl"
    assert not outbox.exists() or not [m for m in map(json.loads, outbox.read_text().splitlines()) if m["kind"] == "refund"]
