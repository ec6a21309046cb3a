"""`fairtel kpi --json` `.charges`: the amount at stake is never added across currencies, nor does it silently drop a
finding in another currency (a USD charge against a CNY offer); and the findings are split by what became of their
charges: billed unconsented (an issued bill charged it) apart from blocked (the consent gate refused it, never billed).

Before: `amount_at_stake` summed the operator's currency alone with no word of the USD finding, and counted the charges
the gate refused and never billed as money at stake beside the one a bill took."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.kpi import FindingFact, charge_figures
from fairtel.store import import_consent_events, import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A = "8613800000001"
P = "2026-03"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _json(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["--home", str(home), *args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _events(path: Path, *rows: tuple[str, str, str]) -> Path:
    path.write_text("".join(json.dumps({"event": e, "subscription_id": "s1", "msisdn": A, "offer_id": "vas-music-10",
                                        "at": at, "channel": "sms", "evidence": evidence}) + "\n"
                            for e, at, evidence in rows), encoding="utf-8")
    return path


def _vas(rid: str, offer: str, minor: int, currency: str, at: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "spgw", "msisdn": A, "kind": "vas", "offer_id": offer,
                  "amount_minor": minor, "currency": currency, "started_at": at, "parts": 1, "incomplete": False}


def test_kpi_reports_every_currency_and_tells_billed_from_blocked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 1
        assert import_consent_events(conn, _events(tmp_path / "c1.jsonl",
                                                   ("ordered", "2026-02-25T10:00:00+08:00", "o"),
                                                   ("confirmed", "2026-02-25T10:05:00+08:00", "c"))).accepted == 2
    rows = [
        _vas("paid", "vas-music-10", 1000, "CNY", datetime(2026, 3, 2, 9, tzinfo=CN)),  # consented, then billed
        _vas("nosub", "vas-video-15", 1500, "CNY", datetime(2026, 3, 3, 9, tzinfo=CN)),  # no subscription: blocked
        _vas("usd", "vas-music-10", 1000, "USD", datetime(2026, 3, 4, 9, tzinfo=CN)),  # price mismatch (then after the cancellation): blocked
    ]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    _json(home, "rate", "--period", P)
    _json(home, "bill", "--period", P, "--issue")
    # learnt after the bill: the subscriber had cancelled before the billed charge, so the bill took it unconsented
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        assert import_consent_events(conn, _events(tmp_path / "c2.jsonl",
                                                   ("cancelled", "2026-03-01T09:00:00+08:00", "x"))).accepted == 1
    app.close()
    found = _json(home, "assure")["findings"]
    assert sorted((f["kind"], f["record_ids"][0]) for f in found) == [
        ("charge_after_cancellation", "paid"), ("charge_after_cancellation", "usd"), ("unconsented_charge", "nosub")], found

    report = _json(home, "kpi", "--period", P)
    charges = report["charges"]
    assert charges["unexplained_findings"] == 3
    assert charges["amounts_at_stake"] == {"CNY": "25.00", "USD": "10.00"}
    assert charges["billed"] == {"findings": 1, "amounts": {"CNY": "10.00"}}
    assert charges["blocked"] == {"findings": 2, "amounts": {"CNY": "15.00", "USD": "10.00"}}
    assert charges["not_billed_yet"] == {"findings": 0, "amounts": {"CNY": "0.00"}}
    assert any("10.00 USD" in n for n in report["notes"]), report["notes"]

    shown = runner.invoke(cli, ["--home", str(home), "kpi", "--period", P])
    assert shown.exit_code == 0, shown.output
    assert "25.00 CNY + 10.00 USD at stake" in shown.output and "billed unconsented" in shown.output


def test_charge_figures_keep_currencies_apart() -> None:
    figures = charge_figures([FindingFact("unconsented_charge", 600, "CNY", billed=True),
                              FindingFact("price_mismatch", 1000, "USD", billed=False),
                              FindingFact("duplicate_charge", 500, None, count=2)], (), "CNY")
    assert figures["amount_at_stake"] == "11.00"
    assert figures["amounts_at_stake"] == {"CNY": "11.00", "USD": "10.00"}
    assert figures["billed"]["amounts"] == {"CNY": "6.00"} and figures["blocked"]["amounts"] == {"CNY": "0.00", "USD": "10.00"}
    assert figures["not_billed_yet"] == {"findings": 2, "amounts": {"CNY": "5.00"}}
