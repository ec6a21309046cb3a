"""Readers of rated lines outside the lake's API read through ``Lake.files``, so a rating commit left pending (its
journal written, the rated lines not swapped in: a run killed between its swaps) is finished before they read:
`fairtel explain`, the assistant's data port, `fairtel assure`'s inputs and the bill run. Read straight from
the directory, they saw the previous run's lines."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, P, as_json, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as cli
from fairtel.cli._assure import _from_home
from fairtel.cli._rating import rate_period
from fairtel.core.commits import journal_path, rating_lock_name, run_of
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period
from fairtel.store._care import StoreCareData

home = base.home  # the fixture: a home with three subscribers and their rated March usage
runner = CliRunner()


@pytest.fixture
def pending(home: Path) -> Path:
    """The home after a rating run that rated a late call of A's ("v9") committed its journal and was killed
    before its rated lines went in: on disk the period still holds the previous run's lines."""
    app = open_app(home)
    lake = app.settings.lake_dir
    final = lake / "rated" / f"period={P}"
    before = lake / "rated" / ".before"
    shutil.copytree(final, before)
    app.lake.write("usage", P, pa.Table.from_pylist([rec("v9", A, duration_s=100, peer="85261234567")],
                                                    schema=CLEAN_USAGE_SCHEMA), part="t2")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    staging = lake / "rated" / f".period={P}.late.staging"
    final.rename(staging)
    before.rename(final)
    run = run_of(staging)
    assert run is not None and run != run_of(final)
    journal = journal_path(lake, rating_lock_name(P))
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text(json.dumps({"run": run, "swaps": [[str(staging.relative_to(lake)), str(final.relative_to(lake))]]}),
                       encoding="utf-8")
    return home


def test_explain_finishes_a_pending_commit_first(pending: Path) -> None:
    result = runner.invoke(cli, ["explain", "v9", "--home", str(pending), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["msisdn"] == A


def test_the_assistants_data_port_finishes_a_pending_commit_first(pending: Path) -> None:
    app = open_app(pending)
    lake = app.settings.lake_dir
    try:  # the database tells whether the month's bill is issued; the charges of a month not billed are the lake's
        data = StoreCareData(app.db, lake, load_catalog(default_catalog_path()))
        assert "v9" in {c.record_id for c in data.charges(A, P)}
    finally:
        app.close()
    assert not journal_path(lake, rating_lock_name(P)).exists()


def test_assure_reads_the_rated_lines_of_a_pending_commit_finished(pending: Path) -> None:
    app = open_app(pending)
    lake = app.settings.lake_dir
    app.close()
    inputs = _from_home(pending, lake, catalog=default_catalog_path())
    assert inputs.rated is not None and "v9" in inputs.rated["record_id"].to_list()


def test_the_bill_run_bills_the_lines_of_a_pending_commit(pending: Path) -> None:
    issued = as_json(pending, "bill", "--period", P, "--issue")
    assert issued["bills"] == 3 and issued["unbilled_late_records"] == 0
    rr = as_json(pending, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0  # v9 is on A's bill already: nothing to charge late
