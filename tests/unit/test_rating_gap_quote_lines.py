"""`fairtel quote` lists a record's lines in order, names the rules in that order and gives each line the offset of
its own usage: a call from 22:58 crossing into the off-peak band, its peak piece partly from the allowance, came out
as lines 2, 0, 1, rule "…voice-off+…voice-peak" and its charged rest at offset 0.

It also prices with the home's current catalog when a home is given (``--home``, ``FAIRTEL_HOME``), as every other
command does (docs/catalog.md); it used the demo catalog whatever the home, and says so on stderr when it falls
back to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, parse_catalog
from fairtel.cli import app as fairtel
from fairtel.core.settings import load_settings
from fairtel.rating import quote
from fairtel.store import store_catalog

runner = CliRunner()
_PEAK = '''[[plans.rules]]
id = "senior-19/voice-domestic"
name = { zh = "国内主叫", en = "Domestic calls" }
kind = "voice"
directions = "out"
zones = ["domestic"]
rate = "voice-dom-015"
'''
# senior-19's domestic calls priced by band: peak 0.19, off-peak 0.12 a minute; its 100 minutes shared
_BANDED = '''[[plans.rules]]
id = "senior-19/voice-offpeak"
name = { zh = "国内主叫（闲时）", en = "Domestic calls, off-peak" }
kind = "voice"
directions = "out"
zones = ["domestic"]
bands = ["offpeak"]
rate = "voice-dom-payg-offpeak"

[[plans.rules]]
id = "senior-19/voice-peak"
name = { zh = "国内主叫（忙时）", en = "Domestic calls, peak" }
kind = "voice"
directions = "out"
zones = ["domestic"]
rate = "voice-dom-payg-peak"
'''
TEXT = default_catalog_path().read_text(encoding="utf-8")
assert _PEAK in TEXT
BANDED, _ = parse_catalog(TEXT.replace(_PEAK, _BANDED))
CALL = {"record_id": "q", "plan_id": "senior-19", "kind": "voice", "direction": "out",
        "started_at": "2026-03-03T22:58:00+08:00", "duration_s": 300, "peer": "8613912345678",
        "allowance_used": {"senior-19/voice": 5940}}  # one minute left


def test_lines_in_order_with_the_offset_of_their_own_usage() -> None:
    assert BANDED is not None
    (out,) = quote([CALL], BANDED)
    lines = [(ln["line"], ln["rule_id"], ln["allowance_id"], ln["offset"], ln["quantity"], ln["amount"]) for ln in out["lines"]]
    assert lines == [
        (0, "senior-19/voice-peak", "senior-19/voice", 0, 60, "0.00"),  # 22:58, the last allowance minute
        (1, "senior-19/voice-peak", None, 60, 60, "0.19"),  # 22:59, charged: after the minute the allowance covered
        (2, "senior-19/voice-offpeak", None, 120, 180, "0.36"),  # from 23:00, off-peak
    ]
    assert out["rule"] == "senior-19/voice-peak+senior-19/voice-offpeak"  # the call starts in peak
    assert out["amount"] == "0.55"


def _home_with(tmp_path: Path, text: str) -> Path:
    home = tmp_path / "home"
    with bootstrap(load_settings(home=home)) as app, app.db.begin() as conn:
        store_catalog(conn, text)
    return home


RECORD = json.dumps({"record_id": "q1", "kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00",
                     "duration_s": 95, "peer": "85261234567"})


def _quoted(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    result = runner.invoke(fairtel, [*args, "quote"], input=RECORD, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0], result.stderr


def test_quote_prices_with_the_homes_current_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home_with(tmp_path, TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"'))
    monkeypatch.delenv("FAIRTEL_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./var here
    demo, said = _quoted()
    assert demo["amount"] == "3.00" and "demo catalog" in said  # no home: the demo catalog, said on stderr
    stored, said = _quoted("--home", str(home))
    assert stored["amount"] == "2.40" and stored["rule"] == "intl/voice-intl-1" and said == ""
    from_env, said = _quoted(env={"FAIRTEL_HOME": str(home)})
    assert from_env["amount"] == "2.40" and said == ""
    assert not (tmp_path / "var").exists()  # a quote creates no home


def test_a_home_without_a_catalog_falls_back_and_says_so(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    bootstrap(load_settings(home=home)).close()
    (home / "fairtel.db").touch()
    out, said = _quoted("--home", str(home))
    assert out["amount"] == "3.00" and "no catalog loaded in the home" in said
