"""A value-added charge whose confirmation charge assurance holds in doubt (an open machine-speed finding, given by
the caller that reads the findings) is not told as a confirmed order: the explanation says the second confirmation
(二次确认) is suspected not the subscriber's own and that the charge is under review. Without one it reads as before."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import explain
from fairtel.rating._lines import RATED_COLUMNS

CATALOG = load_catalog(default_catalog_path())


def _rated() -> pl.DataFrame:
    row = {c: None for c in RATED_COLUMNS} | {
        "record_id": "v1", "source": "vas", "line": 0, "msisdn": "8613800000001", "period": "2026-09",
        "started_at": datetime(2026, 9, 3, 2, tzinfo=UTC), "kind": "vas", "plan_id": "basic-39",
        "rule_id": "vas/vas-wallpaper-3", "offset": 0, "quantity": 1, "unit": "item", "allowance_used": 0,
        "charged_quantity": 1, "amount_minor": 300, "currency": "CNY", "capped": False, "throttled": False,
        "verdict": "consented", "subscription_id": "sub-0000010"}
    return pl.DataFrame([row], schema=RATED_COLUMNS)


def test_a_charge_under_review_is_not_told_as_confirmed() -> None:
    e = explain("v1", rated=_rated(), catalog=CATALOG, consent_review="machine_speed_confirmation")
    zh, en = e.render("zh"), e.render("en")
    assert "订购已确认" not in zh and "confirmed subscription" not in en, (zh, en)
    assert "增值业务“精美壁纸”：订购的二次确认疑似非本人操作（确认过快），该笔费用正在核查" in zh, zh
    assert "suspected not to be the subscriber's own (confirmed too fast for a person); the charge is under review" in en, en
    assert e.to_dict()["consent_review"] == "machine_speed_confirmation"


def test_another_kind_of_doubt_is_said_in_general_words_and_none_reads_as_before() -> None:
    zh = explain("v1", rated=_rated(), catalog=CATALOG, consent_review="something_new").render("zh")
    assert "订购的二次确认存疑，该笔费用正在核查" in zh and "something_new" not in zh, zh
    plain = explain("v1", rated=_rated(), catalog=CATALOG).render("zh")
    assert "增值业务“精美壁纸”：订购已确认，订购号 sub-0000010" in plain, plain
