"""Best-plan advice: every plan priced by the rating engine itself, the cheapest recommended with its saving
and months, plans that cannot price some usage never offered, notices in zh and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.insight import advise, last_periods, notice_text, price_months, split_by_period
from fairtel.rating import rate

CATALOG = load_catalog(default_catalog_path())
GIB = 1 << 30


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


LIGHT, HEAVY, FITTING = "8613800000001", "8613800000002", "8613800000003"
USAGE = frame(
    records(LIGHT, 9, sms=2) + records(LIGHT, 10, sms=1)  # a light user on the unlimited plan
    + records(HEAVY, 9, gib=60, minutes=900) + records(HEAVY, 10, gib=55, minutes=800)  # a heavy user on payg
    + records(FITTING, 9, sms=40, gib=8, minutes=250) + records(FITTING, 10, sms=60, gib=9, minutes=280)
)
SUBSCRIBERS = pl.DataFrame({"msisdn": [LIGHT, HEAVY, FITTING], "plan_id": ["unlimited-129", "payg", "basic-39"]})


def test_each_plan_is_priced_by_the_rating_engine() -> None:
    by_period = split_by_period(USAGE, CATALOG)
    assert sorted(by_period) == ["2026-09", "2026-10"]
    costs = price_months(by_period, CATALOG, SUBSCRIBERS["msisdn"].to_list())
    assert costs.height == 3 * 2 * len(CATALOG.plans)
    fees = {p.id: int(p.monthly_fee * 100) for p in CATALOG.plans}
    for row in costs.iter_rows(named=True):  # the same as rating the month on that plan directly
        month = by_period[row["period"]].filter(pl.col("msisdn") == row["msisdn"])
        direct = rate(month, CATALOG, {row["msisdn"]: row["plan_id"]}, period=row["period"])
        assert row["usage_minor"] == direct.total_minor()
        assert row["total_minor"] == direct.total_minor() + fees[row["plan_id"]]


def test_advice_picks_the_cheapest_plan_with_saving_and_months() -> None:
    result = advise(USAGE, CATALOG, SUBSCRIBERS, months=2)
    assert result.periods == ("2026-09", "2026-10")
    totals = result.costs.group_by("msisdn", "plan_id").agg(pl.col("total_minor").sum())
    advice = {r["msisdn"]: r for r in result.advice.iter_rows(named=True)}
    for msisdn, row in advice.items():
        mine = totals.filter(pl.col("msisdn") == msisdn)
        cheapest = mine["total_minor"].min()
        current = mine.filter(pl.col("plan_id") == row["current_plan"])["total_minor"].item()
        assert row["best_minor"] == cheapest and row["current_minor"] == current
        assert row["saving_minor"] == current - cheapest and row["months"] == 2
        assert (row["first_period"], row["last_period"]) == ("2026-09", "2026-10")
    assert advice[LIGHT]["switch"] and advice[LIGHT]["best_plan"] != "unlimited-129"
    assert advice[LIGHT]["current_minor"] == 2 * 12900  # three messages are inside the allowance
    assert advice[HEAVY]["switch"] and advice[HEAVY]["best_plan"] == "unlimited-129"
    summary = result.summary()
    assert summary["would_save"] == result.savers().height >= 2
    assert summary["total_saving_minor"] == sum(r["saving_minor"] for r in advice.values() if r["switch"])


def test_only_the_last_months_are_priced() -> None:
    assert last_periods(USAGE, CATALOG, 1) == ["2026-10"]
    assert last_periods(USAGE, CATALOG, 3, until="2026-10") == ["2026-08", "2026-09", "2026-10"]
    result = advise(USAGE, CATALOG, SUBSCRIBERS, months=1)
    assert result.periods == ("2026-10",) and set(result.advice["months"].to_list()) == {1}


def test_a_plan_that_cannot_price_the_usage_is_never_advised(tmp_path: Path) -> None:
    text = default_catalog_path().read_text(encoding="utf-8") + (
        '\n[[plans]]\nid = "voice-only-1"\nname = { zh = "纯语音", en = "Voice only" }\nmonthly_fee = "1.00"\n\n'
        '[[plans.rules]]\nid = "voice-only-1/voice"\nkind = "voice"\nrate = "voice-dom-015"\n'
    )
    catalog, problems = parse_catalog(text, file="test.toml")
    assert catalog is not None, problems
    result = advise(USAGE, catalog, SUBSCRIBERS, months=2)
    costs = result.costs.filter(pl.col("plan_id") == "voice-only-1")
    assert costs.filter(pl.col("msisdn") == HEAVY)["unrated"].sum() > 0  # its data has no rule there
    best = dict(zip(result.advice["msisdn"], result.advice["best_plan"], strict=True))
    assert best[HEAVY] != "voice-only-1" and best[LIGHT] != "voice-only-1"  # LIGHT sends SMS: no rule either


def test_notices_in_both_languages() -> None:
    result = advise(USAGE, CATALOG, SUBSCRIBERS, months=2)
    row = result.advice.filter(pl.col("msisdn") == HEAVY).row(0, named=True)
    best = next(p for p in CATALOG.plans if p.id == row["best_plan"])
    en, zh = notice_text(row, CATALOG, "en"), notice_text(row, CATALOG, "zh")
    saving = f"{row['saving_minor'] / 100:,.2f} CNY"
    assert best.name.en in en and saving in en and "2 month" in en
    assert best.name.zh in zh and saving in zh and "最优资费" in zh
    stay = result.advice.filter(~pl.col("switch"))
    if stay.height:
        assert "already the cheapest" in notice_text(stay.row(0, named=True), CATALOG, "en")


def test_cli_advise_reads_the_home(tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import typer
    from typer.testing import CliRunner

    from fairtel.bootstrap import bootstrap
    from fairtel.cli._insight import register
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.core.settings import load_settings
    from fairtel.store import import_subscribers

    home = tmp_path / "home"
    subs_csv = tmp_path / "subscribers.csv"
    SUBSCRIBERS.with_columns(
        pl.Series("customer_id", ["c1", "c2", "c3"]), pl.lit("2025-01-01T00:00:00+08:00").alias("activated_at"),
        pl.lit("active").alias("status"), pl.Series("language", ["zh", "en", "zh"]), pl.lit("shanghai").alias("region"),
    ).select("msisdn", "customer_id", "plan_id", "activated_at", "status", "language", "region").write_csv(subs_csv)
    with bootstrap(load_settings(home=home)) as app:
        with app.db.begin() as conn:
            import_subscribers(conn, subs_csv)
        for key, part in split_by_period(USAGE, CATALOG).items():
            full = part.with_columns(pl.lit(None, dtype=pl.Int64).alias("bytes_up"))
            cols = [pl.col(f.name) if f.name in full.columns else pl.lit(None).alias(f.name) for f in CLEAN_USAGE_SCHEMA]
            table = full.select(cols).to_arrow()
            app.lake.write("usage", key, pa.Table.from_arrays(
                [table.column(i).cast(f.type) for i, f in enumerate(CLEAN_USAGE_SCHEMA)], schema=CLEAN_USAGE_SCHEMA), part="p0")
    app_cli = typer.Typer()
    register(app_cli)
    out = tmp_path / "advice.csv"
    res = CliRunner().invoke(app_cli, ["advise", "--home", str(home), "--months", "1", "--csv", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    expected = advise(USAGE, CATALOG, SUBSCRIBERS, months=1).summary()
    assert doc["periods"] == ["2026-10"] and doc["would_save"] == expected["would_save"]
    assert doc["total_saving_minor"] == expected["total_saving_minor"]
    notices = dict(pl.read_csv(out, infer_schema=False).select("msisdn", "notice").iter_rows())
    assert "最优资费" in notices[LIGHT] and "Your best tariff" in notices[HEAVY]  # each in the subscriber's language
