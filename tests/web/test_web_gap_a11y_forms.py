"""Console forms refused, as a screen-reader or keyboard user meets them, and what the pages say about themselves.

Before: a wrong or malformed SMS code, and a new code asked too soon, went to the general error page ("出错了", the
reason in English on a Chinese page, "confirmation: 1 problem" in English), the order's terms and code gone; the desk's
new-complaint and credit forms did the same, losing what the agent typed, naming a field "Reason" the form calls
"Note", and saying a number typed as letters was "required"; a failed login was a plain paragraph, tied to no field,
the username emptied. Now each form comes back with what was typed, every field that is wrong marked invalid and
described by its message in the reader's language, and the message announced."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from console_forms import csrf, login
from fairtel_seed import ALICE, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.store import TroubleTicket
from fairtel.store._schema import table_of
from fairtel.web import create_console

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0)), headers=HTML) as c:
        yield c


def tag(html: str, tag_id: str) -> str:
    """The opening tag of the element with this id."""
    m = re.search(rf'<[a-z]+ [^>]*id="{re.escape(tag_id)}"[^>]*>', html)
    assert m, tag_id
    return m.group(0)


def text_of(html: str, tag_id: str) -> str:
    """The text of the element with this id (up to its closing tag)."""
    m = re.search(rf'<([a-z]+) [^>]*id="{re.escape(tag_id)}"[^>]*>', html)
    assert m, tag_id
    inner = html[m.end():html.index(f"</{m.group(1)}>", m.end())]
    return re.sub(r"<[^>]+>", "", inner)


def described_by(html: str, tag_id: str) -> list[str]:
    m = re.search(r'aria-describedby="([^"]+)"', tag(html, tag_id))
    assert m, f"{tag_id} is described by nothing"
    return m.group(1).split()


def test_a_refused_code_shows_the_order_step_again_with_the_code_marked(web: TestClient) -> None:
    login(web, "alice", "zh")
    token = csrf(web.get("/my/subscriptions").text)
    r = web.post("/my/subscriptions", data={"csrf": token, "offer_id": "vas-video-15"}, follow_redirects=False)
    sid = re.search(r'id="confirm-([^"]+)"', web.get(r.headers["location"]).text).group(1)  # type: ignore[union-attr]

    for code in ("123456", "12a"):  # wrong, then not six digits
        r = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": token, "code": code})
        assert r.status_code == 422
        assert 'id="error-code"' not in r.text and "confirmation: " not in r.text  # the order's page, not the error page
        assert f'id="confirm-{sid}"' in r.text and "15.00 元/月" in r.text and "直至您退订" in r.text  # the terms, still
        field = tag(r.text, f"code-{sid}")
        assert 'aria-invalid="true"' in field and "autofocus" in field
        problem = described_by(r.text, f"code-{sid}")[0]
        assert 'role="alert"' in tag(r.text, problem)
        said = text_of(r.text, problem)
        assert "验证码不正确" in said and "does not match" not in said
        assert f"code-hint-{sid}" in described_by(r.text, f"code-{sid}")  # the hint stays tied to the field
        assert 'title="6 位数字"' in field
        assert 'href="/lang/en?next=/my/subscriptions"' in r.text  # switching language goes to the page, not the post

    # a new code asked too soon: the wait, said on the step (a status), with the Retry-After the API gives
    r = web.post(f"/my/subscriptions/{sid}/resend-code", data={"csrf": token})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert 'id="error-code"' not in r.text and f'id="confirm-{sid}"' in r.text
    wait = tag(r.text, f"code-wait-{sid}")
    assert 'role="status"' in wait and re.search(r"\d+ 秒后可重新发送验证码", text_of(r.text, f"code-wait-{sid}"))

    login(web, "alice", "en")
    r = web.post(f"/my/subscriptions/{sid}/confirm", data={"csrf": csrf(web.get("/my/subscriptions").text), "code": "000000"})
    assert r.status_code == 422 and "the code does not match the one sent to your phone" in r.text
    assert "confirmation: 1 problem" not in r.text


def test_a_new_complaint_refused_comes_back_as_typed_with_the_number_said_invalid(web: TestClient) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    r = web.post("/desk/new", data={"csrf": csrf(desk), "msisdn": "abc", "category": "price", "text": "客户说月费比宣传的贵",
                                    "channel": "store"})
    assert r.status_code == 422 and 'id="error-code"' not in r.text and 'id="new-complaint-form"' in r.text
    field = tag(r.text, "new-msisdn")
    assert 'value="abc"' in field and 'aria-invalid="true"' in field and "autofocus" in field
    assert "不是有效的用户号码" in text_of(r.text, described_by(r.text, "new-msisdn")[0]) and "请填写客户号码" not in r.text
    assert "客户说月费比宣传的贵</textarea>" in r.text
    assert re.search(r'<option value="store" selected>', r.text) and re.search(r'<option value="price" selected>', r.text)
    assert re.search(r'role="alert".*?客户号码</a>', r.text, re.S)  # the summary names the field as its label does

    # left empty, it is required, said at the same field
    r = web.post("/desk/new", data={"csrf": csrf(desk), "msisdn": "", "category": "price", "text": "x", "channel": "phone"})
    assert r.status_code == 422 and "请填写客户号码" in text_of(r.text, "new-msisdn-problem")


def test_a_credit_refused_comes_back_at_its_complaint_naming_the_forms_fields(web: TestClient) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    assert web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False).status_code == 303
    desk = web.get("/desk").text
    bill = re.search(r'<select name="bill_id"[^>]*><option value="([^"]+)"', desk).group(1)  # type: ignore[union-attr]
    r = web.post("/desk/cmp-1/resolve", data={"csrf": csrf(desk), "note": "", "amount": "abc", "bill_id": bill,
                                              "key": "crd_a11yform-1"})
    assert r.status_code == 422 and 'id="error-code"' not in r.text
    amount, note = tag(r.text, "resolve-cmp-1-amount"), tag(r.text, "resolve-cmp-1-note")
    assert 'value="abc"' in amount and 'aria-invalid="true"' in amount and 'aria-invalid="true"' in note
    assert text_of(r.text, "resolve-cmp-1-amount-problem") == "请填写数字"  # not "Input should be a valid decimal"
    assert "至少 3 个字" in text_of(r.text, "resolve-cmp-1-note-problem")
    assert "原因" not in re.search(r'id="form-problems".*?</div>', r.text, re.S).group(0)  # type: ignore[union-attr]
    assert "autofocus" in note  # the first field of the form that is wrong
    # the desk's own table of customers handled has its header cells
    assert re.search(r'<table id="my-assignments-table">\s*<thead><tr><th scope="col">客户</th>', r.text)


def test_a_failed_login_is_announced_tied_to_the_fields_and_keeps_the_username(web: TestClient) -> None:
    web.cookies.clear()
    web.get("/lang/zh?next=/login")
    r = web.post("/login", data={"username": "alice", "password": "wrong-password"})
    assert r.status_code == 401
    said = tag(r.text, "login-failed")
    assert 'role="alert"' in said and "用户名或密码错误" in text_of(r.text, "login-failed")
    for field in ("username", "password"):
        assert 'aria-invalid="true"' in tag(r.text, field) and described_by(r.text, field) == ["login-failed"]
    assert 'value="alice"' in tag(r.text, "username") and "wrong-password" not in r.text


def test_every_page_has_a_skip_link_named_menus_and_labelled_languages(web: TestClient) -> None:
    login(web, "agent1", "zh")
    page = web.get("/desk?msg=released_ok").text
    body = page.split("<body>", 1)[1].lstrip()
    assert body.startswith('<a class="skip" href="#main" id="skip-link">跳到正文</a>')
    assert '<main id="main" tabindex="-1">' in page
    assert re.search(r'<nav aria-label="主菜单"', page) and 'aria-current="page"' in tag(page, "main-menu") + page
    assert 'lang="en"' in tag(page, "lang-en") and 'lang="zh-CN"' in tag(page, "lang-zh")
    assert re.search(r'<p class="flash" role="status">', page)
    login(web, "alice", "en")
    assert ">Skip to content</a>" in web.get("/my/bill").text


def test_customer_channels_are_in_words_and_error_pages_say_what_failed(web: TestClient, seeded: Seeded) -> None:
    login(web, "agent1", "zh")
    desk = web.get("/desk").text
    web.post("/desk/cmp-1/take", data={"csrf": csrf(desk)}, follow_redirects=False)
    page = web.get("/customers/8613800138000").text
    options = re.search(r'<select name="channel" id="customer-marketing-channel">(.*?)</select>', page, re.S)
    assert options and ">短信<" in options.group(1) and ">信函<" in options.group(1) and ">letter<" not in options.group(1)

    login(web, "alice", "zh")
    bad_month = web.get("/my/bill?period=2026-13")
    title = re.search(r"<title>(.*?)</title>", bad_month.text).group(1)  # type: ignore[union-attr]
    assert bad_month.status_code >= 400 and title != "出错了 · fairtel" and "出错了" not in title


def test_words_in_the_other_language_are_marked_and_refused_fields_described(web: TestClient, seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id="tkt-a11y-lang", msisdn=ALICE, region="Shanghai", category="no_signal", priority=2, status="open",
            opened_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC), resolved_at=None,
            summary="no_signal at 家里 since 昨天晚上 (reported in chat chat_01lang)"))
    login(web, "agent1", "en")
    row = re.search(r'<tr id="ticket-tkt-a11y-lang".*?</tr>', web.get("/tickets").text, re.S)
    assert row and re.search(r'<span class="small reported" lang="zh-CN">[^<]*家里', row.group(0))

    login(web, "alice", "en")
    r = web.post("/my/roaming", data={"csrf": csrf(web.get("/my/roaming").text), "amount": "999999"})
    assert r.status_code in (400, 422) and described_by(r.text, "cap-amount") == ["form-problems"]
    bill = web.get("/my/bill").text  # the bill's lines scroll in a box a keyboard reaches, named
    assert re.search(r'<div class="table-wrap" tabindex="0" role="region" aria-label="Bill lines"><table id="bill-lines">', bill)
