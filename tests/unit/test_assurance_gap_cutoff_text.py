"""The SMS at the cap of a stopping bill-shock policy says what fairtel does: nothing pauses the service and no
reply is read, so it promises neither; usage past the cap is refunded on the next bill. In zh and in en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from fairtel.assurance import EU_DATA_ROAMING, bill_shock_findings, bill_shock_messages

NOW = datetime(2026, 4, 2, tzinfo=UTC)
DAY = datetime(2026, 3, 1, tzinfo=UTC)
ZH, EN = "8613800138000", "8613900139000"


def _rated() -> pl.DataFrame:
    rows = [(f"{m[-4:]}-{i}", m, DAY + timedelta(hours=i), amount) for m in (ZH, EN) for i, amount in enumerate((4500, 1000))]
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "msisdn": [r[1] for r in rows], "started_at": [r[2] for r in rows],
         "amount_minor": [r[3] for r in rows], "currency": ["EUR"] * len(rows), "kind": ["data"] * len(rows),
         "roaming_country": ["FR"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def test_the_cutoff_sms_promises_the_refund_not_a_pause() -> None:
    found = bill_shock_findings(_rated(), EU_DATA_ROAMING, detected_at=NOW)
    cut = {m.msisdn: m.text for m in bill_shock_messages(found, languages={ZH: "zh", EN: "en"}, sender="T", now=NOW)
           if m.kind == "cutoff"}
    assert set(cut) == {ZH, EN}
    assert "暂停" not in cut[ZH] and "回复" not in cut[ZH] and "继续" not in cut[ZH]
    assert "退还" in cut[ZH] and "下期账单" in cut[ZH]
    assert "paused" not in cut[EN] and "Reply" not in cut[EN] and "CONTINUE" not in cut[EN]
    assert "refunded on your next bill" in cut[EN]
