"""A record rated after its bill run and charged by a rerate does not hold the line's erasure back for ever.

Such a record is in no bill run's snapshot: the rerate's entry of the adjustments ledger charges it, and the next bill
carries the entry. It was counted as "rated and on no bill (held or late)" however long ago the entry was billed, so
the closed line could never be erased. While the entry waits for a bill, the entry itself holds the erasure back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli

GONE = "8613900000051"
runner = CliRunner()


def _ft(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_CONFIG": os.devnull})
    assert result.exit_code == 0, (result.output, repr(result.exception))
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _call(record_id: str, day: int) -> str:
    return json.dumps({"record_id": record_id, "source": "msc", "msisdn": GONE, "kind": "voice", "direction": "out",
                       "started_at": f"2026-09-{day:02d}T10:00:00+08:00", "duration_s": 600,
                       "peer": "8613811112222"}) + "\n"


def test_a_late_record_a_rerate_charged_and_a_bill_carried_lets_the_line_go(tmp_path: Path) -> None:
    op = tmp_path / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
        f"{GONE},c1,payg,2020-01-01T00:00:00+08:00,closed,zh,cq,2026-10-01T00:00:00+08:00\n", encoding="utf-8")
    (op / "usage" / "u.jsonl").write_text(_call("c-1", 5), encoding="utf-8")
    late = tmp_path / "late.jsonl"
    late.write_text(_call("c-2", 6), encoding="utf-8")
    home = tmp_path / "home"
    _ft(home, "load", str(op))
    _ft(home, "rate", "--period", "2026-09")
    assert _ft(home, "bill", "--period", "2026-09", "--issue")["bills"] == 1
    _ft(home, "ingest", str(late))
    _ft(home, "rate", "--period", "2026-09")
    _ft(home, "rerate", "--period", "2026-09")
    waiting = _ft(home, "privacy", "erase", GONE, "--plan")
    assert len(waiting["refused"]) == 1 and "adjustments no bill carries yet" in waiting["refused"][0]
    assert _ft(home, "bill", "--period", "2026-10", "--issue")["adjustments_carried"] == 1
    planned = _ft(home, "privacy", "erase", GONE, "--plan")
    assert planned["refused"] == [] and planned["erasable"] is True
