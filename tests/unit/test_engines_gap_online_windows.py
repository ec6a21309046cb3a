"""Online rating (`fairtel watch --rate`) takes the register's changes every pass: a line brought back into service
while it runs keeps the window of its suspension that ended, so late usage dated inside it stays held. Before, only
the lines' states were replaced and the windows were those of the gate's first build."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import project_subscriptions
from fairtel.engines._online import _with_lines
from fairtel.rating import consent_gate
from fairtel.rating._vas import _WINDOW, SUSPENSIONS

A, B = "8613800000001", "8613800000002"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _lines(windows: dict[str, list[tuple[datetime, datetime]]]) -> pl.DataFrame:
    return pl.DataFrame({
        "msisdn": [A, B], "status": ["active", "active"], "activated_at": [T0, T0],
        "closed_at": [None, None], "suspended_at": [None, None],
        SUSPENSIONS: [[{"suspended_from": f, "suspended_until": u} for f, u in windows.get(m, [])] for m in (A, B)],
    }, schema_overrides={"activated_at": pl.Datetime("us", "UTC"), "closed_at": pl.Datetime("us", "UTC"),
                         "suspended_at": pl.Datetime("us", "UTC"), SUSPENSIONS: pl.List(_WINDOW)})


def test_a_line_brought_back_while_watching_keeps_its_window() -> None:
    catalog = load_catalog(default_catalog_path())
    subs = project_subscriptions(pl.DataFrame(
        {"event_id": ["e1", "e2"], "event": ["ordered", "confirmed"], "subscription_id": ["s1", "s1"], "msisdn": [A, A],
         "offer_id": ["vas-music-10"] * 2, "at": [T0, T0], "channel": ["sms"] * 2, "evidence": ["x1", "x2"]},
        schema_overrides={"at": pl.Datetime("us", "UTC")}))
    window = (datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    first = consent_gate(subs, catalog, lines=_lines({A: [window]}))
    assert first.windows is not None and set(first.windows["msisdn"]) == {A}
    # B was suspended and is back: the register's change names B, with its window
    later = (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    changed = _with_lines(first, pl.Series("msisdn", [B], dtype=pl.String), _lines({A: [window], B: [later]}))
    assert changed is not None and changed.windows is not None
    assert set(changed.windows["msisdn"]) == {A, B}  # A's kept, B's taken
    # B's window gone again (a correction of the history): only A's stays
    cleared = _with_lines(changed, pl.Series("msisdn", [B], dtype=pl.String), _lines({A: [window]}))
    assert cleared is not None and cleared.windows is not None and set(cleared.windows["msisdn"]) == {A}
