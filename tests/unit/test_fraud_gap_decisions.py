"""One record of fraud decisions for the command line and the API: a decision taken through the API survives
the next detector run, reaches the case files (where `fraud cases` and the training labels read it) once, and
cannot be taken again on the command line; a decision is never written over by another taken meanwhile. A
decider named by a phone number is refused, numbers in a note are kept as pseudonyms, and every decision is
audited alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.fraud import CaseFiles, CaseQueue, CaseStatus, Detector, FraudCase, InvalidTransitionError, Reason, case_id

OWNER_PHONE = "+86 139 0013 9000"
OWNER_DIGITS = "8613900139000"


def _usage_rows() -> pl.DataFrame:
    """Two SIMs in one device calling ever new numbers (two SIM-box cases), and a normal line."""
    from zoneinfo import ZoneInfo

    sh = ZoneInfo("Asia/Shanghai")
    rows = []
    n = 0
    for line in ("8613000000001", "8613000000002"):
        for d in range(3):
            for k in range(60):
                n += 1
                at = datetime(2026, 9, 10 + d, 7, tzinfo=sh) + timedelta(seconds=k * 1000)
                rows.append({"record_id": f"r{n:08d}", "source": "t", "msisdn": line, "kind": "voice", "direction": "out",
                             "started_at": at.astimezone(UTC), "duration_s": 70, "peer": f"86150{n:08d}",
                             "cell_id": "460-00-1", "imei": "356938037867562"})
    for k in range(3):
        rows.append({"record_id": f"p{k}", "source": "t", "msisdn": "8613000000003", "kind": "voice", "direction": "out",
                     "started_at": datetime(2026, 9, 10 + k, 12, tzinfo=UTC), "duration_s": 100, "peer": "8613000000001",
                     "cell_id": "460-00-2", "imei": "356938030000009"})
    return pl.DataFrame(rows)


@pytest.fixture()
def home(tmp_path: Path) -> Iterator[tuple[typer.Typer, Path, list[dict[str, Any]]]]:
    """A home with usage, its subscribers registered, and the cases `fraud detect` found in it."""
    from fairtel.bootstrap import bootstrap
    from fairtel.cli._fraud_detect import register
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.core.settings import load_settings
    from fairtel.store import Lake, import_subscribers

    home = tmp_path / "home"
    frame = _usage_rows()
    table = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                               if f.name not in frame.columns).to_arrow()
    Lake(home / "lake").write("usage", "2026-09", table, part="t1")
    fapp = bootstrap(load_settings(home=home))
    subs = home / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"861300000000{i},c{i},payg,2026-08-01T00:00:00+08:00,active,zh,sh\n" for i in (1, 2, 3)),
                    encoding="utf-8")
    with fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    fapp.close()
    app = typer.Typer()
    fraud = typer.Typer()
    register(fraud)
    app.add_typer(fraud, name="fraud")

    @app.callback()
    def _root() -> None:
        pass

    r = CliRunner().invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    yield app, home, json.loads(r.stdout)["cases"]


def _app(home: Path) -> Any:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    return bootstrap(load_settings(home=home))


def _decide_through_api(home: Path, case: str, status: str, **kw: Any) -> Any:
    """``POST /fraud/cases/{id}/decide`` as the API runs it, for the login ``fraud-api``."""
    from fairtel.api._access import Access, Pseudonyms
    from fairtel.api._cases import decide_fraud_case
    from fairtel.api._security import Principal
    from fairtel.privacy import Role

    fapp = _app(home)
    acc = Access(principal=Principal("fraud-api", Role.FRAUD_ANALYST), pseudonyms=Pseudonyms(fapp.settings.secret_key.get_secret_value()),
                 begin=fapp.db.begin)
    try:
        out = decide_fraud_case(acc, case, status, **kw)
    except BaseException as exc:
        acc.end(exc)
        raise
    acc.end()
    fapp.close()
    return out


def _rows(home: Path, table: Any, *where: Any) -> list[Any]:
    from fairtel.store._schema import table_of

    fapp = _app(home)
    t = table_of(table)
    with fapp.db.connect() as conn:
        rows = list(conn.execute(select(t).where(*(w(t) for w in where))))
    fapp.close()
    return rows


def _case_row(home: Path, case: str) -> Any:
    from fairtel.store import FraudCase as CaseRow

    return _rows(home, CaseRow, lambda t: t.c.case_id == case)[0]


def _audit(home: Path, action: str) -> list[Any]:
    from fairtel.store import AccessAudit

    return _rows(home, AccessAudit, lambda t: t.c.action == action)


def test_a_decision_taken_through_the_api_survives_a_rerun_and_reaches_the_case_files_once(
    home: tuple[typer.Typer, Path, list[dict[str, Any]]],
) -> None:
    app, path, found = home
    runner = CliRunner()
    decided, other = found[0]["case_id"], found[1]["case_id"]
    out = _decide_through_api(path, decided, "confirmed")
    assert out.status == "confirmed" and out.evidence["status"] == "confirmed"  # the answer's copy is not stale

    for command in (["fraud", "detect"], ["fraud", "detect"]):  # a rerun does not reopen it, nor copy it twice
        r = runner.invoke(app, [*command, "--home", str(path), "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["merge"] == {"added": 0, "refreshed": 1, "kept": 1}
    row = _case_row(path, decided)
    assert (row.status, row.decided_by) == ("confirmed", "fraud-api")

    r = runner.invoke(app, ["fraud", "cases", "--home", str(path), "--status", "confirmed", "--json"])
    listed = json.loads(r.stdout)["cases"]
    assert [c["case_id"] for c in listed] == [decided] and listed[0]["decided_by"] == "fraud-api"
    files = CaseFiles(path / "fraud")
    assert files.load().get(decided).status is CaseStatus.CONFIRMED  # where `fraud features` takes the labels from
    assert sum(json.loads(line)["case_id"] == decided for line in files.decisions_path.read_text().splitlines()) == 1

    r = runner.invoke(app, ["fraud", "decide", decided, "--false-alarm", "--by", "analyst-li", "--home", str(path)])
    assert r.exit_code == 2 and "already decided confirmed by fraud-api" in " ".join(r.output.split())
    assert _case_row(path, decided).status == "confirmed"
    assert [a.actor for a in _audit(path, "fraud_case.decide")] == ["fraud-api"]  # decided once, audited once
    assert _case_row(path, other).status == "open"


def test_a_decision_taken_meanwhile_through_the_api_is_not_written_over(
    home: tuple[typer.Typer, Path, list[dict[str, Any]]],
) -> None:
    from fairtel.cli._fraud_detect import msisdn_pseudonyms, record_decision, sync_db

    _, path, found = home
    target = found[0]["case_id"]
    files = CaseFiles(path / "fraud")
    stale = files.load()  # read before the API decides
    _decide_through_api(path, target, "false_alarm")
    decision, suspension = stale.decide(target, "confirmed", by="analyst-li", at=datetime.now(UTC), suspend=True)
    fapp = _app(path)
    with pytest.raises(InvalidTransitionError, match="already decided false_alarm by fraud-api"):
        record_decision(fapp, files, stale.get(target), decision, suspension, msisdn_pseudonyms(fapp))
    assert not files.suspensions_path.exists()
    # a mirror written from the stale queue leaves the decided row as it is, and copies its decision into the files
    sync_db(fapp, CaseFiles(path / "fraud").load().cases())
    fapp.close()
    row = _case_row(path, target)
    assert (row.status, row.decided_by) == ("false_alarm", "fraud-api")
    assert files.load().get(target).status is CaseStatus.FALSE_ALARM
    assert _audit(path, "line.suspend") == []


def test_a_decider_named_by_a_phone_number_is_refused(home: tuple[typer.Typer, Path, list[dict[str, Any]]]) -> None:
    app, path, found = home
    for by in ("13800138000", "138-0013-8000", "13800138000@mail.example"):
        r = CliRunner().invoke(app, ["fraud", "decide", found[0]["case_id"], "--confirm", "--suspend", "--by", by,
                                     "--home", str(path), "--json"])
        assert r.exit_code == 2 and "phone number" in r.stdout, r.output
    assert not CaseFiles(path / "fraud").decisions_path.exists()
    assert _case_row(path, found[0]["case_id"]).status == "open"
    assert _audit(path, "fraud_case.decide") == [] and _audit(path, "line.suspend") == []


def test_numbers_in_a_note_are_kept_as_pseudonyms_and_every_decision_is_audited(
    home: tuple[typer.Typer, Path, list[dict[str, Any]]],
) -> None:
    from fairtel.privacy import Pseudonymizer

    app, path, found = home
    runner = CliRunner()
    fapp = _app(path)
    keyed = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")
    owner, subject = keyed(OWNER_DIGITS), keyed(found[1]["subject"])
    fapp.close()
    note = f"spoke to owner on {OWNER_PHONE}"
    r = runner.invoke(app, ["fraud", "decide", found[0]["case_id"], "--confirm", "--suspend", "--by", "analyst-li",
                            "--note", note, "--home", str(path), "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["fraud", "decide", found[1]["case_id"], "--false-alarm", "--by", "analyst-wang",
                            "--note", "a call centre: 138 0013 8000", "--home", str(path), "--json"])
    assert r.exit_code == 0, r.output  # no suspension: audited all the same

    decided = {a.resource: a for a in _audit(path, "fraud_case.decide")}
    assert set(decided) == {f"fraud_case/{found[0]['case_id']}", f"fraud_case/{found[1]['case_id']}"}
    first, second = decided[f"fraud_case/{found[0]['case_id']}"], decided[f"fraud_case/{found[1]['case_id']}"]
    assert (first.actor, first.role) == ("analyst-li", "fraud_analyst")
    assert first.reason == f"confirmed, line suspension requested: spoke to owner on {owner}"
    assert (second.actor, second.subject_msisdn_pseudonym) == ("analyst-wang", subject)
    assert second.reason.startswith("false_alarm: a call centre: p")
    [suspended] = _audit(path, "line.suspend")
    assert suspended.reason.endswith(f"confirmed: spoke to owner on {owner}")

    r = runner.invoke(app, ["fraud", "cases", "--home", str(path), "--explain"])
    at_rest = [CaseFiles(path / "fraud").decisions_path.read_text(), CaseFiles(path / "fraud").suspensions_path.read_text(),
               str(tuple(_case_row(path, found[0]["case_id"]))), r.output,
               *(str(tuple(a)) for a in [*_audit(path, "fraud_case.decide"), suspended])]
    for text in at_rest:
        assert "139 0013 9000" not in text and OWNER_DIGITS not in text and "0013 8000" not in text
    assert owner in at_rest[0] and owner in r.output


def test_a_decision_copied_twice_is_read_once(tmp_path: Path) -> None:
    t0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    case = FraudCase(case_id=case_id(Detector.SIMBOX, "8613800138000", "2026-09"), detector=Detector.SIMBOX, subject="8613800138000",
                     period="2026-09", score=0.8, evidence={}, reasons=(Reason("x", 1.0, 1.0, "x", "x"),), opened_at=t0)
    files = CaseFiles(tmp_path)
    queue = CaseQueue([case])
    files.save_cases(queue)
    decision, suspension = queue.decide(case.case_id, "confirmed", by="fraud-api", at=t0, suspend=True)
    files.record(decision, suspension)
    files.record(decision, suspension)  # two commands copied it from the database at once
    again = files.load()
    assert again.get(case.case_id).history == (decision,)
    with pytest.raises(InvalidTransitionError):
        again.adopt(decision)
    assert suspension is not None and suspension.reason_zh.startswith(f"已确认的 SIM 盒案件 {case.case_id}（2026-09）")
