"""What the console tests do to a page: log in as a seeded user, read a form's token, pick a table row."""

from __future__ import annotations

import re

from fairtel_seed import PASSWORD
from fastapi.testclient import TestClient


def login(c: TestClient, user: str, lang: str | None = None) -> None:
    """A fresh session for ``user`` (seeded password), in ``lang`` when given."""
    c.cookies.clear()
    r = c.post("/login", data={"username": user, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    if lang is not None:
        c.get(f"/lang/{lang}?next=/")


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has a form token"
    return m.group(1)


def row_of(html: str, row_id: str) -> str:
    """The cells of the table row with this id."""
    m = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert m, row_id
    return m.group(1)
