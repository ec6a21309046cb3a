"""Complaint deadlines are an operator setting (``[sla]`` in the settings file, or ``FAIRTEL_SLA``): refused
with file, line and key when wrong, and used by the assistant's reply, the deadline stored with a complaint,
escalation and ``fairtel kpi``'s attainment, so that what a subscriber is promised is what is measured.
A keyword classifier stands in for the intent model, so nothing is trained."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.care import DEFAULT_SLA, ComplaintCategory, IntentPrediction, SlaPolicy, detect_language, sla_policy
from fairtel.cli import app
from fairtel.core.errors import ConfigError, InvalidInputError
from fairtel.core.settings import SLA_CATEGORIES, load_settings
from fairtel.core.time import Period
from fairtel.store import Complaint, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE = "8613800138000"
TWELVE = """\
# the operator answers and settles charge complaints within half a day
[sla]
escalate_after_hours = 0

[sla.acknowledge]
unexplained_charge = 12

[sla.resolve]
unexplained_charge = 12
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings file every ``load_settings`` of the test reads (none written yet: the defaults)."""
    path = tmp_path / "fairtel.toml"
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv("FAIRTEL_CONFIG", str(path))
    monkeypatch.delenv("FAIRTEL_SLA", raising=False)
    return path


@pytest.fixture
def home(tmp_path: Path, config: Path) -> Path:
    home = tmp_path / "home"
    fapp = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{LINE},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    fapp.db.dispose()
    return home


def run(home: Path, *args: str, code: int = 0) -> Any:
    res = runner.invoke(app, [*args, "--home", str(home), "--json"])
    assert res.exit_code == code, res.output
    return json.loads(res.stdout)


# -- the setting ---------------------------------------------------------------------------------------------
def test_the_setting_names_the_categories_care_knows() -> None:
    assert ("default", *(c.value for c in ComplaintCategory)) == SLA_CATEGORIES


def test_the_sla_table_is_laid_over_the_built_in_policy(tmp_path: Path, config: Path) -> None:
    config.write_text(TWELVE, encoding="utf-8")
    policy = sla_policy(load_settings(home=tmp_path).sla)
    assert (policy.acknowledge_hours("unexplained_charge"), policy.resolve_hours("unexplained_charge")) == (12, 12)
    assert policy.escalate_after_hours == 0
    # what the operator did not name keeps the built-in hours
    for category in ("fraud", "privacy", "price"):
        assert policy.acknowledge_hours(category) == DEFAULT_SLA.acknowledge_hours(category)
        assert policy.resolve_hours(category) == DEFAULT_SLA.resolve_hours(category)
    config.write_text("", encoding="utf-8")
    assert sla_policy(load_settings(home=tmp_path).sla) == DEFAULT_SLA


def test_the_variable_sets_it_too(tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SLA", json.dumps({"resolve": {"unexplained_charge": 12, "default": 96}}))
    policy = sla_policy(load_settings(home=tmp_path).sla)
    assert policy.resolve_hours("unexplained_charge") == 12 and policy.resolve_hours("price") == 96
    assert policy.acknowledge_hours("unexplained_charge") == DEFAULT_SLA.acknowledge_hours("unexplained_charge")


def test_wrong_hours_and_unknown_categories_are_refused_with_file_line_and_key(tmp_path: Path, config: Path) -> None:
    config.write_text(
        "[sla]\n"                              # 1
        "escalate_after_hours = -1\n"          # 2
        "deadline = 4\n"                       # 3
        "\n"                                   # 4
        "[sla.acknowledge]\n"                  # 5
        "unexplaned_charge = 12\n"             # 6
        "fraud = 0\n"                          # 7
        "\n"                                   # 8
        "[sla.resolve]\n"                      # 9
        "unexplained_charge = 12.5\n"          # 10
        'privacy = "48"\n',                    # 11
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(home=tmp_path)
    problems = err.value.details["problems"]
    where = str(config)
    assert problems == [
        f"{where}:3 [sla.deadline]: not an SLA setting; one of acknowledge, resolve, escalate_after_hours",
        f"{where}:6 [sla.acknowledge.unexplaned_charge]: not a complaint category; one of {', '.join(SLA_CATEGORIES)}",
        f"{where}:7 [sla.acknowledge.fraud]: hours must be above 0 and at most 8784, not 0",
        f"{where}:10 [sla.resolve.unexplained_charge]: a whole number of hours, not 12.5",
        f"{where}:11 [sla.resolve.privacy]: a whole number of hours, not '48'",
        f"{where}:2 [sla.escalate_after_hours]: hours must be 0 or more and at most 8784, not -1",
    ]
    assert all(p in str(err.value) for p in problems)


def test_an_inline_table_is_located_on_its_line(tmp_path: Path, config: Path) -> None:
    config.write_text('timezone = "Asia/Shanghai"\nsla = { resolve = { fraud = 24, price = 999999 } }\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(home=tmp_path)
    assert err.value.details["problems"] == [
        f"{config}:2 [sla.resolve.price]: hours must be above 0 and at most 8784, not 999999"]


def test_a_wrong_variable_is_named(tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SLA", json.dumps({"resolve": {"unexplained_charge": -12}}))
    with pytest.raises(ConfigError, match=r"FAIRTEL_SLA \[sla\.resolve\.unexplained_charge\]: hours must be above 0"):
        load_settings(home=tmp_path)


def test_every_command_refuses_a_wrong_setting(home: Path, config: Path) -> None:
    config.write_text("[sla.resolve]\nunexplained_charge = 0\n", encoding="utf-8")
    err = run(home, "kpi", code=2)["error"]
    assert err["code"] == "config_invalid"
    assert err["details"]["problems"] == [f"{config}:2 [sla.resolve.unexplained_charge]: hours must be above 0 and at most 8784, not 0"]


def test_a_policy_made_in_code_is_checked_too() -> None:
    with pytest.raises(InvalidInputError) as err:
        SlaPolicy(acknowledge={"unexplained_charge": 2}, resolve={"default": 72, "fraud": 0})
    assert sorted(p.field or "" for p in err.value.problems) == ["acknowledge.default", "resolve.fraud"]


# -- the places deadlines are used ----------------------------------------------------------------------------
def classify(text: str) -> IntentPrediction:
    label = "complaint" if "扣费" in text or "complain" in text.lower() else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_the_reply_and_the_stored_deadline_quote_the_setting(home: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fairtel.cli._care import build_assistant
    from fairtel.store import get_complaint

    config.write_text(TWELVE, encoding="utf-8")
    monkeypatch.setattr("fairtel.care.load_intent_model", lambda *_a, **_k: classify)
    fapp = bootstrap(load_settings(home=home))
    try:
        assistant = build_assistant(fapp, log=False)
        conv = assistant.start(LINE)
        reply = assistant.say(conv, "不明扣费，我要投诉")
        assert reply.data["category"] == "unexplained_charge"
        assert "在 12 小时内" in reply.text and reply.data["acknowledge_hours"] == 12
        with fapp.db.connect() as conn:
            rec = get_complaint(conn, reply.data["complaint_id"])
        assert rec.due_at - rec.opened_at == timedelta(hours=12)
    finally:
        fapp.db.dispose()


def test_the_desk_and_the_import_store_the_configured_deadline(home: Path, config: Path, tmp_path: Path) -> None:
    config.write_text(TWELVE, encoding="utf-8")
    cid = run(home, "care", "complain", "--msisdn", LINE, "--text", "扣了我6元", "--category", "unexplained_charge")["complaint_id"]
    rec = run(home, "care", "complaint-history", cid)
    assert datetime.fromisoformat(rec["due_at"]) - datetime.fromisoformat(rec["opened_at"]) == timedelta(hours=12)
    lines = tmp_path / "complaints.jsonl"
    lines.write_text(json.dumps({"complaint_id": "cmp-imp", "msisdn": LINE, "at": "2026-03-02T10:00:00+08:00",
                                 "category": "vas", "text": "charged"}) + "\n", encoding="utf-8")
    assert run(home, "care", "import-complaints", str(lines))["inserted"] == 1
    rec = run(home, "care", "complaint-history", "cmp-imp")
    assert datetime.fromisoformat(rec["due_at"]) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _unrecorded_complaint(home: Path, *, opened_at: datetime, closed_at: datetime | None) -> None:
    """A complaint stored before deadlines were (no ``due_at``): judged by the policy in force."""
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.begin() as conn:
        conn.execute(insert(table_of(Complaint)).values(
            complaint_id="cmp-old", msisdn=LINE, category="unexplained_charge", opened_at=opened_at, closed_at=closed_at,
            status="open" if closed_at is None else "closed", channel="hotline", text="charged",
            lifecycle="opened" if closed_at is None else "closed", due_at=None, escalation_level=0))
    fapp.db.dispose()


def test_kpi_attainment_judges_by_the_setting(home: Path, config: Path) -> None:
    opened = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    _unrecorded_complaint(home, opened_at=opened, closed_at=opened + timedelta(hours=20))
    period = Period.containing(opened, load_settings(home=home).timezone).key
    before = run(home, "kpi", "--period", period)["sla"]
    assert (before["resolved"], before["resolved_in_time"]) == (1, 1)  # 20 h is within the built-in 48 h
    config.write_text(TWELVE, encoding="utf-8")
    after = run(home, "kpi", "--period", period)["sla"]
    assert (after["resolved"], after["resolved_in_time"], after["attainment"]) == (1, 0, "0.0000")


def test_escalation_judges_by_the_setting(home: Path, config: Path) -> None:
    opened = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    _unrecorded_complaint(home, opened_at=opened, closed_at=None)
    now = (opened + timedelta(hours=13)).isoformat()
    config.write_text(TWELVE, encoding="utf-8")
    done = run(home, "care", "escalate", "--now", now)["escalated"]
    # resolution due 12 h after opening and no margin: the manager at once (the built-in 48 h: not due yet)
    assert [(e["complaint_id"], e["to_level"]) for e in done] == [("cmp-old", 2)]
    assert datetime.fromisoformat(done[0]["due_at"]) == opened + timedelta(hours=12)
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.connect() as conn:
        stored = conn.execute(select(table_of(Complaint).c.due_at)).scalar_one()
    fapp.db.dispose()
    assert stored.astimezone(UTC) == opened + timedelta(hours=12)
