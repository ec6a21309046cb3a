"""The retention list judges a line's status as it stood at the end of the scored period, from the line status
history when there is one (a line suspended before then and brought back since was suspended then; one
suspended only after it was in service then), and says which instant and source it judged by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from fairtel.insight._churn_warning import STATUS_FROM, line_status_at, retention_skips

AT = datetime(2026, 12, 8, 16, tzinfo=UTC)  # 2026-12-09 00:00 in Asia/Shanghai: the end of the scored period
OPEN = datetime(2025, 1, 1, tzinfo=UTC)


def _subs(rows: list[tuple[str, str, datetime | None, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"msisdn": [r[0] for r in rows], "status": [r[1] for r in rows], "suspended_at": [r[2] for r in rows],
         "closed_at": [r[3] for r in rows]},
        schema_overrides={"suspended_at": pl.Datetime("us", "UTC"), "closed_at": pl.Datetime("us", "UTC")},
    )


def _history(rows: list[tuple[str, str, datetime]]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "status": [r[1] for r in rows], "since": [r[2] for r in rows],
                         "entry_id": list(range(1, len(rows) + 1))},
                        schema_overrides={"since": pl.Datetime("us", "UTC")})


def _world() -> tuple[pl.DataFrame, pl.DataFrame]:
    d = timedelta(days=1)
    subs = _subs([
        ("200", "active", None, None),  # suspended before the end, back in service since
        ("201", "suspended", AT + 3 * d, None),  # in service at the end, suspended since
        ("202", "suspended", AT + 4 * d, None),  # suspended, back, suspended again since: suspended at the end
        ("203", "active", None, None),  # closed before the end, its number activated again since for a new holder
        ("204", "suspended", None, None),  # not in the history: the register's state (no time stamp: holding)
        ("205", "active", None, None),  # active throughout
    ])
    history = _history([
        ("200", "active", OPEN), ("200", "suspended", AT - 5 * d), ("200", "active", AT + 2 * d),
        ("201", "active", OPEN), ("201", "suspended", AT + 3 * d),
        ("202", "active", OPEN), ("202", "suspended", AT - 6 * d), ("202", "active", AT + d),
        ("202", "suspended", AT + 4 * d),
        ("203", "active", OPEN), ("203", "closed", AT - 9 * d), ("203", "active", AT + 2 * d),
        ("205", "active", OPEN),
    ])
    return subs, history


def test_status_at_the_end_of_the_period_comes_from_the_history() -> None:
    subs, history = _world()
    skips = retention_skips(subs, None, AT, history)
    assert dict(skips.iter_rows()) == {"200": "suspended", "202": "suspended", "203": "closed", "204": "suspended"}
    then = dict(line_status_at(history, AT).select("msisdn", "status").iter_rows())
    assert then == {"200": "suspended", "201": "active", "202": "suspended", "203": "closed", "205": "active"}


def test_without_a_history_the_register_is_judged_as_before() -> None:
    subs, _ = _world()
    assert dict(retention_skips(subs, None, AT).iter_rows()) == {"204": "suspended"}


def test_a_change_at_the_same_instant_is_read_in_the_order_recorded() -> None:
    same = AT - timedelta(hours=1)
    history = _history([("300", "active", OPEN), ("300", "suspended", same), ("300", "active", same)])
    assert line_status_at(history, AT)["status"].to_list() == ["active"]
    assert retention_skips(_subs([("300", "active", None, None)]), None, AT, history).height == 0


def test_the_warning_says_which_instant_and_source_its_status_was_judged_by() -> None:
    from tests.unit.test_insight_gap_churn_threshold import warned

    warning, (first, second) = warned()
    summary = warning.summary()
    scoring = warning.cuts.scoring
    assert warning.status_as_of == datetime(scoring.year, scoring.month, scoring.day, tzinfo=UTC) - timedelta(hours=8)
    assert summary["status_as_of"] == warning.status_as_of.isoformat()
    assert summary["status_from"] == STATUS_FROM[0]
    # suspended before the end of the period and brought back since: left out; suspended only after: listed
    assert warning.counts["skipped"]["suspended"] == 1
    listed = set(warning.scores["msisdn"].to_list())
    assert first not in listed and second in listed
