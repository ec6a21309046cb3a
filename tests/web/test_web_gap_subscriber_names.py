"""A subscriber's bill page showed the tariff's ids (``basic-39/voice-domestic``, ``offer/vas-music-10``) in its bill
lines, its usage and the “why this charge” of each line: a subscriber reads the catalog's names, in the page's
language, and ids only on staff pages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from console_forms import csrf, login
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

RULES = ("basic-39/voice-domestic", "intl/voice-intl-1", "basic-39/data-home", "offer/vas-music-10", "offer/vas-horoscope-6")


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _main(page: str) -> str:
    m = re.search(r"<main.*?</main>", page, re.S)
    assert m, page
    return html.unescape(m.group(0))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_subscribers_bill_names_the_rules_and_rates_and_shows_no_id(seeded: Seeded, web: TestClient, lang: str) -> None:
    login(web, "alice", lang)
    page = web.get("/my/bill")
    assert page.status_code == 200, page.text
    main = _main(page.text)
    ids = {*RULES, *(r.id for r in seeded.catalog.rates)}
    shown = sorted(i for i in ids if i in main)
    assert not shown, f"ids on the subscriber's page: {shown}"
    cat = seeded.catalog

    def name(what: str, key: str) -> str:
        n = cat.name_of(what, key)
        assert n is not None, (what, key)
        return n.in_language(lang)

    # the bill lines' column names the rule (a value-added line: its offer; the monthly fee: the plan)
    rules = [html.unescape(x) for x in re.findall(r'<td class="rule">([^<]*)</td>', page.text)]
    assert name("rule", "basic-39/voice-domestic") in rules and name("offer", "vas-music-10") in rules
    assert name("plan", "basic-39") in rules
    # each line's explanation names its rule, in words
    zh = lang == "zh"
    assert (f"规则“{name('rule', 'basic-39/voice-domestic')}”）" if zh else f"rule “{name('rule', 'basic-39/voice-domestic')}”)") in main
    assert (f"规则“{name('offer', 'vas-music-10')}”" if zh else f"rule “{name('offer', 'vas-music-10')}”") in main
    said = [html.unescape(x) for x in re.findall(r'<span class="rule">([^<]*)</span>', page.text)]
    assert said and all(not any(r in s for r in RULES) for s in said)
    assert any(name("rule", "intl/voice-intl-1") in s for s in said)


def test_staff_see_the_rules_id_beside_its_name(seeded: Seeded, web: TestClient) -> None:
    login(web, "agent1", "en")
    desk = web.get("/desk")
    taken = web.post("/desk/cmp-1/take", data={"csrf": csrf(desk.text)}, follow_redirects=False)  # alice's complaint
    assert taken.status_code == 303, taken.text
    page = web.get(taken.headers["location"])
    assert page.status_code == 200, page.text
    named = seeded.catalog.name_of("rule", "basic-39/voice-domestic")
    assert named is not None
    said = [html.unescape(x) for x in re.findall(r'<span class="rule">(.*?)</span>', page.text)]
    assert f"{named.en} <code>basic-39/voice-domestic</code>" in " ".join(said)
