"""Catalog validation: every problem, each with its line and dotted field; the default catalog is clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog, validate_catalog
from fairtel.catalog._locate import line_of, locate
from fairtel.core.errors import CatalogError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"

MINIMAL = """
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

[[plans.rules]]
id = "p/voice"
kind = "voice"
rate = "voice"
{extra}
"""


def expectations(path: Path) -> set[tuple[int, str, str]]:
    """(line, field, code) from the fixture's `# expect: code field; code field` markers."""
    out: set[tuple[int, str, str]] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = re.search(r"#\s*expect:\s*(.+)$", line)
        if m and not line.lstrip().startswith("#"):
            for item in m.group(1).split(";"):
                code, field = item.split()
                out.add((n, field, code))
    return out


def test_broken_catalog_reports_every_problem_with_line_and_field() -> None:
    path = FIXTURES / "broken.toml"
    expected = expectations(path)
    assert len(expected) >= 8
    assert len({code for _, _, code in expected}) >= 8
    problems = validate_catalog(path)
    got = {(p.line, p.field, p.code) for p in problems}
    assert got == expected
    assert len(problems) == len(expected)  # each reported once
    assert all(p.file == str(path) for p in problems)


def test_load_catalog_raises_with_all_problems() -> None:
    path = FIXTURES / "broken.toml"
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert len(info.value.problems) == len(expectations(path))
    assert info.value.code == "catalog_invalid"
    assert "plans[2].rules[0].rate" in str(info.value)


def test_default_catalog_is_valid_and_has_the_shared_ids() -> None:
    assert validate_catalog(default_catalog_path()) == []
    c = load_catalog(default_catalog_path())
    assert c.operator.currency == "CNY" and c.operator.timezone == "Asia/Shanghai"
    assert {p.id for p in c.plans} == {"basic-39", "unlimited-129", "payg", "senior-19"}
    assert {z.id for z in c.zones} == {"domestic", "intl-1", "intl-2", "intl-3", "intl-premium", "intl-other"}
    assert {z.id for z in c.roaming_zones} == {"roam-1", "roam-2", "roam-3", "roam-world"}
    offers = {o.id: (o.provider, str(o.price), str(o.period)) for o in c.offers}
    assert offers == {
        "vas-music-10": ("sp-melody", "10.00", "monthly"), "vas-video-15": ("sp-streamly", "15.00", "monthly"),
        "vas-news-5": ("sp-dailynews", "5.00", "monthly"), "vas-game-30": ("sp-playzone", "30.00", "monthly"),
        "vas-horoscope-6": ("sp-luckystar", "6.00", "monthly"), "vas-wallpaper-3": ("sp-pixelart", "3.00", "monthly"),
        "vas-ringtone-2": ("sp-melody", "2.00", "per_use"), "vas-cloud-8": ("sp-cloudbox", "8.00", "monthly"),
    }
    assert [str(c.plan(p).monthly_fee) for p in ("basic-39", "unlimited-129", "payg", "senior-19")] == [
        "39.00", "129.00", "0.00", "19.00"]
    unlimited = c.plan("unlimited-129").allowances_for("data")
    assert unlimited and unlimited[0].unlimited and unlimited[0].throttle_after == 40 * 1024**3
    assert c.plan("payg").pay_as_you_go


def test_docs_worked_example_is_a_valid_catalog() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/catalog.md has no toml example"
    catalog, problems = parse_catalog(blocks[0], file="docs/catalog.md")
    assert problems == [] and catalog is not None


def test_toml_syntax_error_has_its_line() -> None:
    text = MINIMAL.format(extra='\n[[offers]]\nid = "x"\nprice = "1.00\n')
    catalog, problems = parse_catalog(text, file="x.toml")
    assert catalog is None and len(problems) == 1
    assert problems[0].code == "toml_syntax"
    assert problems[0].line == text.splitlines().index('price = "1.00') + 1


def test_minimal_catalog_loads_and_gets_an_all_day_band() -> None:
    catalog, problems = parse_catalog(MINIMAL.format(extra=""))
    assert problems == [] and catalog is not None
    assert [b.id for b in catalog.bands] == ["all"]
    assert catalog.plan("p").rule_for("voice", "out", "domestic", None, "all") is not None


def test_gaps_between_bands_are_reported() -> None:
    extra = """
[[bands]]
id = "day"
windows = [{ days = ["all"], start = "06:00", end = "22:00" }]
"""
    _, problems = parse_catalog(MINIMAL.format(extra=extra))
    assert [p.code for p in problems] == ["band_gap"]
    assert "22:00" in problems[0].message and problems[0].field == "bands"


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ('free = true', "invalid_value", "plans[0].rules[0].free"),  # both a rate and free
        ('[[plans.rules]]\nid = "p/voice"\nkind = "sms"\nfree = true', "duplicate_id", "plans[0].rules[1].id"),
        ('[[plans.rules]]\nid = "p/voice-2"\nkind = "voice"\nrate = "voice"', "unreachable_rule",
         "plans[0].rules[1].id"),
        ('[[plans.rules]]\nid = "p/data"\nkind = "data"\ndirections = "out"\nfree = true', "invalid_value",
         "plans[0].rules[1].directions"),
        ('[[plans.allowances]]\nid = "a"\nkind = "data"\nquantity = "1GiB"\nunlimited = true', "invalid_value",
         "plans[0].allowances[0].quantity"),
        ('[[plans.rules]]\nid = "p/r"\nkind = "voice"\nroaming_zones = ["roam-x"]\nrate = "voice"',
         "unknown_reference", "plans[0].rules[1].roaming_zones[0]"),
    ],
)
def test_single_mistakes(extra: str, code: str, field: str) -> None:
    text = MINIMAL.format(extra=extra)
    _, problems = parse_catalog(text)
    assert [(p.code, p.field) for p in problems] == [(code, field)]
    assert problems[0].line is not None


def test_locator_tracks_tables_arrays_and_multiline_values() -> None:
    text = '''# comment
title = "a # not a comment"
[server]
"quoted.key" = 1
dotted.inner = 2
[[plans]]
id = "a"
[[plans.rules]]
id = "r0"
[[plans.rules]]
id = "r1"
[[plans]]
id = "b"
notes = """
multi
line"""
steps = [
  { rate = 1, unit = "s" },
  {
    rate = 2 } ,
]
[plans.extra]
k = 1
[[plans.rules]]
id = "b0"
'''
    lines = locate(text)
    assert lines["title"] == 2
    assert lines['server."quoted.key"'] == 4
    assert lines["server.dotted.inner"] == 5
    assert lines["plans[0].rules[1].id"] == 11
    assert lines["plans[1]"] == 12
    assert lines["plans[1].steps[0].unit"] == 18
    assert lines["plans[1].steps[1]"] == 19
    assert lines["plans[1].steps[1].rate"] == 20
    assert lines["plans[1].extra.k"] == 23
    assert lines["plans[1].rules[0].id"] == 25
    assert line_of(lines, "plans[1].rules[0].rate") == 24  # missing key → its table's header
    assert line_of(lines, "nowhere.at.all") is None
