"""Churn features, labels and the retention list's fraud-case skips are bounded to a recycled number's current
holding: the usage, complaints, consent events and fraud cases dated before the line's activation are an earlier
holder's, and change nothing for the current one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import polars as pl

from fairtel.insight import ChurnWindow, activity, churn_features, churn_labels
from fairtel.insight._churn_warning import fraud_case_lines, fraud_lines, retention_skips

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
RECYCLED, KEPT = "8613800000001", "8613800000002"
ACTIVATED = datetime(2026, 11, 20, 10, tzinfo=SH)  # the current holder of RECYCLED
CUT = date(2026, 12, 9)
WINDOW = ChurnWindow()


def _subs() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [RECYCLED, KEPT], "plan_id": ["basic-39", "basic-39"],
                         "activated_at": [ACTIVATED.astimezone(UTC), datetime(2025, 1, 1, tzinfo=UTC)]},
                        schema_overrides={"activated_at": pl.Datetime("us", "UTC")})


def _usage(*, earlier: bool) -> pl.DataFrame:
    rows: list[tuple[str, str, str, datetime, int, str]] = []
    day = datetime(2026, 11, 11, 12, tzinfo=SH)
    while day.date() < CUT:
        if day >= ACTIVATED:
            rows.append((RECYCLED, "voice", "out", day, 60, "8613911110000"))
        elif earlier:  # the earlier holder: a busy line, many contacts
            rows += [(RECYCLED, "voice", "out", day + timedelta(minutes=k), 300, f"86139222{k:05d}") for k in range(20)]
        rows.append((KEPT, "voice", "out", day, 120, "8613933330000"))
        day += timedelta(days=1)
    frame = pl.DataFrame(rows, schema={"msisdn": pl.String, "kind": pl.String, "direction": pl.String,
                                       "started_at": pl.Datetime("us", TZ), "duration_s": pl.Int64, "peer": pl.String},
                         orient="row")
    return frame.with_columns(pl.col("started_at").dt.convert_time_zone("UTC"))


def _side(msisdns: list[str], ats: list[datetime], **cols: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": msisdns, "at": ats, **cols}, schema_overrides={"at": pl.Datetime("us", "UTC")})


def test_recycled_line_features_and_label_are_the_current_holders() -> None:
    subs = _subs()
    # an activity read without the register: the earlier holder's days are left out all the same
    assert churn_features(activity(_usage(earlier=True), TZ), subs, CUT, WINDOW).equals(
        churn_features(activity(_usage(earlier=False), TZ), subs, CUT, WINDOW))
    early = datetime(2026, 11, 12, 9, tzinfo=UTC)
    complaints = _side([RECYCLED], [early], category=["price"])
    consent = _side([RECYCLED, RECYCLED], [early, early], event=["confirmed", "confirmed"])
    charges = pl.DataFrame({"msisdn": [RECYCLED], "started_at": [early], "amount_minor": [5000]},
                           schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    mixed = churn_features(activity(_usage(earlier=True), TZ, subs), subs, CUT, WINDOW,
                           complaints=complaints, consent=consent, charges=charges)
    own = churn_features(activity(_usage(earlier=False), TZ), subs, CUT, WINDOW,
                         complaints=complaints.clear(), consent=consent.clear(), charges=charges.clear())
    assert mixed.select(own.columns).equals(own)
    row = mixed.filter(pl.col("msisdn") == RECYCLED).row(0, named=True)
    assert row["distinct_peers"] == 1
    assert row["complaints"] == 0 and row["vas_active"] == 0 and row["usage_charges_per_month"] == 0.0
    label_cut = CUT - timedelta(days=WINDOW.horizon)
    assert churn_labels(activity(_usage(earlier=True), TZ, subs), subs, label_cut, WINDOW).equals(
        churn_labels(activity(_usage(earlier=False), TZ), subs, label_cut, WINDOW))


def _case(subject: str, status: str, opened: datetime | None) -> SimpleNamespace:
    return SimpleNamespace(subject=subject, status=status, detector="simbox", case_id=f"c-{subject}-{opened}",
                           subject_kind="line", opened_at=opened)


def test_an_earlier_holders_fraud_case_does_not_skip_the_current_holder() -> None:
    subs = _subs()
    before = datetime(2026, 10, 3, tzinfo=UTC)
    cases = fraud_case_lines([_case(RECYCLED, "confirmed", before), _case(KEPT, "confirmed", before)])
    at = datetime(2026, 12, 8, 16, tzinfo=UTC)
    assert retention_skips(subs, cases, at).to_dicts() == [{"msisdn": KEPT, "reason": "fraud_case"}]
    assert fraud_lines(cases, subs).to_list() == [KEPT]
    # a case of the current holding still counts
    later = fraud_case_lines([_case(RECYCLED, "open", ACTIVATED + timedelta(days=3))])
    assert retention_skips(subs, later, at).to_dicts() == [{"msisdn": RECYCLED, "reason": "fraud_case"}]
