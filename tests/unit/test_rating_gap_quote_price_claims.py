"""`fairtel quote` checks a value-added record's own amount and currency against its offer's price in force when
it was made, as rating's consent gate does: a record that claims another amount or currency is not quoted at the
offer's price (rating bills it nothing, ``price_mismatch``), and the error says what it claims and what the offer
costs."""

from __future__ import annotations

from typing import Any

import pytest

from fairtel.catalog import Catalog, default_catalog_path, parse_catalog
from fairtel.rating import quote

SEPT = "2026-09-03T10:00:00+08:00"
OCT = "2026-10-03T10:00:00+08:00"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The demo catalog, the music pack's price raised to 12.00 from 1 October."""
    text = default_catalog_path().read_text(encoding="utf-8").replace(
        'price = "10.00"\nperiod = "monthly"\ncategory = "music"\n',
        'price = "10.00"\nperiod = "monthly"\ncategory = "music"\n\n[[offers.price_changes]]\n'
        'from = "2026-10-01T00:00:00+08:00"\nprice = "12.00"\n', 1)
    parsed, problems = parse_catalog(text)
    assert parsed is not None, problems
    return parsed


def _vas(at: str, **claim: Any) -> dict[str, Any]:
    return {"record_id": "q", "kind": "vas", "offer_id": "vas-music-10", "started_at": at, **claim}


@pytest.mark.parametrize("claim, claimed", [
    ({"amount": "10.00", "currency": "USD"}, "10.00 USD"),
    ({"amount": "3", "currency": "JPY"}, "3 JPY"),
    ({"amount": "999.00", "currency": "CNY"}, "999.00 CNY"),
    ({"currency": "USD"}, "an amount in USD"),
])
def test_a_claim_other_than_the_offers_price_is_not_quoted_at_it(catalog: Catalog, claim: dict[str, Any],
                                                                  claimed: str) -> None:
    (q,) = quote([_vas(SEPT, **claim)], catalog)
    assert "amount" not in q
    assert q["error"]["code"] == "price_mismatch"
    assert f"claims {claimed}" in q["error"]["message"] and "costs 10.00 CNY" in q["error"]["message"]
    assert q["error"]["details"]["price"] == "10.00"


def test_the_price_compared_is_the_one_in_force_when_the_charge_was_made(catalog: Catalog) -> None:
    september, october_old, october_new, unclaimed = quote([
        _vas(SEPT, amount="10.00", currency="CNY"),
        _vas(OCT, amount="10.00", currency="CNY"),
        _vas(OCT, amount="12.00", currency="CNY"),
        _vas(OCT),
    ], catalog)
    assert september["amount"] == "10.00"
    assert october_old["error"]["code"] == "price_mismatch"
    assert "costs 12.00 CNY" in october_old["error"]["message"]
    assert october_new["amount"] == "12.00"
    assert unclaimed["amount"] == "12.00"  # no claim: quoted at the offer's price
