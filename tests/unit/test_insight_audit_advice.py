"""Best-plan advice, audited against what the bill does and what a subscriber is told: only plans on offer
are advised, the fee of a partial month is pro-rated as on the bill, a subscriber counts once, a month in
which the advised plan costs more is disclosed, and an offer a plan includes is priced as on the bill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fairtel.billing import Account, prorated_fee_minor, run_bills
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.core.time import Period
from fairtel.insight import advise, notice_text
from fairtel.rating import price_only_gate, rate

CATALOG = load_catalog(default_catalog_path())
GIB = 1 << 30
LIGHT, HEAVY, FITTING = "8613800000001", "8613800000002", "8613800000003"


def records(msisdn: str, month: int, *, day: int = 25, sms: int = 0, gib: int = 0, minutes: int = 0,
            vas: str | None = None) -> list[dict[str, object]]:
    at = datetime(2026, month, day, 3, tzinfo=UTC)  # 11:00 in Shanghai
    rows: list[dict[str, object]] = []
    for i in range(sms):
        rows.append({"kind": "sms", "direction": "out", "peer": "8613912345678", "started_at": at + timedelta(minutes=i)})
    for i in range(gib):
        rows.append({"kind": "data", "bytes_down": GIB, "started_at": at + timedelta(hours=1, minutes=i)})
    if minutes:
        rows.append({"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": minutes * 60,
                     "started_at": at + timedelta(hours=2)})
    if vas:
        rows.append({"kind": "vas", "offer_id": vas, "amount": "10.00", "currency": "CNY",
                     "started_at": at + timedelta(hours=3)})
    return [{"record_id": f"{msisdn}-{month}-{i}", "source": "t", "msisdn": msisdn, **r} for i, r in enumerate(rows)]


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    overrides = {"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_down": pl.Int64,
                 "amount": pl.String, "offer_id": pl.String}
    return pl.DataFrame(rows, infer_schema_length=None, schema_overrides=overrides)


USAGE = frame(
    records(LIGHT, 9, sms=2) + records(LIGHT, 10, sms=1)
    + records(HEAVY, 9, gib=60, minutes=900) + records(HEAVY, 10, gib=55, minutes=800)
    + records(FITTING, 9, sms=40, gib=8, minutes=250) + records(FITTING, 10, sms=60, gib=9, minutes=280)
)


def test_a_plan_held_by_someone_else_but_not_on_offer_is_never_advised() -> None:
    # on sale: basic-39 and unlimited-129; senior-19 and payg are only held by existing subscribers
    subs = pl.DataFrame({"msisdn": [LIGHT, HEAVY, FITTING], "plan_id": ["senior-19", "payg", "basic-39"]})
    result = advise(USAGE, CATALOG, subs, months=2, plans=["basic-39", "unlimited-129"])
    advice = {r["msisdn"]: r for r in result.advice.iter_rows(named=True)}
    for row in advice.values():
        assert row["best_plan"] in {"basic-39", "unlimited-129", row["current_plan"]}
    # payg would be cheapest for LIGHT, but it is closed to new subscribers: LIGHT stays on its own plan
    assert advice[LIGHT]["best_plan"] == "senior-19" and not advice[LIGHT]["switch"]
    assert advice[HEAVY]["best_plan"] == "unlimited-129"
    assert result.plans == ("basic-39", "unlimited-129")
    assert result.summary()["would_save"] == 1


def test_fee_of_the_month_of_activation_is_prorated_as_on_the_bill() -> None:
    tz = CATALOG.operator.timezone
    activated = datetime(2026, 10, 21, 9, tzinfo=UTC)  # 17:00 in Shanghai: 11 of October's 31 days in service
    usage = frame(records(FITTING, 10, day=25, minutes=200, sms=10))
    subs = pl.DataFrame({"msisdn": [FITTING], "plan_id": ["basic-39"], "activated_at": [activated]},
                        schema_overrides={"activated_at": pl.Datetime("us", "UTC")})
    whole = advise(usage, CATALOG, subs, months=1).advice.row(0, named=True)  # whole months, as Megaline bills
    assert whole["current_minor"] == 3900 and whole["best_plan"] == "payg"
    result = advise(usage, CATALOG, subs, months=1, prorate=True)
    period = Period.parse("2026-10", tz)
    fees = {p.id: int(p.monthly_fee * 100) for p in CATALOG.plans}
    for row in result.costs.iter_rows(named=True):
        assert row["fee_minor"] == prorated_fee_minor(fees[row["plan_id"]], activated, period)[0]
    # what the subscriber paid is what the bill run charged for that month
    rated = rate(usage, CATALOG, {FITTING: "basic-39"}, period="2026-10").rated
    bill = run_bills(rated, CATALOG, [Account(FITTING, "basic-39", activated)], period="2026-10",
                     issued_at=datetime(2026, 11, 1, tzinfo=UTC), run_id="r1").bills[0]
    row = result.advice.row(0, named=True)
    assert row["current_minor"] == bill.total_minor == 1384  # 39.00 × 11 / 31, rounded once
    # with full fees payg (25.00, no fee) looks cheaper than basic-39 (39.00); for the 11 days it was not
    payg = result.costs.filter(pl.col("plan_id") == "payg")["total_minor"].item()
    assert payg > row["current_minor"] and row["best_plan"] == "basic-39" and not row["switch"]


def test_a_subscriber_listed_twice_is_counted_once() -> None:
    subs = pl.DataFrame({"msisdn": [LIGHT, HEAVY, FITTING, HEAVY],
                         "plan_id": ["unlimited-129", "payg", "basic-39", "payg"]})
    once = advise(USAGE, CATALOG, subs.head(3), months=2)
    twice = advise(USAGE, CATALOG, subs, months=2)
    assert twice.advice["msisdn"].is_unique().all()
    assert twice.summary()["would_save"] == once.summary()["would_save"]
    assert twice.summary()["total_saving_minor"] == once.summary()["total_saving_minor"]
    clash = subs.with_columns(pl.Series("plan_id", ["unlimited-129", "payg", "basic-39", "basic-39"]))
    with pytest.raises(InvalidInputError):
        advise(USAGE, CATALOG, clash, months=2)


def test_a_month_in_which_the_advised_plan_costs_more_is_disclosed() -> None:
    # three light months and one heavy one: unlimited-129 is cheaper over the four, dearer in three of them
    usage = frame(
        records(HEAVY, 7, gib=1) + records(HEAVY, 8, gib=1) + records(HEAVY, 9, gib=1)
        + records(HEAVY, 10, gib=150, minutes=1000)
    )
    subs = pl.DataFrame({"msisdn": [HEAVY], "plan_id": ["basic-39"]})
    result = advise(usage, CATALOG, subs, months=4, plans=["basic-39", "unlimited-129"])
    row = result.advice.row(0, named=True)
    assert row["switch"] and row["best_plan"] == "unlimited-129"
    monthly = result.costs.pivot("plan_id", index="period", values="total_minor").sort("period")
    dearer = monthly.filter(pl.col("unlimited-129") > pl.col("basic-39"))
    assert row["dearer_months"] == dearer.height == 3
    assert row["most_extra_minor"] == (dearer["unlimited-129"] - dearer["basic-39"]).max() == 12900 - 3900
    en, zh = notice_text(row, CATALOG, "en"), notice_text(row, CATALOG, "zh")
    assert "in 3 of these months" in en and "90.00 CNY more" in en
    assert "3 个月" in zh and "90.00 CNY" in zh
    calm = advise(USAGE, CATALOG, pl.DataFrame({"msisdn": [LIGHT], "plan_id": ["unlimited-129"]}), months=2)
    quiet = calm.advice.row(0, named=True)
    assert quiet["switch"] and quiet["dearer_months"] == 0 and "cost more" not in notice_text(quiet, CATALOG, "en")


def test_an_offer_a_plan_includes_is_free_on_that_plan_when_charges_are_priced() -> None:
    text = default_catalog_path().read_text(encoding="utf-8") + (
        '\n[[plans]]\nid = "music-45"\nname = { zh = "音乐套餐 45 元", en = "Music 45" }\nmonthly_fee = "45.00"\n'
        'rule_sets = ["home-incoming", "international", "roaming"]\nincluded_offers = ["vas-music-10"]\n\n'
        '[[plans.allowances]]\nid = "music-45/sms"\nkind = "sms"\nquantity = 100\ndirections = "out"\nzones = ["domestic"]\n\n'
        '[[plans.rules]]\nid = "music-45/sms-domestic"\nkind = "sms"\ndirections = "out"\nzones = ["domestic"]\n'
        'rate = "sms-dom-010"\n'
    )
    catalog, problems = parse_catalog(text, file="test.toml")
    assert catalog is not None, problems
    usage = frame(records(LIGHT, 9, sms=5, vas="vas-music-10") + records(LIGHT, 10, sms=5, vas="vas-music-10"))
    subs = pl.DataFrame({"msisdn": [LIGHT], "plan_id": ["basic-39"]})
    priced = advise(usage, catalog, subs, months=2, plans=["basic-39", "music-45"], gate=price_only_gate)
    row = priced.advice.row(0, named=True)
    # basic-39 + the music pack: 2 × (39 + 10); music-45 includes it: 2 × 45
    assert row["current_minor"] == 2 * 4900 and row["best_plan"] == "music-45" and row["best_minor"] == 2 * 4500
    assert row["switch"] and row["saving_minor"] == 800
    # the notice says what it counted: VAS in (priced), or left out
    assert priced.vas_priced and "value-added services you confirmed included" in notice_text(row, catalog, "en", vas_priced=True)
    assert "含您已确认订购的增值业务" in notice_text(row, catalog, "zh", vas_priced=True)
    # without a consent gate VAS is left out, as before
    unpriced = advise(usage, catalog, subs, months=2, plans=["basic-39", "music-45"])
    plain = unpriced.advice.row(0, named=True)
    assert plain["best_plan"] == "basic-39" and plain["current_minor"] == 2 * 3900
    assert not unpriced.vas_priced and "leaves out value-added services" in notice_text(row, catalog, "en")
