"""`fairtel catalog import-cgrates`: a CGRateS tariff plan becomes a fairtel catalog that prices calls as
CGRateS does. The tutorial cases check our price against the cost CGRateS's own tests expect."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.catalog import (
    Catalog,
    import_cgrates,
    load_catalog,
    parse_catalog,
    plan_for_subject,
    price_steps,
    validate_catalog,
)
from fairtel.cli import app
from fairtel.core.contracts import UsageKind
from fairtel.core.errors import InvalidInputError, NotFoundError

TIMED = Path(__file__).resolve().parents[1] / "fixtures" / "cgrates" / "timed"
NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
runner = CliRunner()


def _catalog(directory: Path, **kwargs: object) -> Catalog:
    result = import_cgrates(directory, **kwargs)  # type: ignore[arg-type]
    catalog, problems = parse_catalog(result.text)
    assert not problems, problems
    assert catalog is not None
    return catalog


def _price(c: Catalog, plan_id: str, peer: str, quantity: int, *, kind: UsageKind = UsageKind.VOICE,
           at: datetime = NOW) -> tuple[str, Decimal] | None:
    """(rule id, amount) the way rating finds them: plan → zone → band → first matching rule → price_steps."""
    zone = c.zone_for(peer).id if kind is not UsageKind.DATA else None
    rule = c.plan(plan_id).rule_for(kind, zone=zone, band=c.band_at(at).id)
    if rule is None or rule.rate is None:
        return None
    return rule.id, price_steps(c.rate(rule.rate), quantity)


def _subject_price(c: Catalog, subject: str, peer: str, seconds: int, at: datetime = NOW) -> Decimal:
    priced = _price(c, plan_for_subject(c, subject, kind=UsageKind.VOICE, at=at), peer, seconds, at=at)
    assert priced is not None
    return priced[1]


# ---- the CGRateS tutorial plan against the costs in CGRateS's own tests

@pytest.fixture(scope="module")
def tutorial(shared_dir: Path) -> Catalog:
    return _catalog(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW)


# (what CGRateS's test asks, who, rating plan or subject, destination, seconds, CGRateS's cost)
TUTORIAL_CASES = [
    # general_tests/tutorial_it_test.go testTutorialGetCost: APIerSv1.GetCost 1001 → 1002, 2m10s
    ("subject", "1001", "1002", 130, "0.7169"),
    # apier/v1/apier2_it_test.go testAPIerGetRatingPlanCost: RatingPlansCost [RP_1001, RP_1002] → 1002, 1h
    ("plans", "RP_1001,RP_1002", "1002", 3600, "6.5118"),
    # testAPIerGetRatingPlanCost2: → 1003, 1h: RP_1001, 36 (the *disconnect max cost 0.12 is not applied)
    ("plans", "RP_1001,RP_1002", "1003", 3600, "36"),
    # testAPIerGetRatingPlanCost3: → 1001, 1h: RP_1001 has no rate for 1001, so RP_1002 prices it
    ("plans", "RP_1001,RP_1002", "1001", 3600, "6.5118"),
    # dispatchers/routes_it_test.go testDspSupGetSupFailover: least-cost routes for 1002 → 1001, 1m20s
    ("plans", "RP_1002_LOW", "1001", 80, "0.3166"),
    ("plans", "RP_1002", "1001", 80, "0.6334"),
]


@pytest.mark.parametrize(("how", "who", "destination", "seconds", "cgrates_cost"), TUTORIAL_CASES)
def test_tutorial_prices_agree_with_cgrates(tutorial: Catalog, how: str, who: str, destination: str, seconds: int,
                                            cgrates_cost: str) -> None:
    if how == "subject":
        ours = _subject_price(tutorial, who, destination, seconds)
    else:  # the first plan with a rate for the destination, as RatingPlansCost / routes do
        priced = next(p for p in (_price(tutorial, rp, destination, seconds) for rp in who.split(",")) if p)
        ours = priced[1]
    assert ours == Decimal(cgrates_cost)


def test_tutorial_per_increment_rounding_is_what_makes_it_agree(shared_dir: Path) -> None:
    exact = _catalog(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW, increment_decimals=None)
    assert _price(exact, "RP_1002_LOW", "1001", 80) == ("RP_1002_LOW/DR_1001_10CNT", Decimal("0.3167"))
    assert _subject_price(exact, "1001", "1002", 130) == Decimal("0.7167")


def test_tutorial_subjects_and_fallbacks(tutorial: Catalog) -> None:
    assert plan_for_subject(tutorial, "1001", kind="voice", at=NOW) == "RP_1001"
    # 1001 had RP_1002 from 2010 until RP_1001 took over on 2014-01-14
    assert plan_for_subject(tutorial, "1001", kind="voice", at=datetime(2013, 6, 1, tzinfo=UTC)) == "RP_1002"
    assert plan_for_subject(tutorial, "1003", kind="voice", at=NOW) == "RP_1003"
    # an SMS from 1001: no sms profile of its own → the '*any' sms profile
    assert plan_for_subject(tutorial, "1001", kind="sms", at=NOW) == "RP_SMS"
    priced = _price(tutorial, "RP_1001", "1002", 1, kind=UsageKind.SMS)
    assert priced == ("RP_SMS/DR_SMS", Decimal("0.0100"))
    with pytest.raises(NotFoundError):
        plan_for_subject(tutorial, "1005", kind="voice", at=NOW)  # no '*any' call profile in cgrates.org
    # RP_1001 rates 1002 and 1003 only: 1001 and the catch-all 10 are not priced, as CGRateS refuses them
    assert _price(tutorial, "RP_1001", "1001", 60) is None
    assert _price(tutorial, "RP_1001", "1005", 60) is None
    assert tutorial.operator.amount_decimals == 4


def test_tutorial_reports_what_it_does_not_carry_over(shared_dir: Path) -> None:
    result = import_cgrates(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", now=NOW)
    codes = {n.code for n in result.notes}
    assert {"multiple_tenants", "unsupported_category", "unsupported_max_cost", "plan_kind_guessed"} <= codes
    disconnect = next(n for n in result.notes if n.code == "unsupported_max_cost")
    assert disconnect.file.endswith("DestinationRates.csv") and disconnect.line == 4
    other = import_cgrates(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", tenant="cgrates.com", now=NOW)
    c, problems = parse_catalog(other.text)
    assert not problems and c is not None
    assert plan_for_subject(c, "anyone", kind="voice", at=NOW) == "RP_1001"


# ---- a plan of our own: timings, nested and shared prefixes, fallback subjects, data and SMS

@pytest.fixture(scope="module")
def timed() -> Catalog:
    return _catalog(TIMED, now=NOW)


def test_timings_become_bands_and_the_heavier_timing_wins(timed: Catalog) -> None:
    saturday = datetime(2025, 3, 8, 2, 0, tzinfo=UTC)
    tuesday_night = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert _price(timed, "RP_BASIC", "8613912345678", 61) == ("RP_BASIC/DR_CN_PEAK", Decimal("0.30"))
    assert _price(timed, "RP_BASIC", "8613912345678", 61, at=tuesday_night) == ("RP_BASIC/DR_CN_OFF", Decimal("0.12"))
    assert _price(timed, "RP_BASIC", "8613912345678", 61, at=saturday) == ("RP_BASIC/DR_CN_OFF", Decimal("0.12"))
    assert {b.id for b in timed.bands} == {"ALWAYS_OFF", "ALWAYS_OFF+PEAK"}


def test_longest_prefix_among_the_plans_own_destinations(timed: Catalog) -> None:
    # RP_FULL has the premium range 8529: capped at its *free max cost
    assert _price(timed, "RP_FULL", "85291234567", 7200) == ("RP_FULL/DR_PREM", Decimal("100"))
    # RP_BASIC does not: CGRateS falls back to the plan's shorter prefix 852
    assert _price(timed, "RP_BASIC", "85291234567", 95) == ("RP_BASIC/DR_HK", Decimal("2.90"))
    # 853 is in two destinations; RP_FULL rates one of them, RP_BASIC none
    assert _price(timed, "RP_FULL", "85312345678", 6) == ("RP_FULL/DR_MO", Decimal("0.65"))
    assert _price(timed, "RP_BASIC", "85312345678", 6) is None
    # the plan's *any destination only catches what none of its destinations match
    assert _price(timed, "RP_FULL", "441234567890", 60) == ("RP_FULL/DR_OTHER", Decimal("3.00"))
    assert _price(timed, "RP_FULL", "8613912345678", 60) == ("RP_FULL/DR_CN_PEAK", Decimal("0.15"))


def test_subjects_fallback_subjects_and_activation(timed: Catalog) -> None:
    assert plan_for_subject(timed, "8613800000001", kind="voice", at=NOW) == "RP_FULL"
    assert plan_for_subject(timed, "8613999999999", kind="voice", at=NOW) == "RP_BASIC"  # '*any'
    # a profile activated in the future is kept, and applies only from then on
    assert plan_for_subject(timed, "8613800000003", kind="voice", at=NOW) == "RP_BASIC"
    assert plan_for_subject(timed, "8613800000003", kind="voice", at=datetime(2099, 6, 1, tzinfo=UTC)) == "RP_FULL"
    # 8613800000002 falls back on 8613800000001's plan where its own has no rate
    composite = plan_for_subject(timed, "8613800000002", kind="voice", at=NOW)
    assert composite == "RP_BASIC+fallback:8613800000001"
    assert _subject_price(timed, "8613800000002", "441234567890", 60) == Decimal("3.00")
    assert _subject_price(timed, "8613800000002", "8613912345678", 61) == Decimal("0.30")  # its own plan first
    assert plan_for_subject(timed, "8613800000001", kind="data", at=NOW) == "RP_DATA"


def test_data_and_sms(timed: Catalog) -> None:
    exact = _catalog(TIMED, now=NOW, increment_decimals=None)
    assert _price(exact, "RP_BASIC", "", 5 * 1024 * 1024, kind=UsageKind.DATA) == ("RP_DATA/DR_DATA", Decimal("5.00"))
    # CGRateS rounds each 1 KiB increment (0.0009765625) to 5 decimals first: 5120 × 0.00098, *down
    assert _price(timed, "RP_BASIC", "", 5 * 1024 * 1024, kind=UsageKind.DATA) == ("RP_DATA/DR_DATA", Decimal("5.01"))
    assert _price(timed, "RP_FULL", "8613912345678", 3, kind=UsageKind.SMS) == ("RP_SMS/DR_SMS", Decimal("0.30"))


def _plan_dir(tmp_path: Path, **files: str) -> Path:
    for name in ("Destinations", "Rates", "DestinationRates", "Timings", "RatingPlans", "RatingProfiles"):
        src = TIMED / f"{name}.csv"
        (tmp_path / f"{name}.csv").write_text(files.get(name, src.read_text()), encoding="utf-8")
    return tmp_path


def test_unsupported_features_are_reported_not_dropped(tmp_path: Path) -> None:
    directory = _plan_dir(
        tmp_path,
        Rates=(TIMED / "Rates.csv").read_text() + "RT_FAST,0,0.01,1s,500ms,0s\n",
        DestinationRates=(TIMED / "DestinationRates.csv").read_text()
        + "DR_DISC,DST_HK,RT_HK,*up,2,5,*disconnect\nDR_FAST,DST_CN,RT_FAST,*up,2,0,\n",
        Timings=(TIMED / "Timings.csv").read_text() + "NEW_YEAR,*any,1,1,*any,00:00:00\n",
        RatingPlans=(TIMED / "RatingPlans.csv").read_text()
        + "RP_X,DR_DISC,*any,10\nRP_X,DR_FAST,*any,10\nRP_X,DR_CN_PEAK,NEW_YEAR,30\n",
        RatingProfiles=(TIMED / "RatingProfiles.csv").read_text()
        + "other.example,call,*any,2020-01-01T00:00:00Z,RP_FULL,\nop.example,mms,*any,2020-01-01T00:00:00Z,RP_X,\n"
        + "op.example,call,8613800000009,2020-01-01T00:00:00Z,RP_X,\n",
    )
    result = import_cgrates(directory, now=NOW)
    codes = [n.code for n in result.notes]
    for code in ("multiple_tenants", "unsupported_category", "unsupported_max_cost", "unsupported_unit",
                 "unsupported_timing", "future_activation"):
        assert code in codes, code
    assert all(n.file.startswith(str(directory)) for n in result.notes)
    c, problems = parse_catalog(result.text)
    assert not problems and c is not None
    # the *disconnect rate is imported without its max cost; the sub-second rate is left out (the '*any'
    # subject's plan prices what is left)
    assert _price(c, "RP_X", "85212345678", 3600) == ("RP_X/DR_DISC", Decimal("90.50"))
    priced = _price(c, "RP_X", "8613912345678", 60)
    assert priced is not None and not priced[0].startswith("RP_X/")


def test_broken_plan_lists_every_problem(tmp_path: Path) -> None:
    directory = _plan_dir(
        tmp_path,
        Rates="#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_A,0,abc,60s,60s,0s\n"
              "RT_B,0,0.1,sixty,60s,0s\n",
        DestinationRates="#Id,...\nDR_A,DST_NOWHERE,RT_B,*up,2,0,\nDR_B,DST_CN,RT_B,*sideways,2,0,\n",
        RatingPlans="#Id,DestinationRatesId,TimingTag,Weight\nRP_A,DR_MISSING,*any,10\n",
        RatingProfiles="#Tenant,...\nop.example,call,*any,yesterday,RP_A,\nop.example,call,1,2020-01-01T00:00:00Z,RP_Z,\n",
    )
    (directory / "Destinations.csv").unlink()
    with pytest.raises(InvalidInputError) as info:
        import_cgrates(directory)
    found = {(Path(p.file).name, p.line, p.code) for p in info.value.problems}
    assert ("Destinations.csv", None, "file_not_found") in found
    assert ("Rates.csv", 2, "wrong_type") in found and ("Rates.csv", 3, "bad_quantity") in found
    assert ("DestinationRates.csv", 2, "unknown_reference") in found
    assert ("DestinationRates.csv", 3, "unknown_reference") in found  # RT_B was not readable
    assert ("RatingPlans.csv", 2, "unknown_reference") in found
    assert ("RatingProfiles.csv", 2, "invalid_value") in found and ("RatingProfiles.csv", 3, "unknown_reference") in found


# ---- the catalog additions and the command

def test_subjects_and_amount_decimals_are_validated(tmp_path: Path) -> None:
    text = import_cgrates(TIMED, now=NOW).text
    bad = (text.replace('plan = "RP_FULL"\nkinds = ["voice"]\nfrom = 2020', 'plan = "RP_NOPE"\nkinds = ["voice"]\nfrom = 2020')
           .replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\namount_decimals = 1')
           .replace('kinds = ["data"]', 'kinds = ["fax"]')
           .replace("from = 2099-01-01T00:00:00Z", 'from = "soon"'))
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    problems = {(p.field, p.code) for p in validate_catalog(path)}
    assert ("operator.amount_decimals", "invalid_value") in problems
    assert ("subjects[1].plan", "unknown_reference") in problems
    assert ("subjects[4].kinds[0]", "invalid_value") in problems
    assert ("subjects[3].from", "invalid_value") in problems
    four = text.replace('rounding_decimals = 2\n', 'rounding_decimals = 4\n', 1)
    path.write_text(four, encoding="utf-8")
    assert [p.code for p in validate_catalog(path)] == ["rounding_too_fine"]


def test_command_writes_a_valid_catalog(tmp_path: Path) -> None:
    out = tmp_path / "imported" / "catalog.toml"
    result = runner.invoke(app, ["catalog", "import-cgrates", str(TIMED), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["tenant"] == "op.example" and data["counts"]["plans"] == 5
    assert [n["code"] for n in data["notes"]] == ["future_activation"]
    assert load_catalog(out).plan("RP_FULL").rule_sets == ("RP_FULL", "RP_BASIC", "RP_DATA", "RP_SMS")
    validated = runner.invoke(app, ["catalog", "validate", str(out)])
    assert validated.exit_code == 0 and "5 plans" in validated.stdout
    plain = runner.invoke(app, ["catalog", "import-cgrates", str(TIMED), "--out", str(out), "--currency", "USD",
                                "--timezone", "UTC", "--category", "mms=sms"])
    assert plain.exit_code == 0 and "note: " in plain.stdout
    assert load_catalog(out).operator.currency == "USD"
    missing = runner.invoke(app, ["catalog", "import-cgrates", str(tmp_path / "none"), "--out", str(out)])
    assert missing.exit_code == 2
    bad_category = runner.invoke(app, ["catalog", "import-cgrates", str(TIMED), "--out", str(out),
                                       "--category", "mms=fax"])
    assert bad_category.exit_code == 2


def test_quote_of_an_imported_plan_gives_cgrates_cost_to_its_decimals(tutorial: Catalog) -> None:
    """`fairtel quote --catalog` on a CGRateS subject's call: the cost CGRateS gives (2m10s from 1001 to 1002:
    0.7169), not the fen the rated line keeps."""
    from fairtel.rating import quote

    rec = {"record_id": "c1", "msisdn": "1001", "kind": "voice", "direction": "out", "peer": "1002",
           "started_at": NOW.isoformat(), "duration_s": 130}
    (q,) = quote([rec], tutorial)
    assert (q["amount"], q["plan_id"]) == ("0.7169", "RP_1001"), q
    assert q["lines"][0]["amount"] == "0.7200"  # what a bill charges (minor units), at the catalog's scale
