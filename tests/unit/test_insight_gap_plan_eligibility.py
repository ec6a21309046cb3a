"""Plan advice advises only plans the subscriber could order: the senior plan only to a subscriber whose age is
known to be 60 or over (it was advised to everyone whose usage it fitted), no plan withdrawn from sale,
outside its sale window or sold only through another channel; ``plans`` / ``--plans`` restricts the candidates
(an unknown id is refused by name); ``explain`` says why each plan was or was not advised, without the age."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import InvalidInputError, NotFoundError
from fairtel.insight import AdviceResult, advise, best_plans, price_months, split_by_period

CATALOG = load_catalog(default_catalog_path())
GIB = 1 << 30
FITS, HOLDER, HEAVY = "8613800000011", "8613800000012", "8613800000013"
AT = datetime(2026, 10, 20, 4, tzinfo=UTC)


def records(msisdn: str, month: int, *, sms: int = 0, gib: int = 0, minutes: int = 0) -> list[dict[str, object]]:
    at = datetime(2026, month, 10, 3, tzinfo=UTC)  # 11:00 in Shanghai
    rows: list[dict[str, object]] = []
    for i in range(sms):
        rows.append({"kind": "sms", "direction": "out", "peer": "8613912345678", "started_at": at + timedelta(minutes=i)})
    for i in range(gib):
        rows.append({"kind": "data", "bytes_down": GIB, "started_at": at + timedelta(hours=1, minutes=i)})
    if minutes:
        rows.append({"kind": "voice", "direction": "out", "peer": "8613912345678", "duration_s": minutes * 60,
                     "started_at": at + timedelta(hours=2)})
    return [{"record_id": f"{msisdn}-{month}-{i}", "source": "t", "msisdn": msisdn, **r} for i, r in enumerate(rows)]


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64,
                                                "bytes_down": pl.Int64})


# FITS: 100 min, 10 SMS and 1 GiB a month: 19.00 a month on senior-19 (all inside its allowances), 39.00 on
# basic-39, and on payg 25.00 in September (peak calls) and 18.00 in October (a Saturday, off-peak). HOLDER
# uses the same on senior-19; HEAVY is a heavy user on payg.
USAGE = frame(
    records(FITS, 9, sms=10, gib=1, minutes=100) + records(FITS, 10, sms=10, gib=1, minutes=100)
    + records(HOLDER, 9, sms=10, gib=1, minutes=100) + records(HOLDER, 10, sms=10, gib=1, minutes=100)
    + records(HEAVY, 9, gib=60, minutes=900) + records(HEAVY, 10, gib=55, minutes=800)
)
SUBSCRIBERS = pl.DataFrame({"msisdn": [FITS, HOLDER, HEAVY], "plan_id": ["basic-39", "senior-19", "payg"]})


def best(result: AdviceResult) -> dict[str, str]:
    return dict(zip(result.advice["msisdn"].to_list(), result.advice["best_plan"].to_list(), strict=True))


def with_eligibility(plan_id: str, line: str) -> Catalog:
    """The default catalog with ``line`` (an ``eligibility = {...}``) added to ``plan_id``."""
    text = default_catalog_path().read_text(encoding="utf-8")
    head = f'id = "{plan_id}"\n'
    assert text.count(head) == 1
    catalog, problems = parse_catalog(text.replace(head, head + line + "\n"), file="t.toml")
    assert catalog is not None, problems
    return catalog


def test_the_senior_plan_is_not_advised_when_the_age_is_not_known() -> None:
    result = advise(USAGE, CATALOG, SUBSCRIBERS, months=2)
    assert best(result)[FITS] == "payg"  # senior-19 would cost less, but nobody knows FITS is 60 or over
    assert result.refused.filter(pl.col("msisdn") == FITS).rows() == [(FITS, "senior-19", "age_unknown")]
    # its holder keeps it, is priced on it and is refused nothing
    assert best(result)[HOLDER] == "senior-19"
    assert result.refused.filter(pl.col("msisdn") == HOLDER).height == 0
    refused = result.summary()["refused"]
    assert refused == [{"plan_id": "senior-19", "subscribers": 2, "code": "age_unknown",
                        "zh": "仅限 60 周岁及以上用户办理，用户年龄未知",
                        "en": "only for subscribers aged 60 or over; the subscriber's age is not known"}]


def test_the_senior_plan_is_advised_to_a_subscriber_known_to_be_old_enough() -> None:
    old = advise(USAGE, CATALOG, SUBSCRIBERS, months=2, at=AT, ages={FITS: 60})
    row = old.advice.filter(pl.col("msisdn") == FITS).row(0, named=True)
    assert row["best_plan"] == "senior-19" and row["switch"] and row["saving_minor"] == 2 * (3900 - 1900)
    young = advise(USAGE, CATALOG, SUBSCRIBERS, months=2, at=AT, ages={FITS: 59, HEAVY: 61})
    assert best(young)[FITS] == "payg"
    assert young.refused.filter(pl.col("msisdn") == FITS)["reason"].to_list() == ["under_min_age"]
    assert best(young)[HEAVY] == "unlimited-129"  # old enough, but the senior plan cannot carry this use cheaper


def test_a_plan_withdrawn_from_sale_is_advised_to_no_one_but_its_holders_keep_it() -> None:
    catalog = with_eligibility("payg", "eligibility = { on_sale = false }")
    subs = SUBSCRIBERS.with_columns(pl.Series("plan_id", ["basic-39", "payg", "unlimited-129"]))
    result = advise(USAGE, catalog, subs, months=2, at=AT)
    assert best(result)[FITS] == "basic-39"  # payg was the cheapest it could order; now nothing beats its own
    assert best(result)[HOLDER] == "payg"  # its own plan, withdrawn or not
    assert "payg" not in result.plans
    assert [r.code for r in result.excluded["payg"]] == ["withdrawn"]
    assert result.summary()["excluded"] == [{"plan_id": "payg", "reasons": [
        {"code": "withdrawn", "zh": "已停售，不再受理新办", "en": "withdrawn from sale: closed to new orders"}]}]


def test_the_sale_window_is_read_at_the_instant_of_the_advice() -> None:
    catalog = with_eligibility("payg", 'eligibility = { sale_from = 2026-10-01T00:00:00+08:00, '
                                       'sale_until = 2026-11-01T00:00:00+08:00 }')
    assert best(advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT))[FITS] == "payg"
    ended = advise(USAGE, catalog, SUBSCRIBERS, months=2, at=datetime(2026, 10, 31, 16, tzinfo=UTC))
    assert best(ended)[FITS] == "basic-39" and [r.code for r in ended.excluded["payg"]] == ["sale_ended"]
    early = advise(USAGE, catalog, SUBSCRIBERS, months=2, at=datetime(2026, 9, 30, 15, 59, tzinfo=UTC))
    assert [r.code for r in early.excluded["payg"]] == ["not_yet_on_sale"]


def test_a_plan_sold_only_through_some_channels_is_advised_only_through_them() -> None:
    catalog = with_eligibility("payg", 'eligibility = { channels = ["app", "web"] }')
    assert best(advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT, channel="app"))[FITS] == "payg"
    store = advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT, channel="store")
    assert best(store)[FITS] == "basic-39" and store.excluded["payg"][0].en == "sold only through app, web (not through store)"
    unnamed = advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT)
    assert best(unnamed)[FITS] == "basic-39" and [r.code for r in unnamed.excluded["payg"]] == ["channel"]
    with pytest.raises(InvalidInputError, match="channel"):
        advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT, channel="fax")


def test_plans_restrict_the_candidates_and_an_unknown_id_is_refused_by_name() -> None:
    result = advise(USAGE, CATALOG, SUBSCRIBERS, months=2, at=AT, plans=["basic-39", "unlimited-129"])
    assert result.plans == ("basic-39", "unlimited-129")
    assert {p: [r.code for r in why] for p, why in result.excluded.items()} == {
        "payg": ["not_requested"], "senior-19": ["not_requested"]}
    assert best(result)[FITS] == "basic-39"
    with pytest.raises(InvalidInputError) as info:
        advise(USAGE, CATALOG, SUBSCRIBERS, months=2, at=AT, plans=["basic-39", "unlimted-129"])
    assert [p.message for p in info.value.problems] == [
        "unknown plan 'unlimted-129' (did you mean 'unlimited-129'?); the catalog's plans: basic-39, unlimited-129, "
        "payg, senior-19"]


def test_explain_says_why_each_plan_was_or_was_not_advised_without_the_age() -> None:
    catalog = with_eligibility("unlimited-129", "eligibility = { on_sale = false }")
    result = advise(USAGE, catalog, SUBSCRIBERS, months=2, at=AT, ages={FITS: 47})
    why = result.explain(FITS)
    assert (why["current_plan"], why["best_plan"], why["switch"]) == ("basic-39", "payg", True)
    plans = {p["plan_id"]: p for p in why["plans"]}
    assert list(plans) == ["basic-39", "payg", "senior-19", "unlimited-129"]  # its own first, then on offer, excluded
    assert plans["basic-39"]["current"] and plans["basic-39"]["total"] == "78.00" and not plans["basic-39"]["reasons"]
    assert plans["payg"]["advised"] and plans["payg"]["total"] == "43.00"
    assert [r["code"] for r in plans["senior-19"]["reasons"]] == ["under_min_age"]
    assert plans["senior-19"]["total"] == "38.00"  # priced (its holder is), not advisable to FITS
    assert [r["code"] for r in plans["unlimited-129"]["reasons"]] == ["withdrawn"]
    assert "47" not in json.dumps(why, ensure_ascii=False)
    with pytest.raises(NotFoundError):
        result.explain("8613800009999")


def test_best_plans_without_candidates_weighs_every_plan_priced() -> None:
    costs = price_months(split_by_period(USAGE, CATALOG), CATALOG, [FITS], plans=["basic-39", "payg"])
    advice = best_plans(costs, SUBSCRIBERS.filter(pl.col("msisdn") == FITS), currency="CNY")
    assert advice["best_plan"].to_list() == ["payg"]  # it compared the current plan with itself only


# -- fairtel advise --plans / --explain / --channel on a home ------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow as pa

    from fairtel.bootstrap import bootstrap
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.core.settings import load_settings
    from fairtel.store import import_subscribers

    root = tmp_path_factory.mktemp("advise")
    subs_csv = root / "subscribers.csv"
    SUBSCRIBERS.with_columns(
        pl.Series("customer_id", ["c1", "c2", "c3"]), pl.lit("2025-01-01T00:00:00+08:00").alias("activated_at"),
        pl.lit("active").alias("status"), pl.Series("language", ["zh", "en", "zh"]), pl.lit("shanghai").alias("region"),
    ).select("msisdn", "customer_id", "plan_id", "activated_at", "status", "language", "region").write_csv(subs_csv)
    with bootstrap(load_settings(home=root / "home")) as app:
        with app.db.begin() as conn:
            import_subscribers(conn, subs_csv)
        for key, part in split_by_period(USAGE, CATALOG).items():
            full = part.with_columns(pl.lit(None, dtype=pl.Int64).alias("bytes_up"))
            cols = [pl.col(f.name) if f.name in full.columns else pl.lit(None).alias(f.name) for f in CLEAN_USAGE_SCHEMA]
            table = full.select(cols).to_arrow()
            app.lake.write("usage", key, pa.Table.from_arrays(
                [table.column(i).cast(f.type) for i, f in enumerate(CLEAN_USAGE_SCHEMA)], schema=CLEAN_USAGE_SCHEMA), part="p0")
    return root / "home"


def _cli(home: Path, *args: str) -> tuple[int, str]:
    import typer
    from typer.testing import CliRunner

    from fairtel.cli._insight import register

    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["advise", "--home", str(home), "--months", "2", *args])
    return res.exit_code, res.output


def test_cli_advises_no_senior_plan_from_a_home_without_ages(home: Path) -> None:
    code, out = _cli(home, "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert all(m["to"] != "senior-19" for m in doc["moves"])
    assert doc["refused"][0]["plan_id"] == "senior-19" and doc["refused"][0]["code"] == "age_unknown"
    code, text = _cli(home)
    assert code == 0, text
    assert "not advised to 2 subscribers: senior-19: only for subscribers aged 60 or over" in " ".join(text.split())


def test_cli_plans_restricts_and_names_an_unknown_id(home: Path) -> None:
    code, out = _cli(home, "--plans", "basic-39,unlimited-129", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["plans"] == ["basic-39", "unlimited-129"]
    assert {m["to"] for m in doc["moves"]} <= {"basic-39", "unlimited-129"}
    code, out = _cli(home, "--plans", "basic-39", "--plans", "gold-99", "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "input_invalid"
    assert error["details"]["problems"] == [
        "--plans: unknown plan 'gold-99'; the catalog's plans: basic-39, unlimited-129, payg, senior-19"]
    code, out = _cli(home, "--plans", " , ", "--json")
    assert code == 2 and "no plan id given" in out


def test_cli_explain_one_subscriber(home: Path) -> None:
    code, out = _cli(home, "--explain", FITS, "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["subscribers"] == 1 and doc["explain"]["best_plan"] == "payg"
    senior = next(p for p in doc["explain"]["plans"] if p["plan_id"] == "senior-19")
    assert [r["code"] for r in senior["reasons"]] == ["age_unknown"] and senior["total"] is None
    code, text = _cli(home, "--explain", FITS, "--language", "zh")
    assert code == 0, text
    assert "senior-19：未计算；不建议：仅限 60 周岁及以上用户办理，用户年龄未知" in text
    assert "payg：43.00 CNY；建议更换" in text and "basic-39：78.00 CNY；当前套餐" in text
    code, out = _cli(home, "--explain", "8613800009999", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found"
    code, out = _cli(home, "--channel", "fax", "--json")
    assert code == 2 and "'fax' is not one of sms, app, web, store, ivr" in out
