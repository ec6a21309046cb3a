"""Complaints that name only a number count against the providers that subscribed or charged it, also when
other complaints in the same file name their offer (a file of complaints has an ``offer_id`` column as soon
as one complaint names an offer)."""

from __future__ import annotations

import polars as pl
from test_assurance_merchants_refunds import OFFERS, _population

from fairtel.assurance import rank_merchants
from fairtel.consent import offers_frame, project_subscriptions


def _complaints_of(ranking: pl.DataFrame, provider: str) -> int:
    return int(ranking.filter(pl.col("provider_id") == provider)["complaints"][0])


def test_a_complaint_without_an_offer_counts_in_a_file_where_others_name_theirs() -> None:
    events = _population()
    subs = project_subscriptions(events)
    luckystar_subscribers = [f"86139{i:08d}" for i in range(8)]
    complaints = pl.DataFrame(
        {
            "complaint_id": [f"c{i}" for i in range(11)],
            "msisdn": [*luckystar_subscribers, "8613800000001", "8613800000002", "8613900000009"],
            "category": ["vas"] * 8 + ["vas", "network", "network"],
            "offer_id": [None] * 8 + ["vas-news-5", None, None],
        }
    )
    ranking = rank_merchants(subs, offers_frame(OFFERS), events=events, complaints=complaints)
    # 8 complaints of sp-luckystar's subscribers naming no offer; network complaints count against no one.
    assert _complaints_of(ranking, "sp-luckystar") == 8
    assert _complaints_of(ranking, "sp-dailynews") == 1
    # The same complaints without the offer_id column are counted the same way for sp-luckystar.
    only_numbers = rank_merchants(subs, offers_frame(OFFERS), events=events, complaints=complaints.head(8).drop("offer_id"))
    assert _complaints_of(only_numbers, "sp-luckystar") == 8


def test_a_complaint_naming_its_provider_or_only_a_number_are_both_counted() -> None:
    events = _population()
    subs = project_subscriptions(events)
    complaints = pl.DataFrame(
        {
            "msisdn": ["8613900000001", "8613900000002"],
            "category": ["vas", "vas"],
            "provider_id": ["sp-luckystar", None],
        }
    )
    ranking = rank_merchants(subs, offers_frame(OFFERS), events=events, complaints=complaints)
    assert _complaints_of(ranking, "sp-luckystar") == 2
