"""A statement line names its rule and the allowance it drew from in one pair of parentheses, never nested."""

from __future__ import annotations

from fairtel.billing._statement import line_text
from fairtel.catalog import default_catalog_path, load_catalog


def _text(language: str, **kw: object) -> str:
    return line_text("data", rule_id="unlimited-129/data-home", catalog=load_catalog(default_catalog_path()),
                     language=language, allowance_id="unlimited-129/data", **kw)  # type: ignore[arg-type]


def test_zh_line_has_one_pair_of_parentheses() -> None:
    text = _text("zh")
    assert text == "国内流量（不限量，超 40 GiB 限速）"
    assert text.count("（") == 1


def test_en_line_has_one_pair_of_parentheses() -> None:
    text = _text("en")
    assert text.count("(") == 1 and text.count(")") == 1
    assert text.startswith("Data at home (unlimited; ") and "slowed after 40 GiB" in text


def test_note_on_a_plain_name() -> None:
    from fairtel.billing._statement import with_note

    assert with_note("国内主叫", "套餐内国内主叫 300 分钟", "zh") == "国内主叫（套餐内国内主叫 300 分钟）"
    assert with_note("国内主叫（忙时）", "套餐内国内主叫 300 分钟", "zh") == "国内主叫（忙时，套餐内国内主叫 300 分钟）"
    assert with_note("Domestic calls", "allowance: 300 min", "en") == "Domestic calls (allowance: 300 min)"
