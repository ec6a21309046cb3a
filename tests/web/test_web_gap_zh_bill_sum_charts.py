"""The subscriber's bill page shows what its total holds besides the usage listed (the monthly fee, tax,
adjustments), so that 合计 and 详单费用合计 add up in sight; and charts abbreviate numbers as the reader writes them:
万 / 亿 in Chinese, k / M in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient
from jinja2 import Environment

from fairtel.api import ApiOptions
from fairtel.web import create_console
from fairtel.web._charts import bar_chart, line_chart


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _login(c: TestClient, user: str) -> None:
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _amount(text: str) -> Decimal:
    m = re.search(r"-?\d+\.\d{2}", text)
    assert m, text
    return Decimal(m.group(0))


def test_the_bill_total_is_shown_as_the_monthly_fee_plus_the_usage_listed(web: TestClient) -> None:
    _login(web, "alice")
    web.get("/lang/zh?next=/my/bill")
    zh = web.get("/my/bill").text
    total = _amount(re.search(r'id="bill-total">([^<]*)<', zh).group(1))  # type: ignore[union-attr]
    m = re.search(r'<p class="small" id="bill-sum">([^<]*)</p>', zh)
    assert m, zh
    said = m.group(1)
    assert said.startswith("其中：套餐月费 ") and "详单费用合计（见下方） " in said and "CNY" not in said, said
    parts = [Decimal(x) for x in re.findall(r"-?\d+\.\d{2}", said)]
    usage = _amount(re.search(r'id="usage-total">([^<]*)<', zh).group(1))  # type: ignore[union-attr]
    assert sum(parts) == total and parts[-1] == usage, (said, total, usage)
    assert "合计：<strong" in zh and "合计: " not in zh
    web.get("/lang/en?next=/my/bill")
    en = web.get("/my/bill").text
    m = re.search(r'<p class="small" id="bill-sum">([^<]*)</p>', en)
    assert m and m.group(1).startswith("Made of: Monthly plan fee ") and "Usage charges (listed below) " in m.group(1), en


def _render(lang: str, kind: str) -> str:
    env = Environment(autoescape=True)
    env.globals.update(bar_chart=bar_chart, line_chart=line_chart)
    page = env.from_string("{{ " + kind + "(pts, title='t') }}")
    return page.render(pts=[("2026-09", 216666.67), ("2026-10", 17000.0), ("2026-11", 123456789.0), ("x", 12.5)], lang=lang)


def test_charts_abbreviate_in_wan_for_chinese_and_k_for_english() -> None:
    for kind in ("bar_chart", "line_chart"):
        zh, en = _render("zh", kind), _render("en", kind)
        assert ">21.7万<" in zh and ">1.7万<" in zh and ">1.2亿<" in zh and ">12.5<" in zh, zh
        assert not re.search(r">[\d.]+[kM]<", zh), zh
        assert ">217k<" in en and ">17k<" in en and ">123.5M<" in en, en
        assert "万" not in en


def test_the_dashboard_in_chinese_never_abbreviates_with_k(web: TestClient) -> None:
    _login(web, "analyst1")
    web.get("/lang/zh?next=/dashboard")
    zh = web.get("/dashboard").text
    assert "<svg" in zh and not re.search(r">-?[\d.]+[kM]<", zh), re.findall(r">-?[\d.]+[kM万亿]?<", zh)
