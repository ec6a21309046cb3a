"""A bill run says how many records of its period rating left out (no rule, no plan...): they are on no bill. It said
nothing (`fairtel rate` reported "1 unrated: no_rule", then `bill --issue` issued the bills without a word, and its
--json had no count), so lost revenue or a tariff gap went unseen by whoever issued the bills."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, P, as_json, invoke, open_app, rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.time import Period

home = base.home  # a home with three subscribers and their March usage (4 records), rated
STRANGER = "8613899999999"  # in no subscriber register


def _left_out(home: Path) -> None:
    """Two more records of the period, which rating leaves out: a caller the register does not know, and a call of A
    to a party that is not a number (its price depends on the destination)."""
    app = open_app(home)
    rows = [rec("u1", STRANGER, duration_s=60), rec("u2", A, duration_s=60, peer="client2")]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t2")
    totals = rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    assert totals["unrated"] == 2, totals


def test_a_bill_run_counts_the_unrated_records_of_its_period(home: Path) -> None:
    clean = as_json(home, "bill", "--period", P)
    assert clean["unrated_records"] == 0 and clean["unrated_by_reason"] == {} and clean["records"] == 4
    assert not any("unrated" in n for n in clean["notes"])

    _left_out(home)
    preview = as_json(home, "bill", "--period", P)
    assert preview["unrated_records"] == 2 and preview["records"] == 6
    assert preview["unrated_by_reason"] == {"peer_not_a_number": 1, "unknown_subscriber": 1}
    (note,) = [n for n in preview["notes"] if "unrated" in n]
    assert note.startswith(
        "2 records of 6 of 2026-03 are unrated and on no bill (peer_not_a_number 1, unknown_subscriber 1; see "
    )
    assert f"see {home / 'lake' / 'unrated'} or the `fairtel rate --period {P}` output" in note

    table = invoke(home, "bill", "--period", P).stdout  # the table output says it too
    assert "2 records of 6 of 2026-03 are unrated and on no bill" in " ".join(table.split())

    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["mode"] == "issue" and issued["bills"] == 3
    assert issued["unrated_records"] == 2 and issued["unrated_by_reason"] == preview["unrated_by_reason"]
    assert any(n.startswith("2 records of 6 of 2026-03 are unrated") for n in issued["notes"])

    # a rerun: the issued subscribers' records were told with their bills; the stranger's is on no bill still
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0 and again["unrated_by_reason"] == {"unknown_subscriber": 1}
