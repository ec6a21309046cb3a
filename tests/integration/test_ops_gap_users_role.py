"""An unknown role given to ``fairtel users add`` (or ``create_user``) is an ``input_invalid`` problem of the field
``role`` naming the roles there are, listed with the call's other problems; it was a bare ``fairtel_error: 'boss' is
not a valid Role``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.api import create_user
from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings

ROLES = "subscriber, agent, analyst, fraud_analyst, admin"


def test_an_unknown_role_is_a_problem_of_the_field_role(tmp_path: Path) -> None:
    with (bootstrap(load_settings(home=tmp_path / "home")) as fapp, fapp.db.begin() as conn,
          pytest.raises(InvalidInputError) as caught):
        create_user(conn, "bob", "short", "boss")
    fields = {p.field: p.message for p in caught.value.problems}
    assert set(fields) == {"role", "password"}, fields  # with the call's other problems, all at once
    assert ROLES in fields["role"] and "'boss'" in fields["role"]


def test_users_add_with_an_unknown_role_says_which_there_are(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["users", "add", "bob", "--role", "boss", "--password-stdin",
                                   "--home", str(tmp_path / "home"), "--json"], input="S3cret-pass-admin1\n")
    assert res.exit_code == 2, (res.output, res.exception)
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "input_invalid", error
    assert [p["field"] for p in error["details"]["problem_details"]] == ["role"], error
    assert ROLES in error["details"]["problem_details"][0]["message"], error
