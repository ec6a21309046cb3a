"""`fairtel explain` prints the chain as text, not console markup: a catalog name holding square brackets
(a rule called “[peak] Domestic calls”) reaches the reader whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import Lake, import_subscribers, store_catalog

runner = CliRunner()
CN = timezone(timedelta(hours=8))
B = "8613800000002"


def _record(**kw: Any) -> dict[str, Any]:
    row = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": "b1", "source": "sw1", "msisdn": B, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, 2, 10, tzinfo=CN).astimezone(UTC), "parts": 1,
                  "incomplete": False, "duration_s": 61, "peer": "8613912345678"} | kw


def test_explain_text_keeps_square_brackets_of_a_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n", encoding="utf-8")
    text = default_catalog_path().read_text(encoding="utf-8")
    with bootstrap(load_settings(home=home)) as application, application.db.begin() as conn:
        store_catalog(conn, text.replace('en = "Domestic calls, peak"', 'en = "[peak] Domestic calls"'))
        import_subscribers(conn, subs)
    Lake(home / "lake").write("usage", "2026-03", pa.Table.from_pylist([_record()], schema=CLEAN_USAGE_SCHEMA), part="f0")
    assert runner.invoke(app, ["rate", "--period", "2026-03", "--home", str(home)]).exit_code == 0

    out = runner.invoke(app, ["explain", "b1", "--home", str(home), "--lang", "en"])
    assert out.exit_code == 0, out.output
    rule_line = next(line for line in out.stdout.splitlines() if line.strip().startswith("tariff rule: "))
    # the bracketed word is text, not console markup: it must not vanish
    assert "tariff rule: [peak] Domestic calls;" in rule_line, rule_line
