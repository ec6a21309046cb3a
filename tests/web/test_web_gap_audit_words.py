"""The access audit page showed raw action codes (``subscriber.read``): each action now reads in words in Chinese and
English, the code kept beside them (and in the cell's title) for staff who search by it. Every action code the
project writes to the audit (found in the source: the ``action`` of the audit writers, the constants they are
given) has words in both languages."""

from __future__ import annotations

import ast
import html
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_forms import login
from fairtel_seed import Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.web import create_console

SRC = Path(__file__).resolve().parents[2] / "src" / "fairtel"
# the functions that write audit rows (api's Access and LoginAudit, the CLI's helpers, the store's)
WRITERS = {"audit", "audit_list", "_row", "audit_shown", "audit_change", "record_access", "access_row", "audit_cases",
           "_audit", "_audit_change"}
CODE = re.compile(r"[a-z_]+(?:\.[a-z_]+)+")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _given(trees: list[ast.Module]) -> dict[str, list[ast.expr]]:
    """Every value a name is given anywhere in the package: assignments (tuples too), defaults, import aliases."""
    given: dict[str, list[ast.expr]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        given.setdefault(t.id, []).append(node.value)
                    elif isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        for n, v in zip(t.elts, node.value.elts, strict=False):
                            if isinstance(n, ast.Name):
                                given.setdefault(n.id, []).append(v)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                given.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.asname:
                        given.setdefault(alias.asname, []).append(ast.Name(alias.name))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                positional = a.posonlyargs + a.args
                for arg, d in zip(positional[len(positional) - len(a.defaults):], a.defaults, strict=True):
                    given.setdefault(arg.arg, []).append(d)
                for arg, kd in zip(a.kwonlyargs, a.kw_defaults, strict=True):
                    if kd is not None:
                        given.setdefault(arg.arg, []).append(kd)
    return given


def _values(e: ast.expr, given: dict[str, list[ast.expr]], seen: tuple[str, ...] = ()) -> set[str]:
    """The strings an expression may be: constants, either side of ``a if c else b``, an f-string's combinations,
    a name's values wherever it is given one."""
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        return {e.value}
    if isinstance(e, ast.IfExp):
        return _values(e.body, given, seen) | _values(e.orelse, given, seen)
    if isinstance(e, ast.JoinedStr):
        parts = [_values(v.value if isinstance(v, ast.FormattedValue) else v, given, seen) for v in e.values]
        return {"".join(p) for p in itertools.product(*parts)}
    if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name):  # ``_VERBS[target]``: any value of that mapping
        out = set()
        for m in given.get(e.value.id, []):
            if isinstance(m, ast.Dict):
                for v in m.values:
                    out |= _values(v, given, seen)
        return out
    if isinstance(e, ast.Name) and e.id not in seen:
        out: set[str] = set()
        for v in given.get(e.id, []):
            out |= _values(v, given, (*seen, e.id))
        return out
    return set()


def audited_actions() -> set[str]:
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py")) if "web" not in p.parts]
    given = _given(trees)
    found: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            exprs: list[ast.expr] = []
            if isinstance(node, ast.Dict):  # a row written as a mapping (a migration's)
                exprs = [v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant) and k.value == "action"]
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                exprs = [k.value for k in node.keywords if k.arg == "action"]
                if name in WRITERS:
                    exprs.extend(node.args)
            for e in exprs:
                found |= {v for v in _values(e, given) if CODE.fullmatch(v)}
    return found


def test_the_search_finds_the_actions_written() -> None:
    found = audited_actions()
    # a few of each writer, so that a search finding nothing cannot pass the test below
    assert {"subscriber.read", "login.succeeded", "login.rate_limited", "access.denied", "held_usage.write_off",
            "ticket.resolve", "ticket.close", "subscriber.export", "user.disable", "home.backup"} <= found
    assert len(found) >= 60


def test_every_action_written_to_the_audit_has_words_in_both_languages() -> None:
    from fairtel.web._audit_words import action_text

    missing = sorted(a for a in audited_actions() if action_text(a, "en") == a or action_text(a, "zh") == a)
    assert not missing, f"audit actions with no words: {missing}"
    for a in audited_actions():
        assert HAN.search(action_text(a, "zh")), a
        assert not HAN.search(action_text(a, "en")) and "." not in action_text(a, "en"), a


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


@pytest.mark.parametrize(("lang", "words"), [("zh", "登录成功"), ("en", "Logged in")])
def test_the_audit_page_says_the_action_in_words_and_keeps_the_code(web: TestClient, lang: str, words: str) -> None:
    login(web, "alice")  # a row of her login to find
    login(web, "admin1", lang)
    page = web.get("/audit", params={"action": "login.succeeded"})
    assert page.status_code == 200, page.text
    cells = re.findall(r'<td class="action wrap" title="([^"]*)">(.*?)</td>', page.text, re.S)
    assert cells, page.text
    for title, cell in cells:
        assert title == "login.succeeded"
        text = html.unescape(re.sub(r"<[^>]+>", " ", cell))
        assert f'<span class="action-words">{words}</span>' in cell and cell.endswith("<br>login.succeeded")
        assert words in text
    roles = re.findall(r"<td>[^<]*\(([^)]*)\)</td>", page.text)
    assert roles and ("用户" if lang == "zh" else "subscriber") in roles


def test_the_written_actions_include_those_made_of_a_lifecycle_state() -> None:
    # written as f"complaint.{_VERBS[target]}", or through the store's own writers
    assert {"complaint.acknowledge", "complaint.resolve", "complaint.close", "complaint.reopen", "complaint.escalate",
            "ticket.open"} <= audited_actions()


@pytest.mark.parametrize(("lang", "words"), [("zh", "无此账号"), ("en", "no such login")])
def test_a_failed_login_under_a_name_no_login_has_reads_in_words(web: TestClient, lang: str, words: str) -> None:
    web.cookies.clear()
    r = web.post("/login", data={"username": "no-such-login-here", "password": "wrong-password-1"}, follow_redirects=False)
    assert r.status_code == 401
    login(web, "admin1", lang)
    page = web.get("/audit", params={"action": "login.failed"}).text
    roles = re.findall(r"<td>[^<]*\(([^)]*)\)</td>", page)
    assert words in roles and "none" not in roles, roles
