"""The agent's findings page (异常扣费) showed an offer by its id and left cells empty when a finding has no value for
them (a duplicate charge's offer, a charge's time): it names the offer from the catalog (the id kept in the cell's
title, for staff who search by it) and shows a dash with a word for an empty value, in Chinese and English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from console_forms import login, row_of
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

NONE = {"zh": "无", "en": "none"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _cell(row: str, cls: str) -> tuple[str, str]:
    m = re.search(rf'<td class="{cls}"([^>]*)>(.*?)</td>', row, re.S)
    assert m, row
    return m.group(1), m.group(2)


def _text(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_findings_name_the_offer_and_say_an_empty_value(seeded: Seeded, web: TestClient, lang: str) -> None:
    login(web, "agent1", lang)
    page = web.get("/findings", params={"status": ""})
    assert page.status_code == 200, page.text
    named = seeded.catalog.name_of("offer", "vas-horoscope-6")
    assert named is not None

    unconsented = row_of(page.text, "finding-fnd-1")
    attrs, offer = _cell(unconsented, "offer")
    assert _text(offer) == named.in_language(lang)  # the name, not the id
    assert 'title="vas-horoscope-6"' in attrs

    duplicate = row_of(page.text, "finding-fnd-2")  # its evidence names no offer and no time
    for cls in ("offer", "charged"):
        _, cell = _cell(duplicate, cls)
        assert "—" in cell and NONE[lang] in _text(cell), cell
    for row in (unconsented, duplicate):
        empty = re.findall(r"<td[^>]*>\s*</td>", row)
        assert not empty, empty
