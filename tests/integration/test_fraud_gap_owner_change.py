"""Fraud features and labels after an owner change (过户): the register moves a line to another customer with its
``activated_at`` kept and dates the change (``subscribers.holder_since``). The new customer's line features count
their own records alone, the line's age is counted from the change (premium calls days after a line changed hands
are a new line's), and a case opened on the previous customer labels nothing of the new one.

Before: fraud bounded a holding by ``activated_at`` alone: the previous customer's calls were in the new customer's
features, a line held for a year read as a year old to its new customer, and the previous customer's confirmed case
labelled the new customer's period as fraud."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from owner_change_seed import CHANGE, CN, KEPT, MOVED, owner_changed, utc
from test_billing_cli import rec

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.fraud import (
    CaseQueue,
    CaseStatus,
    Detector,
    FraudCase,
    compute_features,
    feature_table,
    label_from_cases,
)

PREMIUM = "8819000001"  # the catalog's intl-premium range


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)


@pytest.fixture(scope="module")
def subscribers(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Both lines active since 2025; on 10 March 2026 the register moves MOVED to another customer, its activation
    kept. The frame is the register's (msisdn, activated_at, holder_since), read back."""
    rows = owner_changed(tmp_path_factory.mktemp("owner-change"), first_import=_at(1), second_import=_at(12))
    return pl.DataFrame([(r.msisdn, utc(r.activated_at), utc(r.holder_since)) for r in rows],
                        schema={"msisdn": pl.String, "activated_at": pl.Datetime("us", "UTC"),
                                "holder_since": pl.Datetime("us", "UTC")}, orient="row")


def _usage() -> pl.DataFrame:
    """March: each line calls a domestic number daily; MOVED's previous customer also called premium numbers on the
    2nd and 3rd, and its new customer calls one on the 12th."""
    rows = [rec(f"{m}-{d}", m, started_at=_at(d), duration_s=60) for m in (MOVED, KEPT) for d in range(1, 29)]
    rows += [rec(f"{MOVED}-p{d}", MOVED, started_at=_at(d, 23), duration_s=600, peer=PREMIUM) for d in (2, 3, 12)]
    return pl.DataFrame(rows, schema=pl.Schema(CLEAN_USAGE_SCHEMA))


def _lines(subscribers: pl.DataFrame) -> dict[str, dict[str, object]]:
    found = compute_features(_usage(), catalog=load_catalog(default_catalog_path()), subscribers=subscribers)
    return {r["msisdn"]: r for r in found.lines.iter_rows(named=True)}


def test_the_new_customers_features_count_their_records_alone(subscribers: pl.DataFrame) -> None:
    lines = _lines(subscribers)
    assert lines[MOVED]["calls_out"] == 19 + 1  # the 10th to the 28th, and their one premium call
    assert lines[MOVED]["premium_calls"] == 1
    assert lines[KEPT]["calls_out"] == 28


def test_the_line_is_as_old_as_its_new_customers_holding(subscribers: pl.DataFrame) -> None:
    lines = _lines(subscribers)
    assert lines[MOVED]["line_age_days"] == pytest.approx((_at(10) - CHANGE.astimezone(UTC)).total_seconds() / 86400)
    assert lines[MOVED]["premium_line_age_days"] == pytest.approx(
        (_at(12, 23) - CHANGE.astimezone(UTC)).total_seconds() / 86400)
    assert lines[KEPT]["line_age_days"] > 400
    assert lines[MOVED]["activated_at"] == datetime(2025, 1, 1, tzinfo=CN)  # the line's activation itself is kept


def test_a_case_of_the_previous_customer_labels_nothing_of_the_new_one(subscribers: pl.DataFrame) -> None:
    from fairtel.fraud import holding_starts  # the holdings the labels are bounded by, from the register's frame

    starts = holding_starts(subscribers)
    assert starts == {MOVED: CHANGE.astimezone(UTC), KEPT: datetime(2025, 1, 1, tzinfo=CN).astimezone(UTC)}
    table = feature_table(pl.DataFrame([{"msisdn": m} for m in (MOVED, KEPT)]), period="2026-03")

    def confirmed(*cases: tuple[str, datetime]) -> CaseQueue:
        queue = CaseQueue([FraudCase(case_id=f"fc-{s}-{o:%d}", detector=Detector("irsf"), subject=s, period="2026-03",
                                     score=0.9, evidence={}, reasons=(), opened_at=o) for s, o in cases])
        for c in queue.cases():
            queue.decide(c.case_id, CaseStatus.CONFIRMED, by="analyst", at=_at(28))
        return queue

    labels = label_from_cases(table, confirmed((MOVED, _at(4)), (KEPT, _at(4))), holding_from=starts)
    assert dict(zip(labels["msisdn"].to_list(), labels["fraud"].to_list(), strict=True)) == {MOVED: 0, KEPT: 1}
    # a case opened on the new customer's calls is theirs
    assert label_from_cases(table, confirmed((MOVED, _at(13))), holding_from=starts)["fraud"].to_list() == [1, 0]
