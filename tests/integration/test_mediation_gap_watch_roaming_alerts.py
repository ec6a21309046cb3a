"""`fairtel watch --rate` tells roaming subscribers as their usage is rated: the alerts at 80 % and 100 % of the
roaming cap they set come with the commit that crossed them (in their language, 80 % first, once: a later
`fairtel assure` sends them again under no other id), and the first roaming record of a trip brings the welcome SMS
with the country's roaming prices for the plan, recorded where the roaming-without-welcome check reads it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings

runner = CliRunner()
A, B = "8613800000001", "8613800000002"


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _data(rid: str, msisdn: str, at: datetime, mib: int, country: str = "JP") -> str:
    return json.dumps({"record_id": rid, "msisdn": msisdn, "kind": "data", "started_at": at.isoformat(),
                       "bytes_down": mib * 1024 * 1024, "roaming_country": country}) + "\n"


def _outbox(home: Path) -> list[dict[str, Any]]:
    path = home / "outbox" / "messages.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _home(tmp_path: Path, start: datetime, *, caps: bool = True) -> tuple[Path, Path]:
    op, home, inbox = tmp_path / "op", tmp_path / "h", tmp_path / "inbox"
    op.mkdir()
    shutil.copy(default_catalog_path(), op / "catalog.toml")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,cq\n"
                                        f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n", encoding="utf-8")
    _ok("load", str(op), "--home", str(home), "--no-usage")
    from fairtel.store import RoamingCap
    from fairtel.store._schema import table_of

    fapp = bootstrap(load_settings(home=home))
    if caps:
        with fapp.db.begin() as conn:  # as PUT /me/roaming-cap writes it: 50.00 CNY each
            conn.execute(table_of(RoamingCap).insert(), [
                {"cap_id": f"cap_{m[-1]}", "msisdn": m, "amount_minor": 5000, "currency": "CNY",
                 "set_at": start - timedelta(days=1), "set_by": "sub"} for m in (A, B)])
    inbox.mkdir()
    return home, inbox


def _feed(home: Path, inbox: Path, name: str, text: str, *options: str) -> None:
    (inbox / name).write_text(text, encoding="utf-8")
    _ok("watch", str(inbox), "--once", "--rate", "--home", str(home), *options)


def _start() -> datetime:
    """Recent instants in the current month (the welcome notice is judged against them)."""
    now = datetime.now(UTC)
    start = now - timedelta(hours=3)
    if start.month != now.month:  # keep the day's usage in one month
        start = now.replace(day=1, hour=0, minute=1, second=0, microsecond=0)
    return start


def test_cap_alerts_come_with_the_commit_that_crossed_them_once_and_in_order(tmp_path: Path) -> None:
    day = [datetime(2026, 10, d, 14, tzinfo=timezone(timedelta(hours=9))) for d in (10, 11, 12)]
    home, inbox = _home(tmp_path, day[0])
    # JP data: 2.00 CNY/MiB, at most 30.00 a day; both capped at 50.00 CNY (80 %: 40.00)
    _feed(home, inbox, "f1.jsonl", _data("a1", A, day[0], 10) + _data("b1", B, day[0], 20))  # A 20.00, B 30.00
    assert not [m for m in _outbox(home) if m["kind"] in ("bill_shock", "cutoff")]
    _feed(home, inbox, "f2.jsonl", _data("a2", A, day[1], 10))  # A 40.00: 80 %
    shock = [m for m in _outbox(home) if m["kind"] in ("bill_shock", "cutoff")]
    assert [(m["msisdn"], m["kind"], m["language"]) for m in shock] == [(A, "bill_shock", "zh")]
    assert "80%" in shock[0]["text"] and "50.00元" in shock[0]["text"]
    # A 50.00: the cap; B 60.00 by one charge past 80 % and the cap: the cap alone is told
    _feed(home, inbox, "f3.jsonl", _data("a3", A, day[2], 5) + _data("b2", B, day[1], 20))
    shock = [m for m in _outbox(home) if m["kind"] in ("bill_shock", "cutoff")]
    assert [(m["msisdn"], m["kind"], m["language"]) for m in shock] == [
        (A, "bill_shock", "zh"), (A, "cutoff", "zh"), (B, "cutoff", "en")]

    # the assure run later finds the same crossings: nothing told twice
    before = len(_outbox(home))
    _ok("assure", "--home", str(home), "--json")
    after = [m for m in _outbox(home)[before:] if m["kind"] in ("bill_shock", "cutoff")]
    assert after == [], after


def test_a_preset_given_to_the_watch_alerts_as_assure_would(tmp_path: Path) -> None:
    day = [datetime(2026, 10, d, 12, tzinfo=UTC) for d in range(1, 9)]
    home, inbox = _home(tmp_path, day[0], caps=False)
    eu = ("--bill-shock", "eu_data_roaming", "--cap-rate", "CNY=0.125", "--welcome-after-days", "0")
    # France data, 100 MiB a day: 60.00 CNY a day (the day cap); the EU cap 50 EUR = 400.00 CNY, 80 %: 320.00
    _feed(home, inbox, "f1.jsonl", "".join(_data(f"fr{i}", A, day[i], 100, "FR") for i in range(5)), *eu)  # 300.00
    assert _outbox(home) == []
    _feed(home, inbox, "f2.jsonl", _data("fr5", A, day[5], 100, "FR"), *eu)  # 360.00: 80 %
    _feed(home, inbox, "f3.jsonl", _data("fr6", A, day[6], 100, "FR"), *eu)  # 420.00: the cap
    assert [m["kind"] for m in _outbox(home)] == ["bill_shock", "cutoff"]
    before = len(_outbox(home))
    _ok("assure", "--home", str(home), "--bill-shock", "eu_data_roaming", "--rate", "CNY=0.125", "--json")
    assert [m for m in _outbox(home)[before:] if m["kind"] in ("bill_shock", "cutoff")] == []


def test_the_first_roaming_record_of_a_trip_brings_the_welcome_prices_once(tmp_path: Path) -> None:
    start = _start()
    home, inbox = _home(tmp_path, start)
    _feed(home, inbox, "f1.jsonl", _data("a1", A, start, 1) + _data("a2", A, start + timedelta(minutes=5), 1)
          + _data("b1", B, start + timedelta(minutes=2), 1))
    welcome = [m for m in _outbox(home) if m["kind"] == "roaming_welcome"]
    assert [(m["msisdn"], m["language"]) for m in welcome] == [(A, "zh"), (B, "en")]
    zh, en = welcome[0]["text"], welcome[1]["text"]
    # JP (roam-2) under basic-39: calls 1.99/min, SMS 0.79, data 2.00/MiB, at most 30.00 a day
    for amount in ("1.99", "0.79", "2.00", "30.00"):
        assert amount in zh and amount in en, (zh, en)
    assert "welcome to Japan" in en and "欢迎来到日本" in zh and "per" not in zh  # the country by name, not JP
    # more usage on the same trip, and the same file again: no second notice
    _feed(home, inbox, "f2.jsonl", _data("a3", A, start + timedelta(minutes=30), 1))
    assert len([m for m in _outbox(home) if m["kind"] == "roaming_welcome"]) == 2
    notices = [json.loads(x) for x in (home / "notices" / "welcome.jsonl").read_text().splitlines()]
    assert sorted((n["msisdn"], n["country"]) for n in notices) == [(A, "JP"), (B, "JP")]
    # read as the roaming-without-welcome check reads notices: these trips were told
    from fairtel.assurance._roaming import TRIP_GAP, welcome_findings
    from fairtel.cli._assure import _notices

    told = _notices([home / "notices" / "welcome.jsonl"])
    assert told is not None
    usage = pl.DataFrame({"record_id": ["a1", "a2", "b1"], "msisdn": [A, A, B],
                          "started_at": [start, start + timedelta(minutes=5), start + timedelta(minutes=2)],
                          "roaming_country": ["JP"] * 3})
    assert welcome_findings(usage, told, detected_at=start, trip_gap=TRIP_GAP, grace=timedelta(hours=4)) == []
    # another country: another notice
    _feed(home, inbox, "f3.jsonl", _data("a4", A, start + timedelta(hours=1), 1, "KR"))
    assert [m["msisdn"] for m in _outbox(home) if m["kind"] == "roaming_welcome"] == [A, B, A]


def test_a_trip_starts_again_after_the_gap(tmp_path: Path) -> None:
    from fairtel.assurance._roaming import welcome_findings

    t0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
    usage = pl.DataFrame({"record_id": ["r1", "h1", "r2", "r3"], "msisdn": [A] * 4,
                          "started_at": [t0, t0 + timedelta(days=1), t0 + timedelta(days=2), t0 + timedelta(days=20)],
                          "roaming_country": ["JP", None, "JP", "JP"]})
    notices = pl.DataFrame({"msisdn": [A], "country": ["JP"], "sent_at": [t0 + timedelta(minutes=1)]})
    # a trip: back home for a day is the same trip; 18 days later is another one, told nothing
    found = welcome_findings(usage, notices, detected_at=t0, trip_gap=timedelta(days=7))
    assert [f.evidence["visit_started_at"] for f in found] == [(t0 + timedelta(days=20)).isoformat()]
    assert found[0].record_ids == ("r3",)
    # without trips, the return from home is a visit of its own (and r3 belongs to it)
    plain = welcome_findings(usage, notices, detected_at=t0)
    assert [f.evidence["visit_started_at"] for f in plain] == [(t0 + timedelta(days=2)).isoformat()]
