"""An operator directory's ``subscribers.csv`` read for the churn warning: every instant column is a timestamp
(``closed_at`` and ``suspended_at`` too, empty as null), so ``churn warn --dir`` runs on a synthesised operator,
whose register has closed lines; a value that is no RFC 3339 instant is named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from fairtel.cli._insight import register
from fairtel.core.errors import InvalidInputError
from fairtel.insight._sources import read_subscribers_csv
from fairtel.synth import synthesize

runner = CliRunner()


def test_churn_warn_runs_on_a_synthesised_operator(tmp_path: Path) -> None:
    op = tmp_path / "op"
    synthesize(op, subscribers=400, days=90, seed=7, workers=1)
    closed = pl.read_csv(op / "subscribers.csv", infer_schema=False).filter(pl.col("closed_at").is_not_null())
    assert closed.height  # the register has closed lines, with their closed_at
    app = typer.Typer()
    register(app)
    home = tmp_path / "home"
    res = runner.invoke(app, ["churn", "warn", "--dir", str(op), "--home", str(home), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["scored"] > 300 and len(doc["top"]) == 3
    assert (home / "outbox" / "retention.csv").is_file()


def test_instants_are_read_in_utc_and_empty_ones_are_null(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("msisdn,status,activated_at,closed_at,suspended_at\n"
                    "8613800000001,active,2025-01-01T08:00:00+08:00,,\n"
                    "8613800000002,closed,2025-01-01 00:00:00Z,2026-03-01T00:00:00.5-05:00,\n"
                    "8613800000003,suspended,2025-01-01T00:00:00+00:00, ,2026-02-01T00:00:00+08:00\n", encoding="utf-8")
    frame = read_subscribers_csv(path)
    for col in ("activated_at", "closed_at", "suspended_at"):
        assert frame.schema[col] == pl.Datetime("us", "UTC")
    assert [str(v) for v in frame["activated_at"]] == ["2025-01-01 00:00:00+00:00"] * 3
    assert [None if v is None else v.isoformat() for v in frame["closed_at"]] == [
        None, "2026-03-01T05:00:00.500000+00:00", None]
    assert frame["suspended_at"].null_count() == 2


def test_a_bad_instant_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("msisdn,status,activated_at,closed_at\n"
                    "8613800000001,active,2025-01-01T08:00:00+08:00,\n"
                    "8613800000002,closed,2025-01-01T00:00:00,2026-02-30T00:00:00+08:00\n"
                    "8613800000003,closed,,soon\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        read_subscribers_csv(path)
    said = [(p.line, p.field, p.code) for p in info.value.problems]
    assert said == [(3, "activated_at", "bad_timestamp"), (3, "closed_at", "bad_timestamp"),
                    (4, "activated_at", "missing_field"), (4, "closed_at", "bad_timestamp")]
    assert all(p.file == str(path) for p in info.value.problems)
    assert "offset" in info.value.problems[0].message  # a time without its offset is refused, not taken as UTC
