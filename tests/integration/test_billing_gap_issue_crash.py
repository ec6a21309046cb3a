"""`fairtel bill --issue` killed between the lake write and the database commit, then run again: the same bills,
nothing charged twice, no stray parts, and no reader ever sees the parts of bills that were not issued.

The crash is a real one: a child process runs the bill run and dies with ``os._exit`` (no ``except``, no
``finally``) at the chosen step, as a ``kill -9`` would.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, A, P, as_json, cli, invoke, open_app

from fairtel.billing import AdjustmentEntry, AdjustmentKind
from fairtel.store import bills_of_period, issued_bills, pending_adjustments, record_adjustments, store_catalog

home = base.home  # the fixture: a home with three subscribers and their rated March usage


CN = timezone(timedelta(hours=8))
runner = CliRunner()

CRASH = """
import os, sys
import fairtel.store
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import _billing
from fairtel.core.settings import load_settings

home, where = sys.argv[1], sys.argv[2]
real_issue = fairtel.store.issue_bills

def issue_then_die(*args, **kwargs):
    real_issue(*args, **kwargs)  # the rows are in the transaction, not committed
    os._exit(137)

def die(*args, **kwargs):
    os._exit(137)

if where == "before_commit":
    fairtel.store.issue_bills = issue_then_die
else:  # after the commit, before the parts are moved in
    _billing._promote = die
app = bootstrap(load_settings(home=home))
_billing.bill_period(app, "2026-03", catalog=load_catalog(default_catalog_path()), issue=True)
os._exit(0)
"""


def crash(home: Path, where: str) -> None:
    done = subprocess.run([sys.executable, "-c", CRASH, str(home), where], capture_output=True, text=True, timeout=300)
    assert done.returncode == 137, done.stderr


def lake_files(home: Path) -> list[str]:
    """Every file under the lake's billing datasets, hidden ones included, relative to the lake."""
    root = open_app(home).lake.root
    return sorted(str(p.relative_to(root)) for d in ("bills", "billed") if (root / d).exists()
                  for p in (root / d).rglob("*") if p.is_file())


def credit(home: Path) -> None:
    app = open_app(home)
    with app.db.begin() as conn:
        record_adjustments(conn, [AdjustmentEntry("adj_goodwill", AdjustmentKind.CREDIT, A, 500, "CNY", "goodwill",
                                                  datetime(2026, 3, 20, tzinfo=CN), "care")])
    app.close()


def test_a_run_killed_before_its_commit_leaves_nothing_a_reader_takes_and_the_rerun_bills_once(home: Path) -> None:
    credit(home)
    preview = as_json(home, "bill", "--period", P)
    crash(home, "before_commit")

    app = open_app(home)
    with app.db.connect() as conn:
        assert issued_bills(conn, P) == {}  # nothing committed
    assert app.lake.files("bills") == [] and app.lake.files("billed") == []  # readers see no bill of the dead run
    assert "bills" not in app.lake.datasets() and "billed" not in app.lake.datasets()  # nor do the SQL views
    assert lake_files(home), "the dead run staged its parts"
    app.close()

    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 3 and again["total"] == preview["total"] and again["adjustments_carried"] == 1
    assert again["recovered"] == {"parts_moved_in": 0, "parts_removed": 2}
    run = again["run_id"]
    assert lake_files(home) == [f"billed/period={P}/{run}.parquet", f"bills/period={P}/{run}.parquet"]
    app = open_app(home)
    with app.db.connect() as conn:
        bills = bills_of_period(conn, P)
        assert pending_adjustments(conn) == []
    assert [b.run_id for b in bills] == [run] * 3
    assert sum(b.total_minor for b in bills) == int(Decimal(preview["total"]) * 100)
    app.close()

    third = as_json(home, "bill", "--period", P, "--issue")
    assert third["bills"] == 0 and third["already_issued"] == 3 and third["recovered"]["parts_removed"] == 0
    assert lake_files(home) == [f"billed/period={P}/{run}.parquet", f"bills/period={P}/{run}.parquet"]
    statement = invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout
    assert "goodwill" in statement


def test_a_run_killed_after_its_commit_is_finished_by_the_rerun(home: Path) -> None:
    preview = as_json(home, "bill", "--period", P)
    crash(home, "after_commit")

    app = open_app(home)
    with app.db.connect() as conn:
        bills = bills_of_period(conn, P)
    assert len(bills) == 3 and sum(b.total_minor for b in bills) == int(Decimal(preview["total"]) * 100)
    assert app.lake.files("billed") == []  # not moved in yet: the statement says so instead of printing a wrong one
    app.close()
    result = runner.invoke(cli(), ["bill", "statement", A, "--period", P, "--home", str(home)])
    assert result.exit_code == 2 and "again to finish" in result.output

    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["already_issued"] == 3
    assert again["recovered"] == {"parts_moved_in": 2, "parts_removed": 0}
    run = bills[0].run_id
    assert lake_files(home) == [f"billed/period={P}/{run}.parquet", f"bills/period={P}/{run}.parquet"]
    rows = invoke(home, "bill", "statement", A, "--period", P).stdout.strip().splitlines()
    assert rows[-1].split(",")[9] == "42.00"


def test_a_rerate_after_a_crash_after_the_commit_charges_nothing_again(home: Path) -> None:
    crash(home, "after_commit")
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0 and rr["records_changed"] == 0 and rr["bills_without_snapshot"] == 0
    assert rr["records_compared"] == 4
    assert not any(".issuing" in f for f in lake_files(home))


def test_parts_an_earlier_version_left_in_place_before_its_commit_are_removed(home: Path) -> None:
    """Before staging, a run wrote its parts in place and then committed; one killed in between left parts that
    no bill names. The next run removes them (and a half-written temporary file)."""
    app = open_app(home)
    stray = pa.table({"bill_id": ["bill_x"], "run_id": ["brun_dead"], "msisdn": [A]})
    app.lake.write("bills", P, stray, part="brun_dead")
    app.lake.write("billed", P, stray, part="brun_dead")
    (app.lake.part_path("billed", P, "x").parent / ".brun_dead.0123.tmp").write_bytes(b"PAR1")
    app.close()
    out = as_json(home, "bill", "--period", P, "--issue")
    assert out["bills"] == 3 and out["recovered"] == {"parts_moved_in": 0, "parts_removed": 3}
    run = out["run_id"]
    assert lake_files(home) == [f"billed/period={P}/{run}.parquet", f"bills/period={P}/{run}.parquet"]


def test_a_failed_commit_leaves_no_part(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.store
    from fairtel.core.errors import ConflictError

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConflictError("another run issued them")

    monkeypatch.setattr(fairtel.store, "issue_bills", refuse)
    result = runner.invoke(cli(), ["bill", "--period", P, "--issue", "--home", str(home), "--json"])
    assert result.exit_code == 2
    assert lake_files(home) == []


def test_a_rerate_leaves_a_bill_whose_billed_lines_are_lost_as_billed(home: Path) -> None:
    """Compared with a lost snapshot, every record of the bill would look unbilled and be charged again."""
    issued = as_json(home, "bill", "--period", P, "--issue")
    app = open_app(home)
    app.lake.delete_part("billed", P, issued["run_id"])
    with app.db.begin() as conn:  # and a real correction, so that rerating has something to do
        store_catalog(conn, TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"'))
    app.close()
    rr = as_json(home, "rerate", "--period", P)
    assert rr["bills_without_snapshot"] == 2  # A and B billed usage; C had none, so its (empty) snapshot is whole
    assert rr["adjustments_issued"] == 0 and rr["net"] == "0.00"
    assert any("missing from the lake" in n for n in rr["notes"])
