"""`fairtel assure` over a home: the complaints stored in the home feed the merchant ranking (before, the home run
passed none, and every provider's complaint rate was 0 while an operator directory with the same complaints
scored them), and a suspended line whose register does not say since when is not taken as suspended for all time
(noted), as over an operator directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as fairtel
from fairtel.cli._assure import _from_home
from fairtel.cli._care import import_complaints
from fairtel.core.settings import load_settings
from fairtel.store import Subscriber, import_subscribers, store_catalog
from fairtel.store._schema import table_of

runner = CliRunner()
A, B, C = "8613800000001", "8613800000002", "8613800000003"


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at,
                       "channel": "sms", "evidence": f"{sub}-{event}"})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A subscribed to sp-pixelart's wallpapers and complained of a charge; B to sp-melody's music, and complained
    of the network only; C to sp-melody too, its line suspended."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{C},c3,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh\n", encoding="utf-8")
    complaints = tmp_path / "complaints.jsonl"
    complaints.write_text("\n".join(json.dumps(c) for c in [
        {"complaint_id": "cmp-1", "msisdn": A, "at": "2026-09-05T10:00:00+08:00", "category": "vas", "channel": "app",
         "text": "话费里多了一笔精美壁纸的费用3.00元"},
        {"complaint_id": "cmp-2", "msisdn": B, "at": "2026-09-05T11:00:00+08:00", "category": "network",
         "channel": "hotline", "text": "信号差"},
    ]) + "\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 3
    import_complaints(app, complaints)
    (home / "consent").mkdir()
    (home / "consent" / "events.jsonl").write_text("\n".join([
        _event("ordered", "s1", A, "vas-wallpaper-3", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s1", A, "vas-wallpaper-3", "2026-09-01T10:02:00+08:00"),
        _event("ordered", "s2", B, "vas-music-10", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s2", B, "vas-music-10", "2026-09-01T10:02:00+08:00"),
        _event("ordered", "s3", C, "vas-music-10", "2026-09-01T10:00:00+08:00"),
        _event("confirmed", "s3", C, "vas-music-10", "2026-09-01T10:02:00+08:00"),
    ]) + "\n", encoding="utf-8")
    app.close()
    return home


def test_the_home_complaints_feed_the_merchant_ranking(home: Path) -> None:
    result = runner.invoke(fairtel, ["assure", "--home", str(home), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    ranking = {m["provider_id"]: m for m in json.loads(result.stdout)["merchants"]}
    assert ranking["sp-pixelart"]["complaints"] == 1  # A's charge complaint, by its number
    assert ranking["sp-pixelart"]["complaint_rate"] == 1.0
    assert ranking["sp-melody"]["complaints"] == 0  # B's complaint is of the network


def test_a_home_without_complaints_says_the_signal_is_missing(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    bootstrap(load_settings(home=home)).close()
    result = runner.invoke(fairtel, ["assure", "--home", str(home), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    assert any("no complaints stored" in n for n in json.loads(result.stdout)["notes"])


def test_an_undated_suspension_in_the_home_is_not_checked(home: Path) -> None:
    """The register import dates a suspension it learns; a line suspended before the register kept the date has
    none: its suspension restricts no charge in `fairtel assure` (said in the notes)."""
    app = bootstrap(load_settings(home=home))
    try:
        inputs = _from_home(home, app.settings.lake_dir, catalog=None, fapp=app)
        assert inputs.lines is not None
        assert dict(inputs.lines.select("msisdn", "status").iter_rows())[C] == "suspended"  # dated by the import
        s = table_of(Subscriber)
        with app.db.begin() as conn:
            conn.execute(update(s).where(s.c.msisdn == C).values(suspended_at=None))
        inputs = _from_home(home, app.settings.lake_dir, catalog=None, fapp=app)
        assert inputs.lines is not None
        assert dict(inputs.lines.select("msisdn", "status").iter_rows())[C] == "active"
        assert any("1 suspended line(s) without suspended_at" in n for n in inputs.notes), inputs.notes
    finally:
        app.close()
