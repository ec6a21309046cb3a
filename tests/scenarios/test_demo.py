"""`fairtel demo` end to end on a small operator: every stage that exists runs, and what it reports agrees
with the synthesiser's own account of what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app


def test_small_demo_runs_every_stage(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "home"), "--subscribers", "120",
                                      "--days", "5", "--seed", "11", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    stages = {s["stage"]: s for s in summary["stages"]}
    assert stages["synthesise"]["status"] == "done"
    load = stages["load + mediation"]
    assert load["status"] == "done", load
    figures = load["figures"]
    assert figures["subscribers"] == 120
    assert figures["read"] == figures["accepted"] + figures["rejected"] + figures["duplicate"]
    synth = json.loads((tmp_path / "home" / "demo-operator" / "synth.json").read_text())
    assert figures["read"] == synth["usage_records"]
    assert figures["duplicate"] >= synth["duplicates"]  # injected duplicates are all recognised
    assert stages["bill"]["figures"]["bills issued"] == 120
    assert stages["rate"]["figures"]["unrated"] == 0
    rated, records = stages["rate"]["figures"]["rated online within 60 s of arrival"].split("/")
    assert int(records) == stages["rate"]["figures"]["records"] and 0 <= int(rated) <= int(records)
    care = stages["care + KPIs"]["figures"]
    assert care["NPS answers imported"] == synth["surveys"] > 0
    assert care["NPS"] is not None
    assert [s["stage"] for s in summary["stages"] if s["status"] != "done"] == []
    assert (tmp_path / "home" / "demo-logins.txt").stat().st_mode & 0o077 == 0  # passwords: owner only
