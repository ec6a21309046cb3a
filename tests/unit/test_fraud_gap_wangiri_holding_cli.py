"""``fairtel fraud detect`` after an owner change: a line a Wangiri number rang before it changed hands gets no
warning SMS (its new customer was not rung), and the summary counts that ring of the previous customer, who
cannot be reached, instead of dropping it silently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import Lake, import_subscribers

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 9, 7, tzinfo=SH)
PERIOD = "2026-09"
WANGIRI = "371298765432"
TARGETS = [f"86139{100 + k:08d}" for k in range(12)]
GONE = TARGETS[3]  # rung on 7 September, moved to another customer on the 15th
_ids = count()
runner = CliRunner()


def _ring(msisdn: str, at: datetime, dur: int) -> dict[str, Any]:
    return {"record_id": f"c{next(_ids):08d}", "source": "test", "msisdn": msisdn, "kind": "voice", "direction": "in",
            "started_at": at.astimezone(UTC), "duration_s": dur, "peer": WANGIRI, "cell_id": "460-00-20161",
            "imei": f"35{msisdn[-12:]}"}


def _register(path: Path, moved: bool) -> Path:
    lines = []
    for i, m in enumerate(TARGETS):
        customer, since = (f"c{i}", "")
        if moved and m == GONE:
            customer, since = "c-new", "2026-09-15T09:00:00+08:00"
        lines.append(f"{m},{customer},payg,2025-01-01T00:00:00+08:00,active,zh,sh,{since}\n")
    path.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n" + "".join(lines),
                    encoding="utf-8")
    return path


def test_detect_warns_no_new_customer_about_the_previous_customers_ring_and_counts_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rows = [_ring(m, MONDAY + timedelta(hours=2, minutes=k), k % 3) for k, m in enumerate(TARGETS)]
    frame = pl.DataFrame(rows)
    schema = {f.name: f.type for f in CLEAN_USAGE_SCHEMA}
    table = frame.with_columns(pl.lit(None).alias(n) for n in schema if n not in frame.columns).select(list(schema))
    Lake(home / "lake").write("usage", PERIOD, pl.from_arrow(table.to_arrow().cast(CLEAN_USAGE_SCHEMA)).to_arrow(),
                              part="t1")
    fapp: App = bootstrap(load_settings(home=home))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "before.csv", moved=False))
    with fapp, fapp.db.begin() as conn:
        import_subscribers(conn, _register(tmp_path / "after.csv", moved=True))

    out = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    sent = [json.loads(line) for line in (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(m["msisdn"] for m in sent) == sorted(set(TARGETS) - {GONE})
    assert summary["wangiri_warnings_sent"] == len(TARGETS) - 1
    assert summary["wangiri_previous_holders_not_warned"] == 1

    text = runner.invoke(app, ["fraud", "detect", "--home", str(home)])
    assert "1 ring(s) of a line's previous customer not warned" in " ".join(text.output.split())
