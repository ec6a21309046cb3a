"""`fairtel churn warn` hands out no retention offer to a line whose subscriber refused marketing based on automated
profiling (PIPL Art. 24): its outbox list leaves the line out and says how many were, while the lake keeps every
scored line for the churn figures; `fairtel churn retention` leaves out a line that refused since the list was
written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import typer
from sqlalchemy import select
from test_churn_warning import operator
from typer.testing import CliRunner

from fairtel.api._marketing import PREFERENCES
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as fairtel_app
from fairtel.cli._insight import register
from fairtel.core.settings import load_settings
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

runner = CliRunner()
LINES = ("8613800138000", "8613900139000")
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _refuse(home: Path, msisdn: str) -> None:
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin() as conn:
        conn.execute(PREFERENCES.insert().values(pref_id="mkt_1", msisdn=msisdn, opted_out=True, changed_at=AT,
                                                 channel="phone", source="agent", changed_by="agent1"))


def test_the_retention_list_read_back_leaves_out_a_line_that_refused_since(tmp_path: Path) -> None:
    home = tmp_path / "home"
    listing = tmp_path / "retention.csv"
    listing.write_text(
        "rank,msisdn,probability,expected_value,currency,reason_1_en,reason_2_en,reason_3_en,reason_1_zh,reason_2_zh,reason_3_zh\n"
        + "".join(f"{i + 1},{n},0.{9 - i},{10 - i}.00,CNY,calls fell,,,,,\n" for i, n in enumerate(LINES)),
        encoding="utf-8")
    _refuse(home, LINES[0])
    res = runner.invoke(fairtel_app, ["churn", "retention", "--file", str(listing), "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["rank"], r["msisdn"]) for r in rows] == [(2, LINES[1])]  # its rank as written
    shown = runner.invoke(fairtel_app, ["churn", "retention", "--file", str(listing), "--home", str(home)])
    assert shown.exit_code == 0 and "1 line" in shown.output and LINES[0] not in shown.output, shown.output
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        t = table_of(AccessAudit)
        audited = [r.subject_msisdn_pseudonym for r in conn.execute(select(t).where(t.c.action == "retention.list"))]
    assert len(audited) == 2  # the one line shown, once a run: never the line left out


def test_churn_warn_hands_out_no_offer_to_a_refusing_line(tmp_path: Path) -> None:
    usage, subs, _ = operator(n=240, seed=2)
    d = tmp_path / "op"
    (d / "usage").mkdir(parents=True)
    usage.write_parquet(d / "usage" / "part.parquet")
    subs.with_columns(pl.col("activated_at").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")).write_csv(d / "subscribers.csv")
    (d / "catalog.toml").write_bytes(default_catalog_path().read_bytes())
    home = tmp_path / "home"
    refusing = str(subs["msisdn"][0])
    _refuse(home, refusing)
    app = typer.Typer()
    register(app)
    res = runner.invoke(app, ["churn", "warn", "--dir", str(d), "--home", str(home), "--json", "--top", "3"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["do_not_contact"] == 1
    handed_out = pl.read_csv(home / "outbox" / "retention.csv", infer_schema=False)
    assert refusing not in handed_out["msisdn"].to_list()
    lake = pq.read_table(summary["retention_lake"]).column("msisdn").to_pylist()
    assert refusing in lake and len(lake) == handed_out.height + 1  # the churn figures still count it
