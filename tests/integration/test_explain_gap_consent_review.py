"""`fairtel explain` (and the assistant, through the same ``explain_stored``) of a value-added charge whose order
confirmation charge assurance holds in doubt (an open or confirmed ``machine_speed_confirmation`` or
``replayed_evidence`` finding naming the record) tells the charge as under review, not as a confirmed order. Before:
"订购已确认" whatever assurance had found, because nothing passed the finding to the explanation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.settings import load_settings
from fairtel.rating._lines import RATED_COLUMNS
from fairtel.store import Finding
from fairtel.store._care import explain_stored
from fairtel.store._schema import table_of

CATALOG = load_catalog(default_catalog_path())
A = "8613800000001"


def _rated() -> pl.DataFrame:
    row = {c: None for c in RATED_COLUMNS} | {
        "record_id": "v1", "source": "vas", "line": 0, "msisdn": A, "period": "2026-09",
        "started_at": datetime(2026, 9, 3, 2, tzinfo=UTC), "kind": "vas", "plan_id": "basic-39",
        "rule_id": "vas/vas-wallpaper-3", "offset": 0, "quantity": 1, "unit": "item", "allowance_used": 0,
        "charged_quantity": 1, "amount_minor": 300, "currency": "CNY", "capped": False, "throttled": False,
        "verdict": "consented", "subscription_id": "sub-0000010"}
    return pl.DataFrame([row], schema=RATED_COLUMNS)


@pytest.mark.parametrize(("status", "under_review"), [("open", True), ("confirmed", True), ("dismissed", False)])
def test_a_charge_whose_confirmation_is_in_doubt_is_told_as_under_review(
        tmp_path: Path, status: str, under_review: bool) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    with app.db.begin() as conn:
        conn.execute(table_of(Finding).insert().values(
            finding_id="f1", kind="machine_speed_confirmation", msisdn=A, subscription_id="sub-0000010",
            record_ids=["v0", "v1"], amount_minor=300, currency="CNY", status=status,
            evidence={"seconds": 0.4}, detected_at=datetime(2026, 9, 4, tzinfo=UTC)))
    e = explain_stored(app.db, "v1", rated=_rated(), current=lambda: CATALOG, given=lambda: CATALOG)
    app.close()
    zh = e.render("zh")
    if under_review:
        assert e.consent_review == "machine_speed_confirmation"
        assert "订购已确认" not in zh and "正在核查" in zh, zh
    else:
        assert e.consent_review is None and "订购已确认" in zh, zh


def test_a_finding_about_other_records_changes_nothing(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    with app.db.begin() as conn:
        conn.execute(table_of(Finding).insert().values(
            finding_id="f2", kind="replayed_evidence", msisdn=A, record_ids=["v9"], status="open", evidence={},
            detected_at=datetime(2026, 9, 4, tzinfo=UTC)))
    e = explain_stored(app.db, "v1", rated=_rated(), current=lambda: CATALOG, given=lambda: CATALOG)
    app.close()
    assert e.consent_review is None and "订购已确认" in e.render("zh")
