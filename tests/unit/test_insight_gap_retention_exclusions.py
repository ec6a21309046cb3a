"""The retention list leaves out lines nobody should call to keep (closed or suspended at the scoring instant,
lines with an open or confirmed fraud case) and counts them by reason; fraud lines are no training rows and
their charges no revenue to retain; the two fits of the warning report progress apart; the list read back
from its export is typed for JSON as `fairtel churn warn --json` and the API type it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import polars as pl
import pytest
from tests.unit.test_churn_warning import operator

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.insight import ChurnData, activity, churn_early_warning, eligible, retention_csv
from fairtel.insight._churn_warning import fraud_case_lines, retention_records, retention_skips
from fairtel.learn import TrainOptions

FAST = TrainOptions(folds=3, max_rounds=200, early_stopping=20)
TZ = "Asia/Shanghai"
AT = datetime(2026, 12, 8, 16, tzinfo=UTC)  # 2026-12-09 00:00 in Asia/Shanghai


def _subs(rows: list[tuple[str, str, datetime | None, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "msisdn": [r[0] for r in rows],
            "plan_id": ["basic-39"] * len(rows),
            "activated_at": [datetime(2025, 1, 1, tzinfo=UTC)] * len(rows),
            "status": [r[1] for r in rows],
            "suspended_at": [r[2] for r in rows],
            "closed_at": [r[3] for r in rows],
        },
        schema_overrides={"suspended_at": pl.Datetime("us", "UTC"), "closed_at": pl.Datetime("us", "UTC")},
    )


def _case(subject: str, status: str, kind: str = "line") -> SimpleNamespace:
    return SimpleNamespace(subject=subject, status=status, detector="irsf", case_id=f"c-{subject}", subject_kind=kind)


def test_skips_name_one_reason_per_line_as_it_stood_at_the_scoring_instant() -> None:
    before, after = AT - timedelta(days=3), AT + timedelta(days=2)
    subs = _subs(
        [
            ("100", "active", None, None),
            ("101", "closed", None, before),
            ("102", "closed", None, None),  # no time stamp: taken as holding
            ("103", "closed", None, after),  # closed after the instant: it was a line to keep then
            ("104", "suspended", before, None),
            ("105", "suspended", after, None),
            ("106", "active", None, None),  # confirmed fraud case
            ("107", "active", None, None),  # open fraud case
            ("108", "active", None, None),  # false alarm: cleared
            ("109", "suspended", before, None),  # suspended and a fraud case: one reason
        ]
    )
    cases = fraud_case_lines(
        [
            _case("106", "confirmed"),
            _case("107", "open"),
            _case("108", "false_alarm"),
            _case("109", "confirmed"),
            _case("86999", "open", kind="caller"),
        ]
    )
    skips = retention_skips(subs, cases, AT)
    assert dict(skips.iter_rows()) == {
        "101": "closed",
        "102": "closed",
        "104": "suspended",
        "106": "fraud_case",
        "107": "fraud_case",
        "109": "suspended",
    }
    assert retention_skips(subs.drop("status", "suspended_at", "closed_at"), None, AT).height == 0


@pytest.fixture(scope="module")
def warned() -> tuple[object, set[str], dict[str, str]]:
    usage, subs, _ = operator(n=300, days=98, seed=3)
    msisdns = sorted(subs["msisdn"].to_list())
    fraud, suspended, closed = msisdns[:12], msisdns[12:18], msisdns[18:22]
    before = datetime(2026, 11, 20, tzinfo=UTC)
    subs = subs.with_columns(
        pl.when(pl.col("msisdn").is_in(suspended))
        .then(pl.lit("suspended"))
        .when(pl.col("msisdn").is_in(closed))
        .then(pl.lit("closed"))
        .otherwise(pl.lit("active"))
        .alias("status"),
        pl.when(pl.col("msisdn").is_in(suspended)).then(pl.lit(before)).alias("suspended_at"),
        pl.when(pl.col("msisdn").is_in(closed)).then(pl.lit(before)).alias("closed_at"),
    )
    # the fraud lines run up premium-rate charges (as an IRSF line does) the list must not rank as revenue
    charges = pl.DataFrame(
        {
            "msisdn": fraud,
            "started_at": [datetime(2026, 11, 25, tzinfo=UTC)] * len(fraud),
            "amount_minor": [900_000] * len(fraud),
        }
    )
    catalog = load_catalog(default_catalog_path())
    cases = fraud_case_lines([_case(m, "confirmed" if i % 2 else "open") for i, m in enumerate(fraud)])
    steps: Counter[str] = Counter()
    totals: dict[str, float] = {}

    class Sink:
        def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
            steps[name] += advance
            if total is not None:
                totals[name] = total

    warning = churn_early_warning(
        ChurnData(usage, subs, catalog, charges=charges, fraud_cases=cases), options=FAST, progress=Sink()
    )
    expect = {m: "fraud_case" for m in fraud} | {m: "suspended" for m in suspended} | {m: "closed" for m in closed}
    at_scoring = set(eligible(activity(usage, TZ), subs, warning.cuts.scoring, warning.window)["msisdn"].to_list())
    expect = {m: r for m, r in expect.items() if m in at_scoring}  # the lines the list would have had
    return SimpleNamespace(warning=warning, steps=steps, totals=totals, catalog=catalog), set(fraud), expect


def test_the_list_leaves_out_closed_suspended_and_fraud_lines_and_counts_them(
    warned: tuple[SimpleNamespace, set[str], dict[str, str]],
) -> None:
    run, _, expect = warned
    warning = run.warning
    listed = set(warning.retention_list()["msisdn"].to_list())
    assert not listed & set(expect)
    skipped = warning.summary()["skipped"]
    assert skipped == dict(Counter(expect.values())) | {
        r: 0 for r in ("closed", "suspended", "fraud_case") if r not in expect.values()
    }
    assert skipped["fraud_case"] > 0 and skipped["suspended"] > 0
    # no fraud charges as revenue: every listed line's revenue is its plan's fee (no other charges were given)
    fees = {p.id: int(p.monthly_fee * 100) for p in run.catalog.plans}
    for r in warning.retention_list().iter_rows(named=True):
        assert r["monthly_revenue_minor"] == fees[r["plan_id"]]


def test_fraud_lines_are_no_training_rows(warned: tuple[SimpleNamespace, set[str], dict[str, str]]) -> None:
    run, _, _ = warned
    counts = run.warning.summary()
    # 12 fraud lines, eligible at most once per labelled cut (3 training cuts and the validation cut)
    assert 0 < counts["rows_fraud_not_trained"] <= 12 * 4


def test_each_fit_counts_its_folds_against_its_own_total(
    warned: tuple[SimpleNamespace, set[str], dict[str, str]],
) -> None:
    run, _, _ = warned
    folds = {k: v for k, v in run.steps.items() if k.startswith("training folds")}
    assert len(folds) == 3  # the validation model, the final one and the one that checks the threshold rule
    for name, done in folds.items():
        assert done == run.totals[name], f"{name}: {done:g} of {run.totals[name]:g}"


def test_retention_records_are_typed_as_the_api_types_them() -> None:
    ranked = pl.DataFrame(
        {
            "rank": [1, 2],
            "msisdn": ["8613800000001", "8613800000002"],
            "plan_id": ["basic-39", "senior-19"],
            "probability": [0.93761, 0.5],
            "flagged": [True, False],
            "monthly_revenue_minor": [3900, 1900],
            "expected_value_minor": [3657, 950],
            "currency": ["CNY", "CNY"],
            **{f"reason_{k}_{lang}": ["few calls", None] for k in (1, 2, 3) for lang in ("en", "zh")},
        }
    )
    exported = retention_csv(ranked)
    text = pl.read_csv(exported.write_csv().encode(), infer_schema=False)  # as `churn retention` reads the file
    records = retention_records(text)
    assert records == exported.to_dicts()
    first = records[0]
    assert first["rank"] == 1 and isinstance(first["rank"], int)
    assert first["probability"] == 0.9376 and first["flagged"] is True and records[1]["flagged"] is False
    assert first["monthly_revenue"] == "39.00" and first["expected_value"] == "36.57"
    assert first["msisdn"] == "8613800000001" and records[1]["reason_1_en"] is None
    bad = text.with_columns(pl.when(pl.col("rank") == "2").then(pl.lit("two")).otherwise(pl.col("rank")).alias("rank"))
    with pytest.raises(InvalidInputError) as err:
        retention_records(bad, source="outbox/retention.csv")
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == ("outbox/retention.csv", 3, "rank")


def test_a_home_without_line_states_or_cases_skips_nothing() -> None:
    usage, subs, _ = operator(n=200, days=98, seed=5)
    warning = churn_early_warning(ChurnData(usage, subs, load_catalog(default_catalog_path())), options=FAST)
    assert warning.summary()["skipped"] == {"closed": 0, "suspended": 0, "fraud_case": 0}
    assert warning.summary()["rows_fraud_not_trained"] == 0
    assert date.fromisoformat(warning.summary()["cuts"]["scoring"]) > date(2026, 9, 1)
