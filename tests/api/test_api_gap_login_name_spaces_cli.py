"""A login's name with a space before or after it is refused with one sentence wherever a login is made: the
admin API and ``fairtel users add`` alike (the login form ignores such spaces, so a name holding them would be one
nobody could tell apart from its trimmed twin)."""

from __future__ import annotations

import json

import pytest
from fairtel_seed import PASSWORD, Seeded
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.api._users import SURROUNDING_SPACE, create_user
from fairtel.cli import app as cli
from fairtel.core.errors import InvalidInputError
from fairtel.store import User
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"


@pytest.mark.parametrize("name", [" bob2", "bob2 ", "\tbob2"])
def test_create_user_refuses_a_name_with_surrounding_space(seeded: Seeded, name: str) -> None:
    with seeded.engine.begin() as conn, pytest.raises(InvalidInputError) as refused:
        create_user(conn, name, PASSWORD, "agent")
    assert [(p.field, p.message) for p in refused.value.problems] == [("username", SURROUNDING_SPACE)]


def test_fairtel_users_add_refuses_it_with_the_same_sentence(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    monkeypatch.setenv("FAIRTEL_ENVIRONMENT", "test")
    r = CliRunner().invoke(cli, ["users", "add", " agent-sp ", "--role", "agent", "--password-stdin", "--home",
                                 str(seeded.settings.home), "--json"], input=f"{PASSWORD}\n")
    assert r.exit_code == 2, r.output
    problems = json.loads(r.stdout)["error"]["details"]["problems"]
    assert len(problems) == 1 and "username" in problems[0] and SURROUNDING_SPACE in problems[0]
    with seeded.engine.connect() as conn:
        names = conn.scalars(select(table_of(User).c.username)).all()
    assert not any("agent-sp" in n for n in names)
