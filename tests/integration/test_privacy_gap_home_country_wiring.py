"""An operator at home in Germany: numbers its people write as dialled at home (``0151 2345 6789``) are read by
Germany's numbering plan (+49) wherever free text is pseudonymised or masked, so that a subscriber's number is
kept as that subscriber's: in the command line's access audit, a complaint's history as the desk reads it, a
fraud decision's note, the API's audit and the assistant's transcript. Before, every caller read them as
Chinese ones: ``015123456789`` was pseudonymised as a number of its own (not the subscriber's, whose rows the
audit files under ``4915123456789``) and the subscriber's own number was masked in their complaint's notes.
And ``fairtel load`` refuses a catalog whose ``[operator] country`` is not the home's (``FAIRTEL_COUNTRY``, else
the country of ``FAIRTEL_TIMEZONE``), as it refuses one on another clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.api import Access, ApiOptions, Principal
from fairtel.api._services import Services
from fairtel.bootstrap import bootstrap
from fairtel.care import Assistant
from fairtel.care._intent_model import IntentPrediction
from fairtel.care._intent_text import Language
from fairtel.catalog import default_catalog_path, parse_catalog
from fairtel.cli import app as fairtel
from fairtel.cli._audit import audit_shown
from fairtel.cli._fraud_detect import hide_numbers, msisdn_pseudonyms
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import StoreCareData, access_log

runner = CliRunner()
SHANGHAI = 'timezone = "Asia/Shanghai"'
LINE = "4915123456789"  # as the register keeps it
DIALLED = "0151 2345 6789"  # as people in Germany write it
OTHER = "0160 9876 5432"  # someone else's


def _catalog(timezone: str, country: str | None) -> str:
    text = default_catalog_path().read_text(encoding="utf-8")
    assert text.count(SHANGHAI) == 1
    named = f'\ncountry = "{country}"' if country is not None else ""
    return text.replace(SHANGHAI, f'timezone = "{timezone}"{named}')


def _operator(tmp_path: Path, timezone: str = "Europe/Berlin", country: str | None = "DE") -> Path:
    op = tmp_path / "op"
    op.mkdir(exist_ok=True)
    (op / "catalog.toml").write_text(_catalog(timezone, country), encoding="utf-8")
    (op / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                        f"{LINE},C1,basic-39,2025-01-01T00:00:00+01:00,active,en,BE\n",
                                        encoding="utf-8")
    return op


def _run(*args: str) -> tuple[int, Any]:
    result = runner.invoke(fairtel, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no fairtel.toml
    for name in ("FAIRTEL_CONFIG", "FAIRTEL_COUNTRY", "FAIRTEL_TIMEZONE", "FAIRTEL_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def berlin(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home in Germany (FAIRTEL_TIMEZONE=Europe/Berlin: home country DE) loaded with a German operator."""
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Europe/Berlin")
    home = tmp_path / "h"
    code, out = _run("load", str(_operator(tmp_path)), "--home", str(home))
    assert code == 0, out
    assert out["catalog"]["status"] == "stored" and out["subscribers"]["inserted"] == 1, out
    return home


def _settings(home: Path) -> Any:
    s = load_settings(home=home)
    assert s.home_country == "DE"
    return s


def test_the_desk_reads_a_german_subscribers_own_number_in_their_complaints_notes(berlin: Path) -> None:
    code, made = _run("care", "complain", "--msisdn", LINE, "--text", "charged twice", "--category",
                      "unexplained_charge", "--home", str(berlin))
    assert code == 0, made
    cid = made["complaint_id"]
    code, acked = _run("care", "complaint-ack", cid, "--note", f"called back on {DIALLED}, not on {OTHER}",
                       "--home", str(berlin))
    assert code == 0
    # the move's own answer shows its notes as the history does (it printed them in clear)
    assert [e["note"] for e in acked["history"] if e["note"]] == ["called back on 015123456789, not on 49160****5432"]
    code, history = _run("care", "complaint-history", cid, "--home", str(berlin))
    assert code == 0, history
    notes = [e["note"] for e in history["history"] if e["note"]]
    # the subscriber's own number as written (it is theirs: 4915123456789), the other one masked
    assert notes == ["called back on 015123456789, not on 49160****5432"]


def test_the_command_lines_audit_files_a_german_number_under_its_subscriber(berlin: Path) -> None:
    fapp = bootstrap(_settings(berlin))
    try:
        pseudonym = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")
        mine = pseudonym(LINE)
        assert audit_shown(None, fapp, action="bill.read", subjects=[LINE], what=f"the statement of {DIALLED}",
                           to=f"statement {DIALLED}.pdf") is not None
        with fapp.db.connect() as conn:
            (row,) = [r for r in access_log(conn) if r.action == "bill.read"]
        assert row.subject_msisdn_pseudonym == mine
        reason = row.reason or ""
        assert reason.count(mine) == 2 and "6789" not in reason, reason
        # a fraud decision's note (the case files, the audit): the subscriber's pseudonym, as the audit's subject
        note = hide_numbers(f"owner of {DIALLED} confirmed", msisdn_pseudonyms(fapp), fapp.settings.home_country)
        assert note == f"owner of {mine} confirmed"
    finally:
        fapp.db.dispose()


def test_the_apis_audit_files_a_german_number_under_its_subscriber(berlin: Path) -> None:
    fapp = bootstrap(_settings(berlin))
    try:
        svc = Services(fapp, options=ApiOptions(rate_per_second=0), assistant=None)
        acc = Access(principal=Principal("admin-1", Role.ADMIN), pseudonyms=svc.pseudonyms, begin=fapp.db.begin)
        mine = svc.pseudonyms.msisdn(LINE)
        assert acc.hide_numbers(f"rang {DIALLED} and +49 151 2345 6789") == f"rang {mine} and {mine}"
        acc.audit("subscriber.read", f"subscriber/{DIALLED}", msisdn=LINE, reason=f"asked by {DIALLED}")
        (row,) = acc.take_pending_audit()
        assert (row["subject_msisdn_pseudonym"], row["resource"], row["reason"]) == (
            mine, f"subscriber/{mine}", f"asked by {mine}")
    finally:
        fapp.db.dispose()


def test_the_assistants_transcript_keeps_a_german_callers_own_number(berlin: Path) -> None:
    settings = _settings(berlin)
    fapp = bootstrap(settings)
    try:
        catalog, problems = parse_catalog(_catalog("Europe/Berlin", "DE"))
        assert problems == [] and catalog is not None

        def classify(text: str) -> IntentPrediction:
            return IntentPrediction("out_of_scope", 0.99, Language.EN, True)

        data = StoreCareData(fapp.db, settings.lake_dir, catalog,
                             pseudonymize=Pseudonymizer(settings.secret_key.get_secret_value(), domain="msisdn"))
        assistant = Assistant(classify, data, home_country=settings.home_country)
        conv = assistant.start(LINE, language="en")
        assistant.say(conv, f"this is {DIALLED}, who is {OTHER}?")
        assert conv.transcript[0] == ("user", "this is 015123456789, who is ************?")
    finally:
        fapp.db.dispose()


# -- load: the catalog's country is the home's -----------------------------------------------------------------
def test_load_refuses_a_catalog_at_home_in_another_country(tmp_path: Path, clean_env: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # an operator in Liechtenstein on Zurich's clock, in a home whose settings say Switzerland (the clock's country)
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Europe/Zurich")
    home = tmp_path / "h"
    op = _operator(tmp_path, "Europe/Zurich", "LI")
    code, out = _run("load", str(op), "--home", str(home))
    assert code == 2 and out["error"]["code"] == "catalog_invalid", out
    (problem,) = out["error"]["details"]["problems"]
    line = next(n for n, t in enumerate(_catalog("Europe/Zurich", "LI").splitlines(), 1) if t.startswith("country ="))
    assert f"catalog.toml:{line} [operator.country]" in problem  # the file's line and field
    assert "LI" in problem and "CH" in problem and "FAIRTEL_COUNTRY=LI" in problem
    code, shown = _run("catalog", "show", "--home", str(home))
    assert code == 0 and shown["timezone"] == "Asia/Shanghai"  # nothing stored: the demo catalog
    # the home told its country: loaded
    monkeypatch.setenv("FAIRTEL_COUNTRY", "LI")
    code, out = _run("load", str(op), "--home", str(home))
    assert code == 0 and out["catalog"]["status"] == "stored", out


def test_load_refuses_a_catalog_whose_clock_says_another_country(tmp_path: Path, clean_env: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the catalog names no country: its time zone's (CH) is not the one the settings name (LI)
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Europe/Zurich")
    monkeypatch.setenv("FAIRTEL_COUNTRY", "LI")
    code, out = _run("load", str(_operator(tmp_path, "Europe/Zurich", None)), "--home", str(tmp_path / "h"))
    assert code == 2 and out["error"]["code"] == "catalog_invalid", out
    (problem,) = out["error"]["details"]["problems"]
    assert "catalog.toml:6 [operator.country]" in problem  # the line of [operator]
    assert "at home in CH" in problem and "home country is LI" in problem


def test_a_chinese_home_is_as_before(tmp_path: Path, clean_env: None) -> None:
    code, out = _run("load", str(_operator(tmp_path, "Asia/Shanghai", None)), "--home", str(tmp_path / "h"))
    assert code == 0, out
    fapp = bootstrap(load_settings(home=tmp_path / "h"))
    try:
        assert fapp.settings.home_country == "CN"
        pseudonym = msisdn_pseudonyms(fapp)
        assert hide_numbers("call 138 0013 8000", pseudonym, fapp.settings.home_country) == (
            f"call {pseudonym('8613800138000')}")
    finally:
        fapp.db.dispose()
