"""The console shows a customer's plan in force (this month is billed under it) and a plan change that takes
effect from the next billing period (次月生效) as pending, with its day, in Chinese and English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.core.time import Period, utc_now, zone
from fairtel.store import import_subscribers
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    csv = seeded.settings.home / "change.csv"
    csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                   f"{BOB},cust-b,basic-39,2024-06-01T09:00:00+08:00,active,zh,Beijing\n", encoding="utf-8")
    with seeded.engine.begin() as conn:
        assert import_subscribers(conn, csv).updated == 1  # learnt now: from the next period
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _plan_cell(page: str) -> str:
    m = re.search(r'<dd id="customer-plan">(.*?)</dd>', page, re.S)
    assert m, "the page shows the plan"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))).strip()


def test_an_agent_sees_the_plan_in_force_and_the_pending_change(web: TestClient, seeded: Seeded) -> None:
    r = web.post("/login", data={"username": "agent1", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    desk = web.get("/desk").text
    token = re.search(r'name="csrf" value="([^"]+)"', desk)
    assert token is not None
    assert web.post("/desk/cmp-2/take", data={"csrf": token.group(1)}, follow_redirects=False).status_code == 303
    tz = seeded.catalog.operator.timezone
    day = Period.containing(utc_now(), tz).next().start.astimezone(zone(tz)).strftime("%Y-%m-%d")

    web.get("/lang/en?next=/desk")
    en = _plan_cell(web.get(f"/customers/{BOB}").text)
    assert en.startswith("Unlimited 129 unlimited-129"), en
    assert f"Changes to Basic 39 from {day} (the next billing period" in en and en.endswith("basic-39"), en

    web.get("/lang/zh?next=/desk")
    zh = _plan_cell(web.get(f"/customers/{BOB}").text)
    assert zh.startswith("无限流量 129 元 unlimited-129"), zh
    assert f"{day} 起变更为 基础套餐 39 元（次月生效" in zh, zh


def test_a_customer_without_a_pending_change_shows_none(web: TestClient) -> None:
    desk = web.get("/desk").text
    token = re.search(r'name="csrf" value="([^"]+)"', desk)
    assert token is not None
    assert web.post("/desk/cmp-1/take", data={"csrf": token.group(1)}, follow_redirects=False).status_code == 303
    web.get("/lang/en?next=/desk")
    cell = _plan_cell(web.get(f"/customers/{ALICE}").text)
    assert cell == "Basic 39 basic-39", cell
