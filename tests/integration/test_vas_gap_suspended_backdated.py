"""A suspended provider cannot go on charging by back-dating: a VAS charge that ARRIVES (mediation first ingests its
file) after its provider's billing rights were suspended, though it claims a time just before the suspension, is
refused (``merchant_suspended_late``), by batch rating and by ``watch --rate`` alike, and ``fairtel assure`` raises it
as a suspended provider's charge, naming when it arrived. A charge that arrived before the suspension, dated before
it, stays billed.

Before: only the charge's claimed ``started_at`` was compared with the suspension, so the back-dated charge was
``consented`` and billed."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.store import import_consent_events, import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A = "8613800000001"
P = "2026-03"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _invoke(home: Path, *args: str) -> Any:
    result = runner.invoke(cli, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result


def _home(tmp_path: Path, name: str) -> Path:
    """A subscribed (confirmed) to sp-melody's ringtones, charged per use."""
    home = tmp_path / name
    subs = tmp_path / f"{name}-subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    events = [{"event": e, "subscription_id": "s1", "msisdn": A, "offer_id": "vas-ringtone-2",
               "at": at, "channel": "sms", "evidence": f"s1:{e}"}
              for e, at in (("ordered", "2026-02-25T10:00:00+08:00"), ("confirmed", "2026-02-25T10:05:00+08:00"))]
    consent = tmp_path / f"{name}-consent.jsonl"
    consent.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 1
        assert import_consent_events(conn, consent).accepted == 2
    app.close()
    return home


def _charge(path: Path, rid: str, at: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"record_id": rid, "source": "spgw", "msisdn": A, "kind": "vas",
                                "started_at": at.isoformat(), "offer_id": "vas-ringtone-2", "amount": "2.00",
                                "currency": "CNY"}) + "\n", encoding="utf-8")
    return path


def _verdicts(home: Path) -> dict[str, tuple[str, int]]:
    rated = pl.read_parquet(str(home / "lake" / "rated" / f"period={P}" / "*.parquet"))
    return {r["record_id"]: (r["verdict"], r["amount_minor"]) for r in rated.filter(pl.col("kind") == "vas").iter_rows(named=True)}


def _suspend(home: Path) -> None:
    time.sleep(1.1)  # mediation records an arrival to the second: the earlier file's is then before the suspension
    _invoke(home, "merchants", "suspend", "sp-melody", "--reason", "fee stealing")


# both dated a day before the suspension (made now); r-early arrives before it, r-late after it
EARLY, LATE = datetime(2026, 3, 5, 9, tzinfo=CN), datetime(2026, 3, 6, 9, tzinfo=CN)
EXPECTED = {"r-early": ("consented", 200), "r-late": ("merchant_suspended_late", 0)}


def test_batch_rating_refuses_a_charge_that_arrived_after_the_suspension_and_assure_raises_it(tmp_path: Path) -> None:
    home = _home(tmp_path, "batch")
    _invoke(home, "ingest", str(_charge(tmp_path / "in" / "f1.jsonl", "r-early", EARLY)))
    _suspend(home)
    _invoke(home, "ingest", str(_charge(tmp_path / "in" / "f2.jsonl", "r-late", LATE)))
    _invoke(home, "rate", "--period", P)
    assert _verdicts(home) == EXPECTED

    # worded for the subscriber, in both languages
    assert "sent after the merchant was suspended" in _invoke(home, "explain", "r-late", "--lang", "en").output
    assert "服务商暂停后才提交的扣费" in _invoke(home, "explain", "r-late", "--lang", "zh").output

    out = json.loads(_invoke(home, "assure", "--json").stdout)
    found = [f for f in out["findings"] if f["kind"] == "merchant_suspended_charge"]
    assert [f["record_ids"] for f in found] == [["r-late"]], out["findings"]
    evidence = found[0]["evidence"]
    assert evidence["verdict"] == "merchant_suspended_late" and evidence["provider_id"] == "sp-melody"
    assert evidence["suspended_since"] is not None and evidence["arrived_at"] is not None
    since = datetime.fromisoformat(evidence["suspended_since"]).replace(microsecond=0)  # arrivals are to the second
    assert datetime.fromisoformat(evidence["arrived_at"]) >= since
    assert out["charges"]["verdicts"].get("merchant_suspended_late") == 1


def test_watch_rate_refuses_it_as_batch_rating_does(tmp_path: Path) -> None:
    home, inbox = _home(tmp_path, "online"), tmp_path / "inbox"
    _charge(inbox / "f1.jsonl", "r-early", EARLY)
    _invoke(home, "watch", str(inbox), "--rate", "--once", "--json", "--interval", "0")
    _suspend(home)  # while the watch keeps its gate: the next commit takes the suspension
    _charge(inbox / "f2.jsonl", "r-late", LATE)
    _invoke(home, "watch", str(inbox), "--rate", "--once", "--json", "--interval", "0")
    assert _verdicts(home) == EXPECTED
    # and a batch run over the same lake agrees
    _invoke(home, "rate", "--period", P)
    assert _verdicts(home) == EXPECTED
