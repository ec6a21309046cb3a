"""`fairtel rerate` killed after its commit and before its report, then run again: the rerun issues nothing (the
entries are in the ledger) and says so, naming the rerate that issued them, how many and their net, instead of a
bare 0 that reads as "nothing to correct". The kill is a real one: a child process dies with ``os._exit`` right after
the commit, as a ``kill -9`` would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, P, as_json, open_app

from fairtel.store import rerate_entries, store_catalog

home = base.home  # the fixture: a home with three subscribers and their rated March usage

KILL = """
import os, sys
from fairtel.bootstrap import bootstrap
from fairtel.catalog import load_catalog
from fairtel.cli import _billing
from fairtel.core.settings import load_settings
from fairtel.store import current_catalog_text

home = sys.argv[1]
def die(*args, **kwargs):
    os._exit(137)
_billing._keep_settled = die  # called right after the rerate's entries are committed, before its report
app = bootstrap(load_settings(home=home))
from fairtel.catalog import parse_catalog
with app.db.connect() as conn:
    catalog, problems = parse_catalog(current_catalog_text(conn))
_billing.rerate_period(app, "2026-03", catalog=catalog)
os._exit(0)
"""


def test_a_rerun_after_a_rerate_killed_past_its_commit_names_the_run_that_issued(home: Path) -> None:
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 3
    app = open_app(home)
    with app.db.begin() as conn:  # a tariff correction: calls to HK/MO/TW 1.20 a minute instead of 1.50
        store_catalog(conn, TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"'))
    done = subprocess.run([sys.executable, "-c", KILL, str(home)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 137, done.stderr
    with app.db.connect() as conn:
        committed = rerate_entries(conn, P)
    assert len(committed) == 1  # the killed rerate did commit its one credit
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 0  # nothing issued twice
    last = rr["already_rerated"]
    assert last is not None and last["adjustments"] == 1 and last["net"] == "-0.60" and last["credits"] == 1
    assert last["at"] == committed[0].created_at.isoformat()
    note = next(n for n in rr["notes"] if "already rerated" in n)
    assert "1 adjustment(s)" in note and "net -0.60 CNY" in note and "nothing more to correct" in note
    # a rerate that issues something says nothing of the earlier one
    with app.db.begin() as conn:
        store_catalog(conn, TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.00", rate_unit = "60s"'))
    rr = as_json(home, "rerate", "--period", P)
    assert rr["adjustments_issued"] == 1 and rr["already_rerated"] is None
    assert not any("already rerated" in n for n in rr["notes"])
    app.close()
