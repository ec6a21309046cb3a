"""The home's refusals of marketing based on automated profiling (PIPL Art. 24) as the churn commands read them:
the latest say of each line, and a retention list without the refusing lines (ranks as scored, the count told)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from fairtel.api._marketing import PREFERENCES
from fairtel.bootstrap import bootstrap
from fairtel.cli._churn import home_marketing_refusals, refusals_note, without_refusals
from fairtel.core.settings import load_settings

A, B, C = "8613800000001", "8613800000002", "8613800000003"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _say(msisdn: str, opted_out: bool, minutes: int, source: str = "subscriber", channel: str = "api") -> dict[str, object]:
    return {"pref_id": f"mkt_{msisdn}_{minutes}", "msisdn": msisdn, "opted_out": opted_out,
            "changed_at": AT + timedelta(minutes=minutes), "channel": channel, "source": source, "changed_by": "someone"}


def test_the_latest_say_of_each_line_is_in_force(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    try:
        assert home_marketing_refusals(app) == set()
        with app.db.begin() as conn:
            conn.execute(PREFERENCES.insert(), [
                _say(A, True, 1), _say(A, False, 5),  # refused, then accepted again
                _say(B, False, 1), _say(B, True, 3, "agent", "phone"),  # refused through an agent
                _say(C, True, 2),
            ])
        assert home_marketing_refusals(app) == {B, C}
    finally:
        app.close()


def test_a_retention_list_without_the_refusing_lines_keeps_its_order_and_ranks() -> None:
    listed = pl.DataFrame({"rank": ["1", "2", "3"], "msisdn": [B, A, C], "probability": ["0.9", "0.5", "0.2"]})
    kept, left_out = without_refusals(listed, {B, C})
    assert kept.to_dicts() == [{"rank": "2", "msisdn": A, "probability": "0.5"}] and left_out == 2
    assert without_refusals(listed, set()) == (listed, 0)
    assert without_refusals(listed.head(0), {A})[1] == 0
    assert "2 lines" in refusals_note(2) and "1 line " in refusals_note(1) and refusals_note(0) == ""
