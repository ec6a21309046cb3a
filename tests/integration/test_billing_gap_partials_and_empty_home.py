"""Two things a bill run let pass without a word. A partial session of the period still waiting in mediation for the
rest of its parts is usage in no lake part yet, so on no bill: the run now counts such sessions
(``partial_sessions_waiting``) and its notes name `fairtel ingest --flush-partials`. And `bill --issue` on a mistyped
home issued "0 bill(s)" into a new empty home and exited 0: a home with no subscriber register, or no catalog, is now
refused (``not_found``, exit 2)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import CN, TEXT, P, as_json, cli, runner

from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.mediation._state import MediationState
from fairtel.store import store_catalog

home = base.home


def _partial(home: Path, record_id: str, started: datetime) -> None:
    with MediationState.open(home) as state, state.transaction() as conn:
        conn.execute("INSERT INTO partials (source, record_id, session_id, seq, final, arrival, started_us, msisdn, kind)"
                     " VALUES ('pgw', ?, ?, 1, 0, 1, ?, ?, 'data')",
                     (record_id, f"s-{record_id}", int(started.timestamp() * 1_000_000), base.A))


def test_a_bill_run_names_the_partial_sessions_of_its_period_still_waiting(home: Path) -> None:
    quiet = as_json(home, "bill", "--period", P)
    assert quiet["partial_sessions_waiting"] == 0 and not any("partial" in n for n in quiet["notes"])
    _partial(home, "p1-1", datetime(2026, 3, 31, 22, 19, tzinfo=CN))  # of March on the operator's clock
    _partial(home, "p2-1", datetime(2026, 4, 1, 0, 5, tzinfo=CN))  # of April
    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["bills"] == 3 and issued["partial_sessions_waiting"] == 1
    (note,) = [n for n in issued["notes"] if "partial" in n]
    assert note.startswith(f"1 partial session(s) of {P} are still waiting in mediation")
    assert "`fairtel ingest --flush-partials`" in note
    assert as_json(home, "bill", "reconcile", "--period", P)["usage"]["partial_sessions_waiting"] == 1


def test_issuing_on_a_home_with_no_register_is_refused(tmp_path: Path) -> None:
    typo = tmp_path / "no-such-home"
    result = runner.invoke(cli(), ["bill", "--period", P, "--issue", "--home", str(typo), "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "not_found" and "no subscribers in the home" in error["message"]
    assert "0 bill(s)" not in result.output

    app = bootstrap(load_settings(home=typo))  # a catalog, but no subscriber register
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
    app.close()
    result = runner.invoke(cli(), ["bill", "--period", P, "--issue", "--home", str(typo)])
    assert result.exit_code == 2
    assert "not_found" in result.output and "no subscribers in the home" in " ".join(result.output.split())
    # a preview of such a home is still allowed: it writes nothing
    assert runner.invoke(cli(), ["bill", "--period", P, "--home", str(typo)]).exit_code == 0
