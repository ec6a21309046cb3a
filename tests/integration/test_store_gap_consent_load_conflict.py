"""`fairtel load` refuses, and reports as problems, the consent events that name another number or offer than their
subscription, with the reason `fairtel consent check` gives them (``consent_event_conflict``): a subscription
belongs to the number and offer of its earliest event, in the file or in the ledger already.

Before: the load reported such a file ``ok`` (every line accepted) and stored the events, while `fairtel consent
check` gave "2 problem(s)" for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.store import ConsentEvent

A, B = "8613800000001", "8613800000002"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _event(event: str, sub: str, msisdn: str, offer: str, at: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": offer, "at": at,
                       "channel": "sms", "evidence": f"{sub}:{event}"}) + "\n"


def _operator_dir(root: Path, lines: list[str]) -> Path:
    d = root / "op"
    (d / "consent").mkdir(parents=True)
    shutil.copy(default_catalog_path(), d / "catalog.toml")
    (d / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                                       f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                                       f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    (d / "consent" / "walk.jsonl").write_text("".join(lines), encoding="utf-8")
    return d


LINES = [
    _event("ordered", "w-b", A, "vas-music-10", "2026-10-01T09:00:00+08:00"),
    _event("confirmed", "w-b", B, "vas-music-10", "2026-10-01T09:01:00+08:00"),  # another number
    _event("ordered", "w-p", A, "vas-video-15", "2026-10-01T10:00:00+08:00"),
    _event("confirmed", "w-p", A, "vas-music-10", "2026-10-01T10:01:00+08:00"),  # another offer
    _event("ordered", "w-ok", A, "vas-horoscope-6", "2026-10-01T11:00:00+08:00"),
    _event("confirmed", "w-ok", A, "vas-horoscope-6", "2026-10-01T11:01:00+08:00"),
]


def test_load_refuses_and_reports_what_consent_check_flags(tmp_path: Path) -> None:
    op = _operator_dir(tmp_path, LINES)
    checked = runner.invoke(cli, ["consent", "check", str(op / "consent" / "walk.jsonl"), "--json"])
    assert checked.exit_code == 1
    expected = json.loads(checked.stdout)["problems"]
    assert len(expected) == 2

    home = tmp_path / "home"
    loaded = runner.invoke(cli, ["--home", str(home), "load", str(op), "--no-usage", "--json"])
    (report,) = json.loads(loaded.stdout)["consent"]
    assert (report["status"], report["read"], report["accepted"], report["rejected"]) == ("partial", 6, 4, 2), report
    assert {p["code"] for p in report["problems"]} == {"consent_event_conflict"}
    assert sorted((p["line"], p["field"]) for p in report["problems"]) == [(2, "msisdn"), (4, "offer_id")]
    # the same reasons, and fields, as `fairtel consent check` gives them ("<where> [field]: reason")
    assert sorted(e.split(" ", 1)[1] for e in expected) == sorted(
        f"[{p['field']}]: {p['message']}" for p in report["problems"])

    app = bootstrap(load_settings(home=home))
    with app.db.connect() as conn:
        kept = sorted(tuple(r) for r in conn.execute(select(ConsentEvent.subscription_id, ConsentEvent.msisdn,
                                                            ConsentEvent.offer_id)))
    app.close()
    assert kept == [("w-b", A, "vas-music-10"), ("w-ok", A, "vas-horoscope-6"), ("w-ok", A, "vas-horoscope-6"),
                    ("w-p", A, "vas-video-15")]


def test_a_later_file_is_checked_against_the_ledger(tmp_path: Path) -> None:
    op = _operator_dir(tmp_path, LINES[:1])
    home = tmp_path / "home"
    assert runner.invoke(cli, ["--home", str(home), "load", str(op), "--no-usage", "--json"]).exit_code == 0
    (op / "consent" / "walk.jsonl").write_text(LINES[1], encoding="utf-8")  # w-b's confirmation, for B
    loaded = runner.invoke(cli, ["--home", str(home), "load", str(op), "--no-usage", "--json"])
    (report,) = json.loads(loaded.stdout)["consent"]
    assert (report["status"], report["accepted"], report["rejected"]) == ("failed", 0, 1), report
    assert report["problems"][0]["message"] == (
        f"confirmed event of w-b names {B}/vas-music-10 but the subscription is {A}/vas-music-10")
