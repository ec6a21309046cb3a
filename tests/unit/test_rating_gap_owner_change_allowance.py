"""The month a line changes owner (过户: the register's ``holder_since`` inside the period): each holding draws the
plan's allowances, reaches its throttle threshold and its daily caps on counters of its own, the new customer's from
nothing (a full allowance, as a line activated that day gets).

Before: the kernel drew them per line in time order, so the previous customer's usage before the change used up the
allowance and the new customer was charged for calls their plan includes (the bill run then holds the previous
customer's lines and bills the new customer's, priced after the allowance was gone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.rating import explain, rate, state_from_rated

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B = "8613800000001", "8613800000002"  # A moves to a new customer on 15 March (local midnight); B does not
CHANGE = datetime(2026, 3, 15, tzinfo=CN)
MIB, GIB = 1024 * 1024, 1024 ** 3


def _plans(plan: str = "basic-39", since: datetime | None = CHANGE) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [A, B], "plan_id": [plan, plan], "holder_since": [since, None]},
                        schema={"msisdn": pl.String(), "plan_id": pl.String(), "holder_since": pl.Datetime("us", "UTC")})


def _at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CN).astimezone(UTC)


def _rec(rid: str, msisdn: str, started_at: datetime, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": started_at, "peer": "8613912345678", "parts": 1, "incomplete": False} | kw


def _call(rid: str, msisdn: str, day: int, minutes: int) -> dict[str, Any]:
    return _rec(rid, msisdn, _at(day), duration_s=minutes * 60)


def _usage(*records: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(records), schema=pl.Schema(CLEAN_USAGE_SCHEMA))


# the previous customer uses the whole 300 domestic minutes before the change; the new customer calls 10 minutes
CALLS = _usage(_call("prev", A, 5, 300), _call("new", A, 20, 10), _call("b1", B, 5, 300), _call("b2", B, 20, 10))


def _lines(rated: pl.DataFrame, rid: str) -> list[tuple[Any, ...]]:
    return rated.filter(pl.col("record_id") == rid).select(
        "allowance_id", "allowance_before", "allowance_used", "amount_minor").rows()


def test_the_new_customer_s_first_call_is_inside_their_own_allowance() -> None:
    result = rate(CALLS, CATALOG, _plans(), period="2026-03")
    # the new customer's 10 minutes from a whole allowance: nothing used before, nothing charged
    assert _lines(result.rated, "new") == [("basic-39/voice", 0, 600, 0)]
    # the previous customer's usage drew its own scope
    assert _lines(result.rated, "prev") == [("basic-39/voice", 0, 18000, 0)]
    # a line that did not change owner, as ever: its 10 minutes past the allowance are charged
    assert _lines(result.rated, "b2")[0][3] > 0
    state = {(m, c): u for m, c, u in result.closing_state.iter_rows()}
    assert state[(A, "basic-39/voice")] == 18000  # the previous customer's counter
    assert state[(A, "basic-39/voice@holding:2026-03-14T16:00:00.000000Z")] == 600  # the new customer's
    assert state[(B, "basic-39/voice")] == 18000
    assert result.rated["record_id"].to_list() == ["prev", "new", "b1", "b2"]


def test_rated_in_passes_the_new_customer_does_not_open_with_the_previous_customer_s_counters() -> None:
    """As online rating does: the counters after the previous customer's usage are the next pass's opening state."""
    whole = rate(CALLS, CATALOG, _plans(), period="2026-03")
    first = rate(CALLS.filter(pl.col("started_at") < CHANGE), CATALOG, _plans(), period="2026-03")
    second = rate(CALLS.filter(pl.col("started_at") >= CHANGE), CATALOG, _plans(), period="2026-03",
                  opening_state=first.closing_state)
    assert _lines(second.rated, "new") == [("basic-39/voice", 0, 600, 0)]
    both = pl.concat([first.rated, second.rated])
    assert_frame_equal(both.sort("record_id", "line"), whole.rated.sort("record_id", "line"))
    assert second.closing_state.rows() == whole.closing_state.rows()
    # a late record of the previous customer (after the new customer's) still draws the previous customer's scope
    late = rate(_usage(_call("prev-late", A, 6, 5)), CATALOG, _plans(), period="2026-03",
                opening_state=second.closing_state)
    assert _lines(late.rated, "prev-late")[-1][3] > 0  # the previous customer's 300 minutes are gone
    # and counters recovered from the lines (online rating after a batch run) are named as the kernel names them
    recovered = state_from_rated(whole.rated, CATALOG, holdings=_plans())
    assert recovered.rows() == whole.closing_state.rows()


def test_a_state_carried_from_before_the_change_was_known_does_not_open_the_new_holding() -> None:
    """The previous customer's usage rated while the register did not know of the change (plain counters)."""
    before = rate(CALLS.filter(pl.col("started_at") < CHANGE), CATALOG, _plans(since=None), period="2026-03")
    after = rate(CALLS.filter(pl.col("started_at") >= CHANGE), CATALOG, _plans(), period="2026-03",
                 opening_state=before.closing_state)
    assert _lines(after.rated, "new") == [("basic-39/voice", 0, 600, 0)]


def test_daily_caps_are_per_holding_on_the_day_of_the_change() -> None:
    """Roaming data in Japan (2.00 a MiB, at most 30.00 a day): the previous customer reaches the cap in the
    morning of the change day; the new customer's data that afternoon is charged under a cap of their own."""
    noon = datetime(2026, 3, 15, 12, tzinfo=CN)
    usage = _usage(_rec("prev", A, _at(15, 9), kind="data", bytes_down=20 * MIB, roaming_country="JP"),
                   _rec("new", A, _at(15, 14), kind="data", bytes_down=5 * MIB, roaming_country="JP"))
    rated = rate(usage, CATALOG, _plans("payg", noon), period="2026-03").rated
    amounts = dict(rated.select("record_id", "amount_minor").iter_rows())
    assert amounts == {"prev": 3000, "new": 1000}


def test_the_throttle_threshold_is_per_holding() -> None:
    """unlimited-129's data slows down past 40 GiB: the previous customer's 45 GiB do not slow the new one's."""
    usage = _usage(_rec("prev", A, _at(5), kind="data", bytes_down=45 * GIB),
                   _rec("new", A, _at(20), kind="data", bytes_down=GIB))
    rated = rate(usage, CATALOG, _plans("unlimited-129"), period="2026-03").rated
    throttled = dict(rated.group_by("record_id").agg(pl.col("throttled").any()).iter_rows())
    assert throttled == {"prev": True, "new": False}


def test_explain_shows_the_new_holding_s_allowance() -> None:
    rated = rate(CALLS, CATALOG, _plans(), period="2026-03").rated
    found = explain("new", rated=rated, catalog=CATALOG, usage=CALLS)
    assert "(0 s used before, 10 min after, of 300 min)" in found.render("en")
    assert "此前已用 0 秒，抵扣后已用 10 分钟，额度共 300 分钟" in found.render("zh")
    assert "Total: 0.00 CNY" in found.render("en")


def test_without_an_owner_change_in_the_period_the_lines_are_as_before() -> None:
    """No column, a null one, a change before the period began or after it ended: the very same result."""
    usage = CALLS.with_columns(pl.col("msisdn").replace({B: A}).alias("msisdn"))
    plain = rate(usage, CATALOG, _plans().drop("holder_since"), period="2026-03")
    for since in (None, datetime(2026, 2, 1, tzinfo=CN), datetime(2026, 3, 1, tzinfo=CN), datetime(2026, 4, 1, tzinfo=CN)):
        same = rate(usage, CATALOG, _plans(since=since), period="2026-03")
        assert_frame_equal(same.rated, plain.rated, check_exact=True)
        assert_frame_equal(same.closing_state, plain.closing_state, check_exact=True)
        assert_frame_equal(same.unrated, plain.unrated, check_exact=True)


def _random(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The randomised usage of the kernel's regression tests (ties, band cuts, allowance ends, caps, VAS) and a
    register of its subscribers."""
    import numpy as np
    from test_rating_fast import PLANS, usage

    rng = np.random.default_rng(seed)
    numbers = [str(8613800000000 + i) for i in rng.choice(10**6, size=12, replace=False)]
    plans = pl.DataFrame({"msisdn": numbers, "plan_id": [str(rng.choice(PLANS[:4])) for _ in numbers]})
    return usage(seed, 3000, [*numbers, "8613899999999"], odd_direction=seed == 3), plans


def test_a_random_sample_without_a_change_in_the_period_is_rated_byte_for_byte_as_before() -> None:
    for seed in (1, 2, 3):
        data, plans = _random(seed)
        opening = pl.DataFrame({"msisdn": plans["msisdn"][:3], "counter": ["basic-39/voice", "unlimited-129/data",
                                                                            "cap:payg/voice-domestic:2026-03-05"],
                                "used": [17000, 40 * 1024**3, 10_000]})
        plain = rate(data, CATALOG, plans, period="2026-03", opening_state=opening)
        for since in (None, datetime(2026, 3, 1, tzinfo=CN), datetime(2026, 4, 1, tzinfo=CN)):
            at = None if since is None else since.astimezone(UTC)
            same = rate(data, CATALOG, plans.with_columns(pl.lit(at, dtype=pl.Datetime("us", "UTC")).alias("holder_since")),
                        period="2026-03", opening_state=opening)
            for a, b in ((same.rated, plain.rated), (same.unrated, plain.unrated), (same.closing_state, plain.closing_state)):
                assert_frame_equal(a, b, check_exact=True)
                assert a.to_arrow().equals(b.to_arrow())


def test_a_random_sample_with_changes_rated_in_two_passes_equals_one_pass() -> None:
    """Half the lines change owner at random instants: rating the records before an instant, then the rest with the
    counters the first pass closed with, gives the lines and counters of one pass; and each changed line's new
    holding is rated as if its records from the change were a line of their own."""
    for seed in (4, 5):
        data, plans = _random(seed)
        start = int(datetime(2026, 3, 1, tzinfo=CN).timestamp())
        import numpy as np

        rng = np.random.default_rng(seed)
        since = [datetime.fromtimestamp(start + int(rng.integers(1, 31 * 86400)), UTC) if k % 2 else None
                 for k in range(plans.height)]
        changed = plans.with_columns(pl.Series("holder_since", since, dtype=pl.Datetime("us", "UTC")))
        whole = rate(data, CATALOG, changed, period="2026-03")
        cut = datetime(2026, 3, 16, 5, tzinfo=CN)
        first = rate(data.filter(pl.col("started_at") < cut), CATALOG, changed, period="2026-03")
        second = rate(data.filter(pl.col("started_at") >= cut), CATALOG, changed, period="2026-03",
                      opening_state=first.closing_state)
        order = ["record_id", "source", "line"]
        assert_frame_equal(pl.concat([first.rated, second.rated]).sort(order), whole.rated.sort(order), check_exact=True)
        assert_frame_equal(second.closing_state, whole.closing_state, check_exact=True)
        assert_frame_equal(state_from_rated(whole.rated, CATALOG, holdings=changed),
                           whole.closing_state.filter(~pl.col("counter").str.starts_with("vas:")), check_exact=True)
        # a changed line's usage from the change is priced as a line of its own (a whole allowance)
        for m, at in changed.filter(pl.col("holder_since").is_not_null()).select("msisdn", "holder_since").iter_rows():
            mine = data.filter((pl.col("msisdn") == m) & (pl.col("started_at") >= at) & (pl.col("kind") != "vas"))
            alone = rate(mine, CATALOG, plans, period="2026-03").rated
            theirs = whole.rated.filter(pl.col("record_id").is_in(mine["record_id"].implode()))
            assert_frame_equal(theirs.sort(order), alone.sort(order), check_exact=True)


def test_an_engine_group_whose_rows_carry_the_register_counts_per_holding() -> None:
    from fairtel.engines._kernels import rate_group

    rows = CALLS.join(_plans(), on="msisdn", how="left")  # each record with its line's plan and owner change
    rated, _ = rate_group(rows, catalog=CATALOG, period="2026-03", gate=None)
    assert _lines(rated, "new") == [("basic-39/voice", 0, 600, 0)]
    grouped, _ = rate_group(CALLS, catalog=CATALOG, period="2026-03", gate=None, subscribers=_plans())
    assert_frame_equal(grouped, rated)
