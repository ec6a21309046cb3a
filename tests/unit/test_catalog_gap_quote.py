"""`quote` prices only what ingest would accept, names what it cannot price, and never ignores a plan state."""

from __future__ import annotations

from typing import Any

import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.rating import quote

CALL = {"kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00", "duration_s": 95,
        "peer": "8613912345678"}


@pytest.fixture(scope="module")
def demo() -> Catalog:
    return load_catalog(default_catalog_path())


def problem(q: dict[str, Any]) -> str:
    assert q["error"]["code"] == "input_invalid", q
    (text,) = q["error"]["details"]["problems"]
    return str(text)


@pytest.mark.parametrize("record, expected", [
    # an outgoing call without a peer was priced in the fallback zone, as an international call (8.00)
    ({k: v for k, v in CALL.items() if k != "peer"}, "record[0] [peer]: required for outgoing voice and sms"),
    (CALL | {"peer": ""}, "record[0] [peer]: required for outgoing voice and sms"),
    ({k: v for k, v in CALL.items() if k != "direction"}, "record[0] [direction]: required for voice and sms"),
    # a value-added charge for an offer the catalog does not have was quoted at 0.00
    ({"kind": "vas", "started_at": "2026-03-03T10:00:00+08:00", "offer_id": "vas-nope"},
     "record[0] [offer_id]: no offer 'vas-nope' in the catalog"),
    ({"kind": "vas", "started_at": "2026-03-03T10:00:00+08:00"}, "record[0] [offer_id]: required for vas"),
])
def test_a_record_ingest_would_refuse_is_not_priced(demo: Catalog, record: dict[str, Any], expected: str) -> None:
    (q,) = quote([record], demo)
    assert "amount" not in q
    assert problem(q) == expected


@pytest.mark.parametrize("record, field", [
    (CALL | {"duration_s": 10**7}, "duration_s"),  # 115 days was priced; at 10**15 s the band walk never ended
    (CALL | {"duration_s": 2**63}, "duration_s"),  # raised a Polars overflow out of quote
    (CALL | {"started_at": "9999-12-31T23:59:59+00:00"}, "started_at"),  # raised OverflowError out of quote
    ({"kind": "data", "started_at": "2026-03-03T10:00:00+08:00", "bytes_up": 2**62, "bytes_down": 2**62}, "bytes_up"),
    ({"kind": "vas", "started_at": "2026-03-03T10:00:00+08:00", "offer_id": "vas-music-10", "amount": 1e30,
      "currency": "CNY"}, "amount"),
    (CALL | {"plan_id": "basic-39", "allowance_used": {"basic-39/voice": 10**30}}, "allowance_used"),
])
def test_out_of_range_values_are_input_errors_not_crashes(demo: Catalog, record: dict[str, Any], field: str) -> None:
    good, bad = quote([CALL, record], demo)
    assert (good["amount"], good["rule"]) == ("0.38", "payg/voice-domestic-peak")  # the other record is still priced
    assert problem(bad).startswith(f"record[1] [{field}]: ")


def test_an_allowance_the_plan_does_not_have_is_an_error_not_a_fresh_period(demo: Catalog) -> None:
    typo = CALL | {"plan_id": "basic-39", "allowance_used": {"basic-39/voices": 18_000}}
    right = CALL | {"plan_id": "basic-39", "allowance_used": {"basic-39/voice": 18_000}}
    bad, priced = quote([typo, right], demo)
    assert problem(bad) == "record[0] [allowance_used]: plan basic-39 has no allowance 'basic-39/voices'"
    assert priced["amount"] == "0.30"  # the allowance is used up: the call is charged


def test_a_vas_record_without_an_amount_is_quoted_at_its_offers_price(demo: Catalog) -> None:
    (q,) = quote([{"kind": "vas", "started_at": "2026-03-03T10:00:00+08:00", "offer_id": "vas-music-10"}], demo)
    assert (q["amount"], q["rule"]) == ("10.00", "offer/vas-music-10")
