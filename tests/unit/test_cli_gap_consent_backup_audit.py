"""``consent state`` and ``backup`` are recorded in the home's access audit. ``consent state`` shows subscriptions'
numbers in clear: one ``subscription.list`` row per subscriber shown, by keyed pseudonym, written before anything
is shown. ``backup`` copies every subscriber's data and the home's key: one ``home.backup`` row, written before
anything is copied (so the copy holds it too), naming who ran it, the destination and host, how many subscribers
the copy holds and that it holds the key; a backup refused writes none."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.cli._audit import os_user
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
M1, M2 = "8613800138000", "8613900139000"


def _app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def _audit(home: Path, action: str) -> list[Any]:
    t = table_of(AccessAudit)
    with _app(home) as fapp, fapp.db.connect() as conn:
        return list(conn.execute(select(t).where(t.c.action == action).order_by(t.c.audit_id)))


def _pseudonym(home: Path, number: str) -> str:
    with _app(home) as fapp:
        return Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")(number)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{M1},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{M2},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with _app(home) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    return home


@pytest.fixture
def events(tmp_path: Path) -> Path:
    def event(kind: str, sub: str, msisdn: str, at: str) -> str:
        return json.dumps({"event": kind, "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-music-10", "at": at,
                           "channel": "sms", "evidence": f"{sub}-{kind}"})

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        event("ordered", "s1", M1, "2026-09-01T10:00:00+08:00"), event("confirmed", "s1", M1, "2026-09-01T10:03:00+08:00"),
        event("ordered", "s2", M2, "2026-09-02T10:00:00+08:00"),
    ]) + "\n", encoding="utf-8")
    return path


def test_consent_state_records_each_subscriber_it_shows(home: Path, events: Path) -> None:
    result = runner.invoke(app, ["--home", str(home), "consent", "state", str(events), "--at", "2026-09-05T00:00:00+08:00",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert {s["msisdn"] for s in json.loads(result.stdout)["subscriptions"]} == {M1, M2}  # in clear, and recorded
    rows = _audit(home, "subscription.list")
    assert {r.subject_msisdn_pseudonym for r in rows} == {_pseudonym(home, M1), _pseudonym(home, M2)}
    assert len({r.request_id for r in rows}) == 1
    for r in rows:
        assert (r.actor, r.role, r.resource) == (os_user(), "cli", "cli/consent state")
        assert "fairtel consent state: 2 subscriptions in clear, 2 subscribers" in r.reason
        assert M1 not in r.reason and M2 not in r.reason


def test_consent_state_of_one_subscriber_records_that_one(home: Path, events: Path) -> None:
    result = runner.invoke(app, ["consent", "state", str(events), "--msisdn", M2, "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert [r.subject_msisdn_pseudonym for r in _audit(home, "subscription.list")] == [_pseudonym(home, M2)]


def test_consent_state_shows_nothing_when_its_row_cannot_be_written(home: Path, events: Path) -> None:
    with _app(home) as fapp, fapp.db.begin() as conn:
        conn.execute(text("CREATE TRIGGER no_audit BEFORE INSERT ON access_audit BEGIN SELECT RAISE(ABORT, 'audit down'); END"))
    result = runner.invoke(app, ["--home", str(home), "consent", "state", str(events), "--json"])
    assert result.exit_code != 0
    assert M1 not in result.stdout and M2 not in result.stdout


def test_a_backup_records_who_took_it_and_where_to(home: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backups" / "b1"
    result = runner.invoke(app, ["--home", str(home), "--actor", "ops lead", "backup", str(dest), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = _audit(home, "home.backup")
    assert (row.actor, row.role, row.subject_msisdn_pseudonym) == ("ops lead", "cli", None)
    home_id = (home / "home.id").read_text(encoding="utf-8").strip()
    assert row.resource == f"home/{home_id}"
    reason = row.reason
    assert f"to {dest.resolve()} on host {socket.gethostname()}" in reason
    assert "the data of 2 subscribers" in reason and "secret.key" in reason
    assert f"fairtel backup, run by ops lead (OS user {os_user()})" in reason
    with sqlite3.connect(dest / "fairtel.db") as copy:  # the copy holds the row of its own making
        assert copy.execute("SELECT reason FROM access_audit WHERE action = 'home.backup'").fetchall() == [(reason,)]


def test_a_refused_backup_records_nothing(home: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["--home", str(home), "backup", str(full), "--json"])
    assert result.exit_code != 0
    assert _audit(home, "home.backup") == []


def test_nothing_is_copied_when_the_backup_cannot_be_recorded(home: Path, tmp_path: Path) -> None:
    with _app(home) as fapp, fapp.db.begin() as conn:
        conn.execute(text("CREATE TRIGGER no_audit BEFORE INSERT ON access_audit BEGIN SELECT RAISE(ABORT, 'audit down'); END"))
    dest = tmp_path / "b2"
    result = runner.invoke(app, ["--home", str(home), "backup", str(dest), "--json"])
    assert result.exit_code != 0
    assert not dest.exists() and not (tmp_path / "b2.partial").exists()
