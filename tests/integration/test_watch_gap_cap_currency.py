"""`fairtel watch --rate` tells subscribers of their roaming cap as it rates: one cap set in another currency than
its charges, with no exchange rate given, left every subscriber of the commit without their alerts ("rated, but
the alerts and welcome SMS of this commit were not sent: ... no rate"). That cap is now left unwatched, as `fairtel
assure` leaves it, with a note naming the line (masked), both currencies and the `--cap-rate` that converts them,
and everyone else is told."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings

runner = CliRunner()
A, B = "8613800000001", "8613800000002"
JST = timezone(timedelta(hours=9))


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _data(rid: str, msisdn: str, at: datetime, mib: int) -> str:
    return json.dumps({"record_id": rid, "msisdn": msisdn, "kind": "data", "started_at": at.isoformat(),
                       "bytes_down": mib * 1024 * 1024, "roaming_country": "JP"}) + "\n"


def _day() -> datetime:
    """A recent instant of the current month on Tokyo's clock (the caps in force are read at the commit's time)."""
    now = datetime.now(UTC)
    day = now - timedelta(hours=3)
    if day.month != now.month:
        day = now.replace(day=1, hour=0, minute=1, second=0, microsecond=0)
    return day.astimezone(JST)


def _home(tmp_path: Path, day: datetime) -> Path:
    """A's own roaming cap is 5.00 USD, B's 30.00 CNY, both set the day before; nothing rated yet."""
    op, home = tmp_path / "op", tmp_path / "h"
    op.mkdir()
    shutil.copy(default_catalog_path(), op / "catalog.toml")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,cq\n"
                                        f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n", encoding="utf-8")
    _ok("load", str(op), "--home", str(home), "--no-usage")
    from fairtel.store import RoamingCap
    from fairtel.store._schema import table_of

    fapp = bootstrap(load_settings(home=home))
    with fapp.db.begin() as conn:  # as PUT /me/roaming-cap writes it, A's with "currency": "USD"
        conn.execute(table_of(RoamingCap).insert(), [
            {"cap_id": "cap_a", "msisdn": A, "amount_minor": 500, "currency": "USD",
             "set_at": day - timedelta(days=1), "set_by": "sub"},
            {"cap_id": "cap_b", "msisdn": B, "amount_minor": 3000, "currency": "CNY",
             "set_at": day - timedelta(days=1), "set_by": "sub"},
        ])
    return home


def _outbox(home: Path) -> list[dict[str, str]]:
    path = home / "outbox" / "messages.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_watch_skips_a_cap_without_a_rate_with_a_note_and_alerts_everyone_else(tmp_path: Path) -> None:
    day = _day()
    home = _home(tmp_path, day)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # JP data at 2.00 CNY/MiB, at most 30.00 a day: A 4.00 CNY, B 30.00 CNY (all of B's cap)
    (inbox / "f1.jsonl").write_text(_data("a1", A, day, 2) + _data("b1", B, day, 20), encoding="utf-8")
    res = runner.invoke(app, ["watch", str(inbox), "--once", "--rate", "--welcome-after-days", "0", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "were not sent" not in res.output
    # B is told (one alert: the highest threshold crossed, the cap), A's cap is not watched
    shocks = [(m["msisdn"], m["kind"]) for m in _outbox(home) if m["kind"] != "roaming_welcome"]
    assert shocks == [(B, "cutoff")]  # at the cap
    notes = [line for line in res.output.splitlines() if "roaming cap of" in line]
    assert len(notes) == 1 and "86138****0001" in notes[0] and A not in res.output
    assert "the cap is in USD" in notes[0] and "charges in CNY" in notes[0]
    assert "--cap-rate USD=VALUE (VALUE: how many CNY one USD is worth)" in notes[0]

    # with the rate (5.00 USD x 3 = 15.00 CNY), A's next charge is watched: 14.00 CNY, past 80 % of the cap
    (inbox / "f2.jsonl").write_text(_data("a2", A, day + timedelta(minutes=1), 5), encoding="utf-8")
    res = runner.invoke(app, ["watch", str(inbox), "--once", "--rate", "--welcome-after-days", "0", "--cap-rate", "USD=3",
                              "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "roaming cap of" not in res.output
    assert sorted((m["msisdn"], m["kind"]) for m in _outbox(home) if m["kind"] != "roaming_welcome") == [
        (A, "bill_shock"), (B, "cutoff")]
