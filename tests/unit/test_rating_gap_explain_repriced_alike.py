"""``explain`` tells the record "as priced again" only when the rerate priced it otherwise than its bill: a record
priced away and back (two corrections that cancel out) showed its billed pricing twice."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from test_rating_gap_explain_tariff_change import RATED, USAGE, WAS

from fairtel.rating import explain
from fairtel.rating._explain import Correction


def test_priced_again_alike_is_not_told_twice() -> None:
    billed = int(RATED.filter(pl.col("record_id") == "v1")["amount_minor"].sum())
    assert billed > 0
    away = Correction("adj1", -billed, datetime(2026, 4, 2, tzinfo=UTC), billed, 0)
    back = Correction("adj2", billed, datetime(2026, 4, 9, tzinfo=UTC), 0, billed)
    e = explain("v1", rated=RATED, catalog=WAS, usage=USAGE, corrections=[away, back], repriced=RATED)
    assert e.repriced == ()
    zh, en = e.render("zh"), e.render("en")
    assert "重新计费后的计价" not in zh and "As priced again" not in en
    assert zh.count("× 0.19 元/分钟") == 1 and f"更正后本话单计：{billed / 100:.2f} 元" in zh


def test_priced_again_otherwise_is_told_after_the_correction() -> None:
    cheaper = RATED.with_columns(pl.col("amount_minor") * 0)  # the lines of b1 priced at nothing
    billed = int(RATED.filter(pl.col("record_id") == "v1")["amount_minor"].sum())
    fix = Correction("adj1", -billed, datetime(2026, 4, 2, tzinfo=UTC), billed, 0)
    e = explain("v1", rated=RATED, catalog=WAS, usage=USAGE, corrections=[fix], repriced=cheaper)
    assert e.repriced and "As priced again:" in e.render("en")
