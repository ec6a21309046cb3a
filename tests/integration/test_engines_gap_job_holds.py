"""The Spark job (``python -m fairtel.engines._job rate``) given a register with the lines' states holds the usage of
a line made since its suspension, consent events or not. Before, without ``--consent`` it handed the kernel no gate,
so the register's suspensions never reached it and that usage was priced to be billed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

pytest.importorskip("pyspark")

from fairtel.catalog import default_catalog_path
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.engines._job import main
from fairtel.store import Lake

pytestmark = pytest.mark.slow
CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"


def _call(rid: str, msisdn: str, day: int) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": 120,
                  "peer": "8613912345678", "parts": 1, "incomplete": False}


def test_the_job_holds_usage_of_a_suspended_line_without_consent_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FAIRTEL_HOME", str(home))
    lake = Lake(home / "lake")
    lake.write("usage", P, pa.Table.from_pylist([_call("a-before", A, 5), _call("a-after", A, 20), _call("b-after", B, 20)],
                                                schema=CLEAN_USAGE_SCHEMA), part="f1")
    register = tmp_path / "subscribers.csv"
    register.write_text("msisdn,plan_id,activated_at,status,suspended_at\n"
                        f"{A},payg,2025-01-01T00:00:00+08:00,suspended,2026-03-15T12:00:00+08:00\n"
                        f"{B},payg,2025-01-01T00:00:00+08:00,active,\n", encoding="utf-8")
    assert main(["rate", "--period", P, "--lake", (home / "lake").resolve().as_uri(), "--catalog", str(default_catalog_path()),
                 "--subscribers", str(register)]) == 0
    capsys.readouterr()
    rated = pl.read_parquet(lake.files("rated", periods=[P])).select("record_id", "amount_minor", "verdict")
    by = {r: (a, v) for r, a, v in rated.iter_rows()}
    assert by["a-after"][1] == "line_suspended" and by["a-after"][0] > 0  # priced, held
    assert by["a-before"][1] is None and by["b-after"][1] is None
