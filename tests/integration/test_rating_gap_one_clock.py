"""One clock decides a record's billing period. Mediation files usage under periods on FAIRTEL_TIMEZONE's clock, rating
and billing read them on the catalog's ``[operator] timezone``. With a catalog on London and the default Shanghai
setting, a call at 2026-03-31T20:00Z was filed under April and rated under neither month: `rate --period 2026-03` rated
nothing, `rate --period 2026-04` failed ("1 record(s) outside period 2026-04") and April could not be billed. `fairtel
load` gave no warning. Now load refuses such a catalog naming both clocks, and rate, bill and rerate refuse one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app as fairtel
from fairtel.core.settings import load_settings

runner = CliRunner()
SHANGHAI = 'timezone = "Asia/Shanghai"'


def _operator(tmp_path: Path, timezone: str) -> Path:
    text = default_catalog_path().read_text(encoding="utf-8")
    assert text.count(SHANGHAI) == 1
    op = tmp_path / "op"
    (op / "usage").mkdir(parents=True)
    (op / "catalog.toml").write_text(text.replace(SHANGHAI, f'timezone = "{timezone}"'), encoding="utf-8")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        "447700900001,C1,payg,2025-01-01T00:00:00+00:00,active,en,L\n", encoding="utf-8")
    (op / "usage" / "u.csv").write_text(
        "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
        "L1,447700900001,voice,out,2026-03-31T20:00:00+00:00,60,8613912345678\n"  # 21:00 in London, 04:00 1 April in Shanghai
        "L2,447700900001,voice,out,2026-04-15T12:00:00+00:00,60,8613912345678\n", encoding="utf-8")
    return op


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(fairtel, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_load_refuses_a_catalog_on_another_clock_and_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_TIMEZONE", raising=False)
    home = tmp_path / "h"
    code, out = _run("load", str(_operator(tmp_path, "Europe/London")), "--home", str(home))
    assert code == 2 and out["error"]["code"] == "catalog_invalid"
    (problem,) = out["error"]["details"]["problems"]
    assert "Europe/London" in problem and "Asia/Shanghai" in problem and "FAIRTEL_TIMEZONE" in problem
    assert "catalog.toml:10 [operator.timezone]" in problem  # the file's line and field
    assert not (home / "lake" / "usage").exists()  # nothing ingested under the wrong clock's periods
    code, shown = _run("catalog", "show", "--home", str(home))
    assert code == 0 and shown["timezone"] == "Asia/Shanghai"  # no catalog stored: the demo one


def test_on_one_clock_the_month_end_call_is_rated_and_billed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Europe/London")
    home = tmp_path / "h"
    code, out = _run("load", str(_operator(tmp_path, "Europe/London")), "--home", str(home))
    assert code == 0, out
    assert sorted(p.name for p in (home / "lake" / "usage").iterdir()) == ["period=2026-03", "period=2026-04"]
    for period in ("2026-03", "2026-04"):
        code, rated = _run("rate", "--period", period, "--home", str(home))
        assert code == 0 and rated["records"] == 1 and rated["unrated"] == 0, rated
    code, bills = _run("bill", "--period", "2026-04", "--issue", "--home", str(home))
    assert code == 0 and bills["bills"] == 1


def test_rate_bill_and_rerate_refuse_a_catalog_on_another_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Europe/London")
    home = tmp_path / "h"
    assert _run("load", str(_operator(tmp_path, "Europe/London")), "--home", str(home))[0] == 0
    shanghai = str(default_catalog_path())
    for args in (("rate", "--period", "2026-03"), ("bill", "--period", "2026-03"), ("rerate", "--period", "2026-03")):
        code, out = _run(*args, "--home", str(home), "--catalog", shanghai)
        assert code == 2 and out["error"]["code"] == "config_invalid", (args, out)
        assert "Asia/Shanghai" in out["error"]["message"] and "Europe/London" in out["error"]["message"]
    # the home's own catalog, on the settings' clock, is fine
    assert _run("rate", "--period", "2026-03", "--home", str(home))[0] == 0


def test_two_names_of_one_zone_are_one_clock() -> None:
    from fairtel.core.settings import same_clock

    assert same_clock("UTC", "Etc/UTC") and same_clock("Asia/Shanghai", "Asia/Shanghai")
    assert not same_clock("Asia/Shanghai", "Europe/London")
    assert not same_clock("Europe/London", "UTC")  # summer time: another period boundary half the year
    assert load_settings(timezone="UTC").clock_mismatch("Etc/UTC") is None
    why = load_settings(timezone="Asia/Shanghai").clock_mismatch("Europe/London")
    assert why is not None and "FAIRTEL_TIMEZONE=Europe/London" in why
