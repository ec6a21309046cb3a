"""`fairtel synth` then `fairtel load` reaches the generator's own ground truth: every well-formed record it
wrote is accepted (``expected_clean``), no partial part is refused as ``late_part`` (a switch writes each part in
the file open at the part's time, a resend comes after what it repeats, a gateway's files arrive in time order),
and the partial sessions, across files and chunks of subscribers, are stitched one record each."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.synth import synthesize

runner = CliRunner()


def test_synth_and_load_reach_expected_clean(tmp_path: Path) -> None:
    # two chunks of subscribers and three weekly Parquet files each: sessions across files and chunks
    s = synthesize(tmp_path / "op", subscribers=160, days=17, seed=7, chunk_subscribers=80)
    home = tmp_path / "home"
    result = runner.invoke(app, ["load", str(tmp_path / "op"), "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["usage"]["files"]
    reasons: dict[str, int] = {}
    for f in files:
        for reason, n in f["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    assert "late_part" not in reasons and "conflicting_part" not in reasons, reasons
    assert sum(f["accepted"] for f in files) == s.expected_clean
    assert sum(f["duplicate"] for f in files) == s.duplicates
    assert sum(f["rejected"] for f in files) == s.malformed

    flushed = runner.invoke(app, ["ingest", "--flush-partials", "--json", "--home", str(home)])
    assert flushed.exit_code == 0, flushed.output
    lake = pl.read_parquet(sorted((home / "lake" / "usage").rglob("*.parquet")))
    truth = [json.loads(line) for line in (tmp_path / "op" / "truth" / "partial_sessions.jsonl").read_text().splitlines()]
    assert len(truth) > 20 and s.partial_parts == sum(len(t["record_ids"]) for t in truth)
    # each session one record: its parts less one fewer than what was accepted
    assert lake.height == s.expected_clean - s.partial_parts + len(truth)
    stitched = {r["session_id"]: r for r in lake.filter(pl.col("session_id").is_not_null()).iter_rows(named=True)}
    assert set(stitched) == {t["session_id"] for t in truth}
    for t in truth:
        got = stitched[t["session_id"]]
        assert (got["parts"], got["incomplete"], got["source"]) == (len(t["record_ids"]), not t["complete"], t["source"])
    across = [t for t in truth if t["across_files"]]
    assert across and all(stitched[t["session_id"]]["parts"] == len(t["record_ids"]) > 1 for t in across)
    assert len({t["source"] for t in truth}) == 4  # each chunk's two data gateways
