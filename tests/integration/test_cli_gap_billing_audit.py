"""`fairtel bill statement`, `bill --json`, `explain` and `rerate` show subscribers' numbers and usage: each records
the read in the access audit (``cli._audit``) before showing it, as the API records the same reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, as_json, invoke, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel_cli
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, import_subscribers, store_catalog
from fairtel.store._schema import table_of

A = "8613800000001"
P = "2026-03"


def _audit(home: Path) -> list[tuple[str, str | None, str]]:
    t = table_of(AccessAudit)
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        return [(r.action, r.subject_msisdn_pseudonym, r.role) for r in conn.execute(select(t).order_by(t.c.audit_id))]


def test_statement_bill_and_explain_reads_are_audited(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 1
    app.lake.write("usage", P, pa.Table.from_pylist([rec("a1", A, duration_s=61)], schema=CLEAN_USAGE_SCHEMA), part="t1")
    pseudonym = Pseudonymizer(app.settings.secret_key.get_secret_value(), domain="msisdn")(A)
    app.close()
    rate_period(open_app(home), Period.parse(P), catalog=load_catalog(default_catalog_path()))
    before = len(_audit(home))
    as_json(home, "bill", "--period", P, "--issue")
    assert _audit(home)[before:] == [("bill.list", pseudonym, "cli")]
    out = tmp_path / "statement.csv"
    invoke(home, "bill", "statement", A, "--period", P, "--out", str(out))
    assert _audit(home)[-1] == ("bill.read", pseudonym, "cli")
    res = CliRunner().invoke(fairtel_cli, ["explain", "a1", "--json", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert _audit(home)[-1] == ("usage.read", pseudonym, "cli")
