"""The proof of a person's second confirmation (``second_step``: the one-time code fairtel sent by SMS, given
back) is written only by fairtel's own order and confirmation. A consent feed claiming it is refused, naming the
file, line and field: otherwise a fee-stealing provider's machine-speed confirmations would pass as a person's
(the machine-speed detector and the merchant ranking spare code-verified confirmations)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from fairtel.consent import parse_consent_lines
from fairtel.store import import_consent_events
from fairtel.store._engine import connect
from fairtel.store._migrate import migrate
from fairtel.store._schema import ConsentEvent, table_of

FORGED = {"second_step": {"method": "sms_code", "challenge_id": "c1", "code_verified": True}}


def _lines() -> list[str]:
    base = {"subscription_id": "s1", "msisdn": "8613800138000", "offer_id": "vas-music-10", "channel": "sms"}
    return [
        json.dumps({**base, "event": "ordered", "at": "2026-03-01T02:00:00+08:00",
                    "evidence": {"second_step": {"challenge_id": "c1", "code_sha256": "00" * 32}}}),
        json.dumps({**base, "event": "confirmed", "at": "2026-03-01T02:00:01+08:00", "evidence": FORGED}),
        json.dumps({**base, "subscription_id": "s2", "event": "ordered", "at": "2026-03-01T09:00:00+08:00",
                    "evidence": {"actor": "partner"}}),
    ]


def test_a_feed_claiming_the_second_step_is_refused_when_read() -> None:
    batch = parse_consent_lines(_lines(), file="feed.jsonl")
    assert [(p.file, p.line, p.field) for p in batch.problems] == [("feed.jsonl", 1, "evidence"), ("feed.jsonl", 2, "evidence")]
    assert batch.events["subscription_id"].to_list() == ["s2"]


def test_a_feed_claiming_the_second_step_is_refused_when_imported(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(_lines()) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        report = import_consent_events(conn, path)
    assert (report.read, report.accepted, report.rejected) == (3, 1, 2)
    assert {(p.line, p.field, p.code) for p in report.problems} == {(1, "evidence", "forged_second_step"),
                                                                    (2, "evidence", "forged_second_step")}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(ConsentEvent))).scalar_one() == 1


def test_the_merchant_ranking_spares_confirmations_that_gave_back_the_code() -> None:
    import polars as pl

    from fairtel.assurance import rank_merchants
    from fairtel.consent import Offer, OfferPeriod, offers_frame, project_subscriptions

    offers = {"vas-music-10": Offer("vas-music-10", "sp-melody", __import__("decimal").Decimal("10.00"), "CNY",
                                    OfferPeriod.MONTHLY)}
    base = {"offer_id": "vas-music-10", "channel": "web"}
    lines = []
    for i in range(4):  # each confirmed a second after its order, as a person typing the code on the console can
        sub, msisdn = f"s{i}", f"86138{i:08d}"
        lines += [json.dumps({**base, "event": "ordered", "subscription_id": sub, "msisdn": msisdn,
                              "at": f"2026-03-0{i + 1}T10:00:00+08:00"}),
                  json.dumps({**base, "event": "confirmed", "subscription_id": sub, "msisdn": msisdn,
                              "at": f"2026-03-0{i + 1}T10:00:01+08:00"})]
    events = parse_consent_lines(lines).events
    # fairtel's own order and confirmation (as the API records them) for the first two
    order = json.dumps({"second_step": {"method": "sms_code", "challenge_id": "c", "code_sha256": "00" * 32}})
    confirm = json.dumps({"second_step": {"method": "sms_code", "challenge_id": "c", "code_verified": True}})
    verified = pl.col("subscription_id").is_in(["s0", "s1"])
    events = events.with_columns(
        pl.when(verified & (pl.col("event") == "ordered")).then(pl.lit(order))
        .when(verified & (pl.col("event") == "confirmed")).then(pl.lit(confirm))
        .otherwise(pl.col("evidence")).alias("evidence"))
    ranking = rank_merchants(project_subscriptions(events), offers_frame(offers), events=events)
    assert ranking.row(0, named=True)["machine_speed_share"] == 0.5  # the two without the code only
