"""What a tariff author's catalog edits must be told by validation: a new roaming zone that some plans have no
rule for (a warning naming plan, zone, countries and kinds), a rule an earlier, more general one always takes
first (``unreachable_rule``), the root cause of an unknown reference before the reference (a duplicated id, a
misspelt table) without a misleading "did you mean", settings with no effect (a daily cap on a free rule, an
allowance of nothing), CGRateS band names and the tenant note."""

from __future__ import annotations

from pathlib import Path

from fairtel.catalog import default_catalog_path, import_cgrates, parse_catalog

DEMO = default_catalog_path().read_text(encoding="utf-8")
TIMED = Path(__file__).resolve().parents[1] / "fixtures" / "cgrates" / "timed"

GULF = """
[[roaming_zones]]
id = "roam-gulf"
name = { zh = "海湾地区漫游", en = "Roaming in the Gulf" }
countries = ["AE", "QA", "SA"]
"""

TRAVEL = """
[[rates]]
id = "data-roam-gulf"
unit = "byte"
steps = [{ rate = "2.00", rate_unit = "1MiB", increment = "10KiB" }]

[[plans]]
id = "travel-49"
name = { zh = "畅游 49 元", en = "Travel 49" }
monthly_fee = "49.00"
rule_sets = ["home-incoming", "international", "roaming"]

[[plans.rules]]
id = "travel-49/data-gulf"
kind = "data"
roaming_zones = ["roam-gulf"]
rate = "data-roam-gulf"
"""


def _line(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


# ---- a roaming zone some plans have no rule for

def test_a_new_roaming_zone_priced_by_one_plan_only_warns_for_every_other_plan() -> None:
    text = DEMO + GULF + TRAVEL
    catalog, problems = parse_catalog(text, file="op/catalog.toml")
    assert catalog is not None, problems  # still valid: the plans load
    gaps = [w for w in catalog.warnings if w.code == "roaming_rule_gap"]
    # was: no warning at all, and basic-39 data roaming in AE went from 50.00 (roam-world) to unrated no_rule
    assert {w.message.split("'")[1] for w in gaps} == {"basic-39", "unlimited-129", "payg", "senior-19", "travel-49"}
    basic = next(w for w in gaps if "'basic-39'" in w.message)
    assert basic.file == "op/catalog.toml" and basic.field == "plans[0]"
    assert basic.line == _line(text, 'id = "basic-39"') - 1  # the plan's [[plans]] header
    zone_line = text.splitlines().index('id = "roam-gulf"')  # its [[roaming_zones]] header, 1-based
    assert f"no rule for voice, sms out, data while roaming in roaming zone 'roam-gulf' (AE, QA, SA; line {zone_line})" \
        in basic.message
    assert "roam-world" in basic.message and "unrated (no_rule)" in basic.message
    travel = next(w for w in gaps if "'travel-49'" in w.message)
    assert "no rule for voice, sms out while roaming" in travel.message  # its data rule covers the zone
    assert [g.plan for g in catalog.roaming_rule_gaps()][:1] == ["basic-39"]


def test_a_zone_every_plan_prices_and_the_demo_catalog_have_no_roaming_warning() -> None:
    demo, _ = parse_catalog(DEMO)
    assert demo is not None and demo.warnings == ()
    # the roaming set prices the new zone like the others: no warning
    text = (DEMO + GULF).replace('roaming_zones = ["roam-world"]', 'roaming_zones = ["roam-world", "roam-gulf"]')
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    assert catalog.warnings == ()


# ---- a rule an earlier, more general one always takes first

def test_a_rule_after_a_more_general_one_is_unreachable() -> None:
    start = DEMO.index('id = "payg/voice-domestic-peak"')
    end = DEMO.index('bands = ["peak"]', start)
    text = DEMO[:end] + DEMO[end + len('bands = ["peak"]'):]
    catalog, problems = parse_catalog(text, file="m.toml")
    # was: valid, and every PAYG off-peak call charged at the peak rate
    assert catalog is None
    [p] = problems
    assert p.code == "unreachable_rule" and p.field is not None and p.field.endswith(".id")
    assert p.line == _line(text, 'id = "payg/voice-domestic-offpeak"')
    peak_header = _line(text, 'id = "payg/voice-domestic-peak"') - 1
    assert "'payg/voice-domestic-offpeak' never applies" in p.message
    assert f"'payg/voice-domestic-peak' before it (line {peak_header})" in p.message


def test_covering_compares_each_condition_as_sets() -> None:
    def catalog_with(first: str, second: str) -> list[str]:
        text = f"""
[operator]
id = "t"
name = {{ zh = "测试", en = "Test" }}
currency = "CNY"
timezone = "Asia/Shanghai"

[[zones]]
id = "a"
name = {{ zh = "甲", en = "A" }}
prefixes = ["861"]

[[zones]]
id = "b"
name = {{ zh = "乙", en = "B" }}
prefixes = ["862"]

[[roaming_zones]]
id = "r1"
name = {{ zh = "一", en = "One" }}
countries = ["HK"]

[[roaming_zones]]
id = "r2"
name = {{ zh = "二", en = "Two" }}
fallback = true

[[bands]]
id = "peak"
windows = [{{ days = "all", start = "08:00", end = "20:00" }}]

[[bands]]
id = "off"
windows = [{{ days = "all", start = "00:00", end = "08:00" }}, {{ days = "all", start = "20:00", end = "24:00" }}]

[[rates]]
id = "v"
unit = "second"
steps = [{{ rate = "0.10", rate_unit = "60s" }}]

[[plans]]
id = "p"
name = {{ zh = "套餐", en = "Plan" }}
monthly_fee = "0"

[[plans.rules]]
id = "first"
kind = "voice"
rate = "v"
{first}

[[plans.rules]]
id = "second"
kind = "voice"
rate = "v"
{second}
"""
        _, problems = parse_catalog(text)
        return [p.code for p in problems]

    shadowed = [
        ('zones = ["a", "b"]', 'zones = ["a"]\nbands = ["off"]'),
        ('bands = ["peak", "off"]\ndirections = ["out", "in"]', 'zones = ["b"]\ndirections = "out"'),
        ('roaming_zones = ["*"]', 'roaming_zones = ["r2"]'),
        ('roaming_zones = ["r1", "r2"]', 'roaming_zones = ["*"]'),
        ('directions = "out"', 'directions = "out"\nbands = ["peak"]'),
    ]
    for first, second in shadowed:
        assert catalog_with(first, second) == ["unreachable_rule"], (first, second)
    reachable = [
        ('bands = ["peak"]', ""),
        ('zones = ["a"]', 'zones = ["a", "b"]'),
        ("", 'roaming_zones = ["r1"]'),  # at home only, then roaming
        ('roaming_zones = ["r1"]', 'roaming_zones = ["*"]'),
        ('directions = "out"', 'directions = "in"'),
        ('zones = ["a", "b"]', ""),  # a number no zone lists has no zone: only "any zone" matches it
    ]
    for first, second in reachable:
        assert catalog_with(first, second) == [], (first, second)


# ---- the root cause first, and no misleading "did you mean"

def test_an_id_lost_to_a_duplicate_is_reported_after_the_duplicate_without_a_near_id() -> None:
    text = DEMO.replace('id = "voice-dom-payg-peak"', 'id = "voice-dom-015"', 1)
    _, problems = parse_catalog(text)
    assert [p.code for p in problems] == ["duplicate_id", "unknown_reference"]
    ref = problems[1]
    # was: unknown rate 'voice-dom-payg-peak' (did you mean 'voice-dom-payg-offpeak'?): the off-peak price
    assert "did you mean" not in ref.message and "offpeak" not in ref.message
    first = _line(text, 'id = "voice-dom-015"')
    second = text.splitlines().index('id = "voice-dom-015"', first) + 1
    assert f"rate id 'voice-dom-015' is declared twice (lines {first}, {second})" in ref.message


def test_an_id_under_a_misspelt_table_is_named_where_it_is() -> None:
    text = DEMO.replace('rule_sets = ["home-incoming", "international", "roaming"]\n',
                        'rule_sets = ["home-incoming", "international", "roaming"]\nincluded_offers = ["vas-guide-6"]\n',
                        1) + '\n[[offer]]\nid = "vas-guide-6"\nname = { zh = "指南", en = "Guide" }\n'
    _, problems = parse_catalog(text)
    assert [p.code for p in problems] == ["unknown_key", "unknown_reference"]  # was: the reference first
    line = _line(text, "[[offer]]")
    assert f"it is declared at line {line} under [[offer]], which is not a catalog table (did you mean [[offers]]?)" \
        in problems[1].message
    assert "vas-video" not in problems[1].message


def test_a_plain_typo_still_gets_the_nearest_id() -> None:
    text = DEMO.replace('rate = "voice-dom-payg-peak"', 'rate = "voice-dom-payg-peek"', 1)
    _, problems = parse_catalog(text)
    assert [p.message for p in problems] == ["unknown rate 'voice-dom-payg-peek' (did you mean 'voice-dom-payg-peak'?)"]


# ---- settings with no effect

def test_a_daily_cap_on_a_free_rule_and_an_allowance_of_nothing_warn() -> None:
    text = DEMO.replace('id = "roam/sms-in"', 'id = "roam/sms-in"\ndaily_cap = "5.00"', 1)
    text = text.replace('quantity = "100min"', 'quantity = "0min"', 1)
    assert 'quantity = "0min"' in text
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems  # they load
    assert [w.code for w in catalog.warnings] == ["no_effect", "no_effect"]  # was: no word of either
    cap = next(w for w in catalog.warnings if (w.field or "").endswith("daily_cap"))
    assert cap.line == _line(text, 'daily_cap = "5.00"') and "free rule" in cap.message
    zero = next(w for w in catalog.warnings if (w.field or "").endswith("quantity"))
    assert zero.line == _line(text, 'quantity = "0min"') and "0min includes nothing" in zero.message


# ---- CGRateS import

def test_cgrates_bands_are_named_by_the_timing_that_prices_them() -> None:
    result = import_cgrates(TIMED)
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None, problems
    names = {b.id: b.name for b in catalog.bands}
    # was: "Timing ALWAYS_OFF+PEAK" for the weekday daytime band, priced by PEAK (weight 20)
    assert names["ALWAYS_OFF+PEAK"] is not None and names["ALWAYS_OFF+PEAK"].en == "Timing PEAK"
    assert names["ALWAYS_OFF+PEAK"].zh == "时段 PEAK"
    assert names["ALWAYS_OFF"] is not None and names["ALWAYS_OFF"].en == "Timing ALWAYS_OFF"


def test_cgrates_tenant_chosen_with_the_option_gets_no_advice_to_choose_one(tmp_path: Path) -> None:
    import shutil

    plan = tmp_path / "tp"
    shutil.copytree(TIMED, plan)
    profiles = plan / "RatingProfiles.csv"
    lines = profiles.read_text(encoding="utf-8").splitlines()
    other = [ln.replace(ln.split(",")[0], "other.org", 1) for ln in lines[1:2]]
    profiles.write_text("\n".join([*lines, *other]) + "\n", encoding="utf-8")
    tenant = lines[1].split(",")[0]
    chosen = [n for n in import_cgrates(plan, tenant=tenant).notes if n.code == "multiple_tenants"]
    assert len(chosen) == 1 and "--tenant" in chosen[0].message
    assert "import each with --tenant" not in chosen[0].message  # was: advised although --tenant was given
    unchosen = [n for n in import_cgrates(plan).notes if n.code == "multiple_tenants"]
    assert len(unchosen) == 1 and "import each with --tenant" in unchosen[0].message


# ---- problems in Chinese too

def test_every_problem_and_warning_has_a_chinese_message() -> None:
    from fairtel.catalog import problem_zh

    text = DEMO.replace('id = "voice-dom-payg-peak"', 'id = "voice-dom-015"', 1).replace(
        'rate = "sms-dom-010"', 'rate = "sms-dom-01"', 1)
    _, problems = parse_catalog(text)
    zh = [problem_zh(p) for p in problems]
    assert zh[0] == "费率编号“voice-dom-015”重复（首次出现在 rates[0]）"
    assert any(z.startswith("未定义的费率“sms-dom-01”（是否应为“sms-dom-010”？）") for z in zh)
    catalog, _ = parse_catalog(DEMO + GULF + TRAVEL)
    assert catalog is not None
    gap = problem_zh(catalog.warnings[0])
    line = (DEMO + GULF + TRAVEL).splitlines().index('id = "roam-gulf"')
    assert gap.startswith(f"套餐“basic-39”在漫游区“roam-gulf”（AE, QA, SA；第 {line} 行）没有 voice, sms out, data 的计费规则")
    # a message without a rendering of its own says what its code means, then the English
    other = next(p for p in parse_catalog(DEMO.replace('currency = "CNY"', 'currency = "RMB"', 1))[1])
    assert problem_zh(other) == f"币种无效：{other.message}"
