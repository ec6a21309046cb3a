"""A suspended provider is off sale (下架): ``store._merchants.on_sale`` leaves its offers out of what a subscriber is
offered and ``require_on_sale`` refuses an order or a confirmation of them (409 ``merchant_suspended``), on SQLite
and on PostgreSQL, as the suspension stood at the instant asked about. Before, a suspension only stopped the
provider's charges: its offers were still listed, ordered and confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.store import lift_merchant, suspend_merchant
from fairtel.store._merchants import MerchantSuspendedError, offer_suspension, on_sale, require_on_sale

T = datetime(2026, 11, 27, 12, 41, 51, tzinfo=UTC)


@dataclass(frozen=True)
class _Offer:
    id: str
    provider: str


OFFERS = [_Offer("vas-music-10", "sp-melody"), _Offer("vas-wallpaper-3", "sp-pixelart"), _Offer("vas-ringtone-2", "sp-melody")]


def test_a_suspended_providers_offers_are_not_on_sale(engine: Engine) -> None:
    with engine.begin() as conn:
        assert on_sale(conn, OFFERS, at=T) == OFFERS
        suspend_merchant(conn, "sp-pixelart", at=T, actor="ops1", reason="扣费 complaints")
        assert on_sale(conn, OFFERS, at=T - timedelta(seconds=1)) == OFFERS  # before the suspension
        assert on_sale(conn, OFFERS, at=T) == [OFFERS[0], OFFERS[2]]
        assert on_sale(conn, OFFERS, at=T + timedelta(days=1)) == [OFFERS[0], OFFERS[2]]
        lift_merchant(conn, "sp-pixelart", at=T + timedelta(days=2), actor="ops1", reason="settled")
        assert on_sale(conn, OFFERS, at=T + timedelta(days=1)) == [OFFERS[0], OFFERS[2]]  # still suspended then
        assert on_sale(conn, OFFERS, at=T + timedelta(days=3)) == OFFERS


def test_the_catalogs_offers_are_filtered_as_they_are(engine: Engine) -> None:
    catalog = load_catalog(default_catalog_path())
    with engine.begin() as conn:
        suspend_merchant(conn, "sp-pixelart", at=T, actor="ops1", reason="扣费")
        kept = on_sale(conn, catalog.offers, at=T + timedelta(minutes=1))
    assert [o.id for o in kept] == [o.id for o in catalog.offers if o.provider != "sp-pixelart"]
    assert "vas-wallpaper-3" not in {o.id for o in kept}


def test_an_order_of_a_suspended_provider_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        require_on_sale(conn, "sp-pixelart", "vas-wallpaper-3", at=T)  # not suspended: nothing raised
        suspend_merchant(conn, "sp-pixelart", at=T, actor="ops1", reason="扣费")
        require_on_sale(conn, "sp-melody", "vas-music-10", at=T)  # another provider sells on
        require_on_sale(conn, "sp-pixelart", "vas-wallpaper-3", at=T - timedelta(seconds=1))
        with pytest.raises(MerchantSuspendedError) as err:
            require_on_sale(conn, "sp-pixelart", "vas-wallpaper-3", at=T + timedelta(seconds=30))
        suspension = offer_suspension(conn, "sp-pixelart", at=T)
        assert suspension is not None and suspension.suspended_by == "ops1"
        lift_merchant(conn, "sp-pixelart", at=T + timedelta(hours=1), actor="ops1")
        require_on_sale(conn, "sp-pixelart", "vas-wallpaper-3", at=T + timedelta(hours=2))
        assert offer_suspension(conn, "sp-pixelart", at=T + timedelta(hours=2)) is None
    e = err.value
    assert e.code == "merchant_suspended"
    assert e.details["provider_id"] == "sp-pixelart" and e.details["offer_id"] == "vas-wallpaper-3"
    assert datetime.fromisoformat(e.details["suspended_since"]) == T
    assert "已暂停" in e.message and "suspended" in e.message
