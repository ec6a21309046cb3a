"""``fairtel users add`` records the login it creates in the access audit, as ``POST /api/v1/users`` does
(``user.create``, resource ``user/<name>``, the subscriber's pseudonym, reason ``role <role>``), naming who ran it
(``--actor`` / ``FAIRTEL_ACTOR``, and always the OS user) and the command, in the same transaction as the login.
Before, a login made from the command line (a subscriber's, tied to their number; an admin's) left no trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app
from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.cli._audit import os_user
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE, LINE2 = "8613800138000", "8613900139000"
PASSWORD = "correct horse battery"


def _app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def _audit(home: Path, action: str = "user.create") -> list[Any]:
    t = table_of(AccessAudit)
    with _app(home) as fapp, fapp.db.connect() as conn:
        return list(conn.execute(select(t).where(t.c.action == action).order_by(t.c.audit_id)))


def _pseudonym(home: Path, number: str) -> str:
    with _app(home) as fapp:
        return Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")(number)


def _home(tmp_path: Path) -> Path:
    """A home whose register holds LINE and LINE2 (a subscriber's login names a line of the register)."""
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"{n},c{i},payg,2025-01-01T00:00:00+08:00,active,zh,sh\n" for i, n in enumerate((LINE, LINE2))),
                    encoding="utf-8")
    with _app(home) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    return home


def _add(home: Path, *args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    result = runner.invoke(app, ["users", "add", *args, "--password-stdin", "--home", str(home)], input=PASSWORD + "\n",
                           env=env)
    assert result.exit_code == code, result.output
    return result


def test_adding_a_subscriber_login_is_recorded_as_the_api_records_it(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _add(home, "alice", "--role", "subscriber", "--msisdn", LINE)
    [row] = _audit(home)
    assert (row.action, row.role, row.resource) == ("user.create", "cli", "user/alice")
    assert row.subject_msisdn_pseudonym == _pseudonym(home, LINE)
    assert row.reason == f"role subscriber; fairtel users add, run by OS user {os_user()}"
    assert row.actor == os_user() and row.request_id.startswith("cli_")
    assert LINE not in f"{row.actor}{row.resource}{row.reason}"


def test_the_actor_named_and_the_os_user_are_both_on_record(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _add(home, "ops-admin", "--role", "admin", env={"FAIRTEL_ACTOR": "night-shift"})
    [row] = _audit(home)
    assert row.actor == "night-shift" and row.subject_msisdn_pseudonym is None  # no subscriber's login: no subject
    assert row.reason == f"role admin; fairtel users add, run by night-shift (OS user {os_user()})"


def test_a_refused_login_leaves_no_row(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _add(home, "alice", "--role", "subscriber", "--msisdn", LINE)
    _add(home, "alice", "--role", "agent", code=2)  # the name is taken
    _add(home, "bob", "--role", "manager", code=2)  # no such role
    assert [r.resource for r in _audit(home)] == ["user/alice"]


def test_the_cli_row_says_what_the_apis_row_says(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _add(home, "root-admin", "--role", "admin")
    _add(home, "carol", "--role", "subscriber", "--msisdn", LINE2)
    with _app(home) as fapp, TestClient(create_app(fapp.settings, options=ApiOptions(rate_per_second=0), app=fapp)) as c:
        token = c.post("/api/v1/auth/token", data={"username": "root-admin", "password": PASSWORD}).json()["access_token"]
        r = c.post("/api/v1/users", json={"username": "dave", "password": PASSWORD, "role": "subscriber", "msisdn": LINE},
                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
    by = {r.resource: r for r in _audit(home)}
    api, cli = by["user/dave"], by["user/carol"]
    assert (api.action, api.reason) == ("user.create", "role subscriber")
    assert cli.action == api.action and cli.reason.startswith(f"{api.reason}; ")
    assert api.subject_msisdn_pseudonym == _pseudonym(home, LINE) and cli.subject_msisdn_pseudonym == _pseudonym(home, LINE2)


def test_an_api_key_made_on_the_command_line_is_recorded_as_the_api_records_it(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _add(home, "billing-feed", "--role", "analyst")
    result = runner.invoke(app, ["users", "key", "billing-feed", "--label", "mediation", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    [row] = _audit(home, "api_key.create")
    with _app(home) as fapp:
        login = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="login")("billing-feed")
    assert (row.role, row.subject_msisdn_pseudonym) == ("cli", None) and row.resource.startswith("api_key/")
    assert row.reason == f"for {login}; fairtel users key, run by OS user {os_user()}"
    assert "billing-feed" not in row.reason
