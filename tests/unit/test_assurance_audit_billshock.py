"""Bill shock under a stopping cap: a subscriber who chose to continue past the cap keeps the service, so the
alert at the cap tells them what they spent, never that their service is paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from fairtel.assurance import EU_DATA_ROAMING, FindingKind, bill_shock_findings, bill_shock_messages

NOW = datetime(2026, 4, 2, tzinfo=UTC)
DAY = datetime(2026, 3, 1, tzinfo=UTC)
STAYS, CONTINUES = "8613800138000", "8613900139000"


def _rated() -> pl.DataFrame:
    rows = [(f"{m[-4:]}-{i}", m, DAY + timedelta(hours=i), amount) for m in (STAYS, CONTINUES) for i, amount in enumerate((4500, 1000))]
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "msisdn": [r[1] for r in rows], "started_at": [r[2] for r in rows],
         "amount_minor": [r[3] for r in rows], "currency": ["EUR"] * len(rows), "kind": ["data"] * len(rows),
         "roaming_country": ["FR"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def test_cut_off_notice_only_for_subscribers_whose_service_stops() -> None:
    found = bill_shock_findings(_rated(), EU_DATA_ROAMING, detected_at=NOW, opted_in={CONTINUES})
    at_cap = {f.msisdn: f for f in found if f.kind is FindingKind.BILL_SHOCK and f.evidence["threshold_pct"] == 100}
    assert at_cap[STAYS].evidence["stop_at_cap"] is True
    assert at_cap[CONTINUES].evidence["stop_at_cap"] is False
    # Only the subscriber who did not opt in has usage past the cap.
    assert [f.msisdn for f in found if f.kind is FindingKind.USAGE_PAST_CAP] == [STAYS]

    msgs = bill_shock_messages(found, languages={STAYS: "en", CONTINUES: "en"}, now=NOW)
    kinds = {(m.msisdn, m.kind) for m in msgs}
    assert (STAYS, "cutoff") in kinds
    assert (CONTINUES, "cutoff") not in kinds
    continuing = [m.text for m in msgs if m.msisdn == CONTINUES]
    assert len(continuing) == 2  # 80 % and 100 %
    assert not any("paused" in t for t in continuing)
    assert any("100%" in t and "55.00 EUR" in t for t in continuing)


def test_findings_about_a_number_are_named_with_the_operators_key() -> None:
    """Analysts see finding ids beside pseudonyms: an id hashed from the number alone could be matched by
    hashing every number of a range. Keyed, it cannot; a finding already held under its unkeyed id keeps it."""
    from fairtel.assurance import FINDING_ID_PURPOSE, FindingIds, finding_id
    from fairtel.core.ids import purpose_key

    plain = bill_shock_findings(_rated(), EU_DATA_ROAMING, detected_at=NOW)
    key = purpose_key("operator secret", FINDING_ID_PURPOSE)
    keyed = bill_shock_findings(_rated(), EU_DATA_ROAMING, detected_at=NOW, ids=FindingIds(key))
    assert len(keyed) == len(plain) and not {f.finding_id for f in keyed} & {f.finding_id for f in plain}
    first = next(f for f in plain if f.kind is FindingKind.BILL_SHOCK and f.msisdn == STAYS)
    assert first.finding_id == finding_id(FindingKind.BILL_SHOCK, first.evidence["policy"], STAYS,
                                          first.evidence["period"], first.evidence["threshold_pct"])
    again = bill_shock_findings(_rated(), EU_DATA_ROAMING, detected_at=NOW, ids=FindingIds(key, frozenset({first.finding_id})))
    kept = {f.finding_id for f in again}
    assert first.finding_id in kept and len(kept & {f.finding_id for f in keyed}) == len(keyed) - 1
