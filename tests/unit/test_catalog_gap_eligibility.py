"""Who may order a plan is catalog data: ``[plans.eligibility]`` (on sale or withdrawn, a sale window, an age
range, sales channels) is read and checked with file, line and field; the demo operator's senior plan is for
subscribers aged 60 or over (it could not say so: every plan was for anyone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fairtel.catalog import Eligibility, Ineligible, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import InvalidInputError
from fairtel.core.time import NaiveTimeError

PLAN = """
[operator]
id = "t"
name = {{ zh = "测试", en = "Test" }}
currency = "CNY"
timezone = "Asia/Shanghai"

[[zones]]
id = "domestic"
name = {{ zh = "国内", en = "Domestic" }}
prefixes = ["86"]

[[rates]]
id = "voice"
unit = "second"
steps = [{{ rate = "0.15", rate_unit = "60s", increment = "60s" }}]

[[plans]]
id = "p"
name = {{ zh = "套餐", en = "Plan" }}
monthly_fee = "10.00"
{eligibility}
[[plans.rules]]
id = "p/voice"
kind = "voice"
rate = "voice"
"""
CST = timezone(timedelta(hours=8))


def _plan(eligibility: str) -> Eligibility:
    catalog, problems = parse_catalog(PLAN.format(eligibility=eligibility), file="t.toml")
    assert catalog is not None, problems
    return catalog.plan("p").eligibility


def _problems(eligibility: str) -> list[tuple[int | None, str | None, str, str]]:
    text = PLAN.format(eligibility=eligibility)
    catalog, problems = parse_catalog(text, file="t.toml")
    assert catalog is None
    assert all(p.file == "t.toml" for p in problems)
    return [(p.line, p.field, p.code, p.message) for p in problems]


def test_the_demo_senior_plan_is_for_subscribers_aged_60_or_over() -> None:
    catalog = load_catalog(default_catalog_path())
    senior = catalog.plan("senior-19").eligibility
    assert senior.min_age == 60 and senior.max_age is None and senior.on_sale and senior.channels is None
    assert all(not p.eligibility.restricted for p in catalog.plans if p.id != "senior-19")


def test_a_plan_without_eligibility_is_for_anyone_anywhere() -> None:
    rule = _plan("")
    assert rule == Eligibility() and not rule.restricted and not rule.by_age
    assert rule.refusals(at=datetime(2030, 1, 1, tzinfo=UTC), age=None, channel=None) == ()


def test_eligibility_as_a_table_or_inline() -> None:
    table = _plan('[plans.eligibility]\non_sale = true\nsale_from = 2026-01-01T00:00:00+08:00\n'
                  'sale_until = "2026-07-01T00:00:00+08:00"\nmin_age = 18\nmax_age = 25\nchannels = ["app", "web"]\n')
    assert table == Eligibility(True, datetime(2026, 1, 1, tzinfo=CST), datetime(2026, 7, 1, tzinfo=CST), 18, 25,
                                frozenset({"app", "web"}))
    assert _plan("eligibility = { on_sale = false }") == Eligibility(on_sale=False)
    assert _plan('eligibility = { channels = "store" }').channels == frozenset({"store"})


def test_sale_window_is_from_inclusive_until_exclusive() -> None:
    rule = Eligibility(sale_from=datetime(2026, 1, 1, tzinfo=CST), sale_until=datetime(2026, 7, 1, tzinfo=CST))
    start, end = datetime(2026, 1, 1, tzinfo=CST), datetime(2026, 7, 1, tzinfo=CST)
    assert [r.code for r in rule.sale_refusals(at=start - timedelta(seconds=1))] == [Ineligible.NOT_YET_ON_SALE]
    assert rule.sale_refusals(at=start) == ()
    assert rule.sale_refusals(at=end - timedelta(seconds=1)) == ()
    ended = rule.sale_refusals(at=end)
    assert [r.code for r in ended] == [Ineligible.SALE_ENDED]
    assert ended[0].en == "sale ended 2026-07-01T00:00+08:00" and "2026-07-01T00:00+08:00 停止销售" in ended[0].zh
    with pytest.raises(NaiveTimeError):
        rule.sale_refusals(at=datetime(2026, 3, 1))  # a naive instant is refused


def test_withdrawn_and_channel_refusals() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert [r.code for r in Eligibility(on_sale=False).sale_refusals(at=at, channel="store")] == [Ineligible.WITHDRAWN]
    app_only = Eligibility(channels=frozenset({"app", "web"}))
    assert app_only.sale_refusals(at=at, channel="app") == ()
    (store,) = app_only.sale_refusals(at=at, channel="store")
    assert store.code == Ineligible.CHANNEL and store.en == "sold only through app, web (not through store)"
    (none,) = app_only.sale_refusals(at=at)
    assert none.code == Ineligible.CHANNEL and "names no channel" in none.en and "仅限 app, web 渠道办理" in none.zh


def test_age_range_with_unknown_age_refused_and_bounds_included() -> None:
    senior = Eligibility(min_age=60)
    assert senior.age_refusals(60) == () and senior.age_refusals(90) == ()
    assert [r.code for r in senior.age_refusals(59)] == [Ineligible.UNDER_AGE]
    (unknown,) = senior.age_refusals(None)
    assert unknown.code == Ineligible.AGE_UNKNOWN
    assert unknown.en == "only for subscribers aged 60 or over; the subscriber's age is not known"
    assert unknown.zh == "仅限 60 周岁及以上用户办理，用户年龄未知"
    youth = Eligibility(min_age=18, max_age=25)
    assert youth.age_refusals(18) == () and youth.age_refusals(25) == ()
    (over,) = youth.age_refusals(26)
    assert over.code == Ineligible.OVER_AGE and over.en == "only for subscribers aged 18 to 25"
    assert "59" not in senior.age_refusals(59)[0].en  # the reason names the rule, never the subscriber's age


def test_every_problem_of_eligibility_names_file_line_and_field() -> None:
    block = ("[plans.eligibility]\n"
             "on_sale = \"no\"\n"
             "sale_from = \"2026-13-01\"\n"
             "sale_until = 2026-01-01T00:00:00\n"
             "min_age = -1\n"
             "max_age = 200\n"
             "channels = [\"shop\"]\n"
             "sold_to = \"adults\"\n")
    lines = PLAN.format(eligibility=block).splitlines()

    def line(prefix: str) -> int:
        return next(i for i, t in enumerate(lines, start=1) if t.startswith(prefix))

    problems = _problems(block)
    field = "plans[0].eligibility"
    assert {(ln, fld, code) for ln, fld, code, _ in problems} == {
        (line("on_sale"), f"{field}.on_sale", "wrong_type"),
        (line("sale_from"), f"{field}.sale_from", "invalid_value"),
        (line("sale_until"), f"{field}.sale_until", "invalid_value"),
        (line("min_age"), f"{field}.min_age", "invalid_value"),
        (line("max_age"), f"{field}.max_age", "invalid_value"),
        (line("channels"), f"{field}.channels[0]", "invalid_value"),
        (line("sold_to"), f"{field}.sold_to", "unknown_key"),
    }
    assert len(problems) == 7  # each once
    messages = {fld: message for _, fld, _, message in problems}
    assert messages[f"{field}.channels[0]"] == "'shop' is not a sales channel (sms, app, web, store, ivr)"
    assert messages[f"{field}.max_age"] == "must be at most 150 (whole years), got 200"
    assert "did you mean" in messages[f"{field}.sold_to"] or "allowed: on_sale" in messages[f"{field}.sold_to"]


def test_contradictions_are_reported_where_they_are() -> None:
    problems = _problems("[plans.eligibility]\nmin_age = 70\nmax_age = 65\nsale_from = 2026-06-01T00:00:00+08:00\n"
                         "sale_until = 2026-05-01T00:00:00+08:00\nchannels = []\n")
    by_field = {f: (code, message) for _, f, code, message in problems}
    assert by_field["plans[0].eligibility.max_age"] == (
        "invalid_value", "max_age 65 is below min_age 70: nobody could order the plan")
    assert by_field["plans[0].eligibility.sale_until"][1].startswith("2026-05-01T00:00:00+08:00 is not after sale_from")
    assert by_field["plans[0].eligibility.channels"][0] == "invalid_value"
    assert _problems("eligibility = 60")[0][1:3] == ("plans[0].eligibility", "wrong_type")


def test_plan_ids_names_each_unknown_id_with_the_nearest_and_the_catalog_plans() -> None:
    catalog = load_catalog(default_catalog_path())
    assert catalog.plan_ids(["payg", "basic-39", "payg"]) == ("payg", "basic-39")
    with pytest.raises(InvalidInputError) as info:
        catalog.plan_ids(["basic39", "gold"], what="--plans")
    messages = [str(p) for p in info.value.problems]
    assert messages == [
        "--plans: unknown plan 'basic39' (did you mean 'basic-39'?); the catalog's plans: basic-39, unlimited-129, "
        "payg, senior-19",
        "--plans: unknown plan 'gold'; the catalog's plans: basic-39, unlimited-129, payg, senior-19",
    ]
