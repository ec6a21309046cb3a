"""The analyst's commands that show subscribers' numbers in clear (the retention list read back, plan advice of the
home) record it in the access audit before showing it, as the other commands do (``cli._audit``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

runner = CliRunner()
LINES = ("8613800138000", "8613900139000")


def test_retention_list_read_back_is_audited(tmp_path: Path) -> None:
    home = tmp_path / "home"
    listing = tmp_path / "retention.csv"
    listing.write_text(
        "rank,msisdn,probability,expected_value,currency,reason_1_en,reason_2_en,reason_3_en\n"
        + "".join(f"{i + 1},{n},0.{9 - i},{10 - i}.00,CNY,calls fell,,\n" for i, n in enumerate(LINES)),
        encoding="utf-8")
    res = runner.invoke(app, ["churn", "retention", "--file", str(listing), "--home", str(home), "--json",
                              "--top", "1"])
    assert res.exit_code == 0, res.output
    assert LINES[0] in res.output and LINES[1] not in res.output
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        t = table_of(AccessAudit)
        rows = list(conn.execute(select(t).where(t.c.action == "retention.list")))
        shown = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")(LINES[0])
    assert [r.subject_msisdn_pseudonym for r in rows] == [shown]  # the one row shown, not the whole file
    assert rows[0].role == "cli" and "fairtel churn retention" in rows[0].reason
    assert all(n not in (rows[0].reason or "") + (rows[0].resource or "") for n in LINES)
