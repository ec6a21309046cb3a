"""The consent gate refuses a suspended provider's charges from the instant it was suspended (and, lifted, until it
was lifted), not every charge it ever made: ``suspended`` may say since when per provider. The list of ids (one
assurance run's ``--suspend``) still refuses every charge. Before, ``suspended`` was a set of ids only, so a provider
suspended durably had its charges from before the suspension refused too (or, as rating passed none, none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.consent import gate_vas, offer_book, project_subscriptions
from fairtel.core.errors import InvalidInputError
from fairtel.rating._vas import consent_gate, no_gate

A = "8613800000001"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SUSPENDED_AT = datetime(2026, 3, 15, 4, tzinfo=UTC)
LIFTED_AT = datetime(2026, 5, 10, tzinfo=UTC)


def _subscriptions() -> pl.DataFrame:
    events = pl.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "event": ["ordered", "confirmed", "ordered", "confirmed"],
            "subscription_id": ["s-music", "s-music", "s-ring", "s-ring"],
            "msisdn": [A] * 4,
            "offer_id": ["vas-music-10", "vas-music-10", "vas-ringtone-2", "vas-ringtone-2"],
            "at": [T0 - timedelta(days=60), T0 - timedelta(days=60, minutes=-1)] * 2,
            "channel": ["sms"] * 4,
            "evidence": ["x1", "x2", "x3", "x4"],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )
    return project_subscriptions(events)


def _charges() -> pl.DataFrame:
    rows = [  # sp-melody sells both the music pack (monthly) and ringtones (per use)
        ("ring-before", "vas-ringtone-2", SUSPENDED_AT - timedelta(seconds=1), 200),
        ("ring-at", "vas-ringtone-2", SUSPENDED_AT, 200),
        ("music-april", "vas-music-10", datetime(2026, 4, 2, tzinfo=UTC), 1000),
        ("ring-after-lift", "vas-ringtone-2", LIFTED_AT, 200),
    ]
    return pl.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "source": ["spgw"] * len(rows),
            "msisdn": [A] * len(rows),
            "offer_id": [r[1] for r in rows],
            "started_at": [r[2] for r in rows],
            "amount_minor": [r[3] for r in rows],
            "currency": ["CNY"] * len(rows),
        },
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def _verdicts(gated: pl.DataFrame) -> dict[str, str]:
    return dict(zip(gated["record_id"], gated["verdict"], strict=True))


@pytest.fixture(scope="module")
def book() -> pl.DataFrame:
    catalog = load_catalog(default_catalog_path())
    from fairtel.consent import offers_frame

    return offers_frame(offer_book(catalog.offers, currency="CNY"))


def test_a_provider_suspended_since_an_instant_has_its_later_charges_refused(book: pl.DataFrame) -> None:
    gated = gate_vas(_charges(), _subscriptions(), book, suspended={"sp-melody": SUSPENDED_AT})
    assert _verdicts(gated) == {
        "ring-before": "consented",
        "ring-at": "merchant_suspended",
        "music-april": "merchant_suspended",
        "ring-after-lift": "merchant_suspended",
    }
    assert gated.filter(pl.col("verdict") == "merchant_suspended")["billable"].to_list() == [False] * 3


def test_a_lifted_suspension_refuses_only_the_charges_dated_within_it(book: pl.DataFrame) -> None:
    gated = gate_vas(_charges(), _subscriptions(), book, suspended={"sp-melody": ((SUSPENDED_AT, LIFTED_AT),)})
    assert _verdicts(gated) == {
        "ring-before": "consented",
        "ring-at": "merchant_suspended",
        "music-april": "merchant_suspended",
        "ring-after-lift": "consented",
    }


def test_the_old_forms_still_refuse_every_charge(book: pl.DataFrame) -> None:
    every = {"ring-before", "ring-at", "music-april", "ring-after-lift"}
    for form in (["sp-melody"], ("sp-melody",), {"sp-melody"}, {"sp-melody": None}):
        gated = gate_vas(_charges(), _subscriptions(), book, suspended=form)
        assert {r for r, v in _verdicts(gated).items() if v == "merchant_suspended"} == every, form
    assert set(_verdicts(gate_vas(_charges(), _subscriptions(), book)).values()) == {"consented"}
    assert set(_verdicts(gate_vas(_charges(), _subscriptions(), book, suspended={"sp-other": T0})).values()) == {
        "consented"
    }


def test_a_naive_instant_is_refused(book: pl.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="aware instant"):
        gate_vas(_charges(), _subscriptions(), book, suspended={"sp-melody": datetime(2026, 3, 15)})


def test_rating_gates_carry_the_suspensions() -> None:
    from fairtel.rating._vas import with_suspended

    catalog = load_catalog(default_catalog_path())
    gate = consent_gate(_subscriptions(), catalog)
    assert set(_verdicts(_as_frame(gate)).values()) == {"consented"}
    held = with_suspended(gate, {"sp-melody": ((SUSPENDED_AT, LIFTED_AT),)})
    assert held is not None
    assert _verdicts(_as_frame(held))["ring-at"] == "merchant_suspended"
    assert _verdicts(_as_frame(held))["ring-after-lift"] == "consented"
    # merged with what the gate was made with, and picklable for worker processes
    both = with_suspended(
        consent_gate(_subscriptions(), catalog, suspended={"sp-melody": LIFTED_AT}),
        {"sp-melody": ((SUSPENDED_AT, None),)},
    )
    import pickle

    again = pickle.loads(pickle.dumps(both))
    assert _verdicts(_as_frame(again))["ring-before"] == "consented"
    assert _verdicts(_as_frame(again))["ring-at"] == "merchant_suspended"
    assert with_suspended(no_gate, {"sp-melody": T0}) is no_gate  # bills nothing anyway


def _as_frame(gate: object) -> pl.DataFrame:
    charges = _charges()
    assert callable(gate)
    return charges.with_columns(gate(charges)["verdict"].alias("verdict"))
