"""The itemised usage writes a call's direction in brackets of the page's language: full-width in Chinese
(语音通话（主叫）, as the statement and the bill lines write), ASCII in English; it showed "语音通话 (主叫)"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _usage(c: TestClient, lang: str) -> list[str]:
    c.cookies.clear()
    r = c.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.get(f"/lang/{lang}?next=/my/bill")
    page = c.get("/my/bill").text
    table = page[page.index('id="usage-table"'):]
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    return re.findall(r"<tr[^>]*>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>", body)


def test_the_direction_is_in_full_width_brackets_in_chinese(web: TestClient) -> None:
    zh = _usage(web, "zh")
    assert "语音通话（主叫）" in zh, zh
    assert not [k for k in zh if "(" in k or ")" in k], zh
    en = _usage(web, "en")
    assert any(re.fullmatch(r"\S.* \(\S+\)", k) for k in en), en
    assert not [k for k in en if "（" in k], en
