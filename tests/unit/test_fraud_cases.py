"""The fraud case queue: stable ids, transitions open → confirmed | false_alarm with who and when, an
append-only history, suspensions only where they make sense, files at rest, and the CLI commands."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from fairtel.core.errors import InvalidInputError, NotFoundError
from fairtel.fraud import (
    CaseFiles,
    CaseQueue,
    CaseStatus,
    Detector,
    FraudCase,
    InvalidTransitionError,
    Reason,
    case_id,
)

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def make(detector: Detector, subject: str, period: str = "2026-09", score: float = 0.8, **kw: object) -> FraudCase:
    return FraudCase(
        case_id=case_id(detector, subject, period), detector=detector, subject=subject, period=period, score=score,
        evidence={"calls_out": 100}, reasons=(Reason("calls_out_per_day", 100.0, 40.0, "100 a day (≥ 40)", "日均 100（≥ 40）"),),
        opened_at=T0, **kw,  # type: ignore[arg-type]
    )


def test_case_ids_are_stable_per_detector_subject_and_period() -> None:
    assert case_id(Detector.SIMBOX, "8613800138000", "2026-09") == case_id("simbox", "8613800138000", "2026-09")
    assert case_id(Detector.SIMBOX, "8613800138000", "2026-09") != case_id(Detector.SIMBOX, "8613800138000", "2026-10")
    assert case_id(Detector.SIMBOX, "8613800138000", "2026-09") != case_id(Detector.SCAM, "8613800138000", "2026-09")


def test_keyed_case_ids_cannot_be_recomputed_from_a_number_without_the_key() -> None:
    """Analysts see case ids beside pseudonyms: an unkeyed id is a hash anyone can compute for every number of
    a range, so the id would give the number away. With the operator's key it cannot be matched."""
    from fairtel.core.ids import purpose_key
    from fairtel.fraud import CASE_ID_PURPOSE

    key = purpose_key("operator secret", CASE_ID_PURPOSE)
    keyed = case_id(Detector.SCAM, "8613800138000", "2026-09", key)
    assert keyed == case_id(Detector.SCAM, "8613800138000", "2026-09", key)  # stable for its holder
    assert keyed != case_id(Detector.SCAM, "8613800138000", "2026-09")
    assert keyed != case_id(Detector.SCAM, "8613800138000", "2026-09", purpose_key("another secret", CASE_ID_PURPOSE))
    guesses = {case_id(Detector.SCAM, f"86138001{n:05d}", "2026-09"): n for n in range(38000 - 50, 38000 + 50)}
    assert keyed not in guesses and case_id(Detector.SCAM, "8613800138000", "2026-09") in guesses


def test_a_case_found_again_under_a_new_id_merges_into_the_one_held() -> None:
    """A queue from before case ids were keyed: a rerun finds the same detector, subject and period under the
    keyed id; the case held keeps its id, its decision and when it was opened."""
    from fairtel.core.ids import purpose_key

    old = make(Detector.SIMBOX, "8613800138000")
    q = CaseQueue([old])
    q.decide(old.case_id, "confirmed", by="analyst-li", at=T0 + timedelta(hours=1))
    again = replace(make(Detector.SIMBOX, "8613800138000", score=0.9),
                    case_id=case_id(Detector.SIMBOX, "8613800138000", "2026-09", purpose_key("s", "fraud-case-ids")))
    assert q.held(again).case_id == old.case_id
    report = q.merge([again, make(Detector.SCAM, "8613800138000")])
    assert report.kept == (old.case_id,) and len(report.added) == 1
    assert len(q) == 2 and q.get(old.case_id).status is CaseStatus.CONFIRMED
    assert q.merge([again]).kept == (old.case_id,) and len(q) == 2


def test_open_to_confirmed_with_who_when_and_note() -> None:
    q = CaseQueue([make(Detector.SIMBOX, "8613800138000")])
    cid = case_id(Detector.SIMBOX, "8613800138000", "2026-09")
    assert q.get(cid).status is CaseStatus.OPEN
    decision, suspension = q.decide(cid, "confirmed", by="analyst-li", at=T0 + timedelta(hours=2), note="site visit")
    assert suspension is None
    case = q.get(cid)
    assert case.status is CaseStatus.CONFIRMED
    assert case.decided == decision and decision.by == "analyst-li" and decision.note == "site visit"
    assert case.to_dict()["decided_at"] == (T0 + timedelta(hours=2)).isoformat()
    assert q.cases(status="open") == [] and [c.case_id for c in q.cases(status="confirmed")] == [cid]


def test_a_decided_case_cannot_be_decided_again() -> None:
    q = CaseQueue([make(Detector.SCAM, "8613800138001")])
    cid = case_id(Detector.SCAM, "8613800138001", "2026-09")
    q.decide(cid, CaseStatus.FALSE_ALARM, by="analyst-wang", at=T0)
    with pytest.raises(InvalidTransitionError) as err:
        q.decide(cid, CaseStatus.CONFIRMED, by="analyst-li", at=T0 + timedelta(days=1))
    assert err.value.code == "fraud_case_transition" and "analyst-wang" in str(err.value)
    assert [d.outcome for d in q.get(cid).history] == [CaseStatus.FALSE_ALARM]


def test_bad_decisions_are_refused() -> None:
    q = CaseQueue([make(Detector.SIMBOX, "8613800138000"), make(Detector.WANGIRI, "371298765432", subject_kind="caller"),
                   make(Detector.IRSF, "8613800138002")])
    sim = case_id(Detector.SIMBOX, "8613800138000", "2026-09")
    with pytest.raises(NotFoundError):
        q.decide("fcs_nope", "confirmed", by="a", at=T0)
    with pytest.raises(InvalidTransitionError):
        q.decide(sim, "open", by="a", at=T0)
    with pytest.raises(InvalidInputError):
        q.decide(sim, "confirmed", by="  ", at=T0)
    with pytest.raises(InvalidTransitionError):  # a false alarm suspends nothing
        q.decide(sim, "false_alarm", by="a", at=T0, suspend=True)
    with pytest.raises(InvalidTransitionError):  # an outside number: no line to suspend (an IRSF line may be barred)
        q.decide(case_id(Detector.WANGIRI, "371298765432", "2026-09"), "confirmed", by="a", at=T0, suspend=True)
    assert all(c.status is CaseStatus.OPEN for c in q.cases())  # nothing was recorded by refused decisions


def test_confirmed_simbox_line_can_be_suspended() -> None:
    q = CaseQueue([make(Detector.SIMBOX, "8613800138000")])
    cid = case_id(Detector.SIMBOX, "8613800138000", "2026-09")
    decision, suspension = q.decide(cid, "confirmed", by="analyst-li", at=T0, suspend=True)
    assert decision.suspend and suspension is not None
    assert suspension.msisdn == "8613800138000" and suspension.case_id == cid
    assert suspension.requested_by == "analyst-li" and "100 a day" in suspension.reason_en and "日均" in suspension.reason_zh


def test_rerun_refreshes_open_cases_and_keeps_decided_ones() -> None:
    q = CaseQueue()
    first = [make(Detector.SIMBOX, "8613800138000"), make(Detector.SCAM, "8613800138001")]
    assert q.merge(first).to_dict() == {"added": 2, "refreshed": 0, "kept": 0}
    scam = case_id(Detector.SCAM, "8613800138001", "2026-09")
    q.decide(scam, "confirmed", by="a", at=T0)
    again = [
        replace(first[0], score=0.95, evidence={"calls_out": 150}, reasons=(), opened_at=T0 + timedelta(days=1)),
        make(Detector.SCAM, "8613800138001", score=0.1),
        make(Detector.SIMBOX, "8613800138000", period="2026-10"),
    ]
    report = q.merge(again)
    assert report.to_dict() == {"added": 1, "refreshed": 1, "kept": 1}
    assert len(q) == 3
    sim = q.get(first[0].case_id)
    assert sim.score == 0.95 and sim.evidence == {"calls_out": 150} and sim.opened_at == T0  # first opened stays
    assert q.get(scam).score == 0.8 and q.get(scam).status is CaseStatus.CONFIRMED  # decided: untouched


def test_files_round_trip_and_decisions_only_append(tmp_path: Path) -> None:
    files = CaseFiles(tmp_path / "fraud")
    q = files.load()
    assert len(q) == 0
    q.merge([make(Detector.SIMBOX, "8613800138000"), make(Detector.SCAM, "8613800138001")])
    files.save_cases(q)
    sim = case_id(Detector.SIMBOX, "8613800138000", "2026-09")
    d, s = q.decide(sim, "confirmed", by="analyst-li", at=T0, suspend=True, note="seized")
    files.record(d, s)
    q2 = files.load()
    assert q2.get(sim).status is CaseStatus.CONFIRMED and q2.get(sim).history[0].note == "seized"
    assert q2.get(sim).reasons == q.get(sim).reasons
    before = files.decisions_path.read_text(encoding="utf-8")
    scam = case_id(Detector.SCAM, "8613800138001", "2026-09")
    d2, _ = q2.decide(scam, "false_alarm", by="analyst-wang", at=T0 + timedelta(hours=1))
    files.record(d2)
    after = files.decisions_path.read_text(encoding="utf-8")
    assert after.startswith(before) and len(after.splitlines()) == 2
    assert [row["msisdn"] for row in files.suspensions()] == ["8613800138000"]
    # saving the cases again never loses a decision: status lives in the decision log, not in cases.jsonl
    files.save_cases(q2)
    assert "status" not in files.cases_path.read_text(encoding="utf-8")
    assert files.load().get(scam).status is CaseStatus.FALSE_ALARM


def test_unreadable_case_file_names_file_and_line(tmp_path: Path) -> None:
    files = CaseFiles(tmp_path)
    files.cases_path.write_text('{"case_id": "x"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        files.load()
    assert err.value.problems[0].line == 1 and "cases.jsonl" in err.value.problems[0].file


# ---------------------------------------------------------------------------------------------- CLI
def _usage_rows() -> pl.DataFrame:
    from zoneinfo import ZoneInfo

    sh = ZoneInfo("Asia/Shanghai")
    rows = []
    n = 0
    for line in ("8613000000001", "8613000000002"):  # two SIMs in one device, calling ever new numbers
        for d in range(3):
            for k in range(60):
                n += 1
                at = datetime(2026, 9, 10 + d, 7, tzinfo=sh) + timedelta(seconds=k * 1000)
                rows.append({"record_id": f"r{n:08d}", "source": "t", "msisdn": line, "kind": "voice", "direction": "out",
                             "started_at": at.astimezone(UTC), "duration_s": 70, "peer": f"86150{n:08d}",
                             "cell_id": "460-00-1", "imei": "356938037867562"})
    for k in range(3):  # a normal person
        rows.append({"record_id": f"p{k}", "source": "t", "msisdn": "8613000000003", "kind": "voice", "direction": "out",
                     "started_at": datetime(2026, 9, 10 + k, 12, tzinfo=UTC), "duration_s": 100, "peer": "8613000000001",
                     "cell_id": "460-00-2", "imei": "356938030000009"})
    return pl.DataFrame(rows)


@pytest.fixture()
def cli(tmp_path: Path) -> tuple[typer.Typer, Path]:
    from fairtel.cli._fraud_detect import register
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.store import Lake

    home = tmp_path / "home"
    frame = _usage_rows()
    table = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                               if f.name not in frame.columns).to_arrow()
    Lake(home / "lake").write("usage", "2026-09", table, part="t1")
    app = typer.Typer()
    fraud = typer.Typer()
    register(fraud)
    app.add_typer(fraud, name="fraud")

    @app.callback()
    def _root() -> None:
        pass

    return app, home


def test_cli_detect_cases_decide(cli: tuple[typer.Typer, Path]) -> None:
    app, home = cli
    runner = CliRunner()
    r = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["periods"]["2026-09"]["cases"]["simbox"] == 2 and out["merge"]["added"] == 2
    ids = [c["case_id"] for c in out["cases"]]
    # keyed by the home's secret: not the hash anyone could compute from the number
    assert all(c["case_id"] != case_id(c["detector"], c["subject"], c["period"]) for c in out["cases"])
    # a rerun finds the same cases
    r = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    assert json.loads(r.stdout)["merge"] == {"added": 0, "refreshed": 2, "kept": 0}

    r = runner.invoke(app, ["fraud", "decide", ids[0], "--confirm", "--suspend", "--by", "analyst-li", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    decided = json.loads(r.stdout)
    assert decided["case"]["status"] == "confirmed" and decided["suspension"]["msisdn"] == decided["case"]["subject"]
    r = runner.invoke(app, ["fraud", "decide", ids[0], "--false-alarm", "--by", "analyst-li", "--home", str(home)])
    assert r.exit_code == 2 and "fraud_case_transition" in r.output
    r = runner.invoke(app, ["fraud", "decide", ids[1], "--by", "x", "--home", str(home)])
    assert r.exit_code == 2  # neither --confirm nor --false-alarm

    r = runner.invoke(app, ["fraud", "cases", "--home", str(home), "--status", "open", "--json"])
    assert [c["case_id"] for c in json.loads(r.stdout)["cases"]] == [ids[1]]
    r = runner.invoke(app, ["fraud", "cases", "--home", str(home), "--status", "closed"])
    assert r.exit_code == 2

    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'fairtel.db'}")
    with engine.connect() as conn:
        rows = dict(conn.execute(text("select case_id, status from fraud_cases")).all())
    engine.dispose()
    assert rows == {ids[0]: "confirmed", ids[1]: "open"}


def test_confirmed_simbox_line_is_suspended_in_the_register_and_audited(cli: tuple[typer.Typer, Path]) -> None:
    from sqlalchemy import select

    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings
    from fairtel.store import AccessAudit, get_subscriber, import_subscribers
    from fairtel.store._schema import table_of

    app, home = cli
    fapp = bootstrap(load_settings(home=home))
    subs = home / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"861300000000{i},c{i},payg,2026-08-01T00:00:00+08:00,active,zh,sh\n" for i in (1, 2, 3)),
                    encoding="utf-8")
    with fapp.db.begin() as conn:
        assert import_subscribers(conn, subs).accepted == 3
    runner = CliRunner()
    r = runner.invoke(app, ["fraud", "detect", "--home", str(home), "--json"])
    case = json.loads(r.stdout)["cases"][0]
    r = runner.invoke(app, ["fraud", "decide", case["case_id"], "--confirm", "--suspend", "--by", "analyst-li",
                            "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["line"] == "suspended"
    with fapp.db.connect() as conn:
        assert get_subscriber(conn, case["subject"]).status == "suspended"  # type: ignore[union-attr]
        assert get_subscriber(conn, "8613000000003").status == "active"  # type: ignore[union-attr]
        rows = conn.execute(select(table_of(AccessAudit)).where(table_of(AccessAudit).c.action == "line.suspend")).all()
    assert len(rows) == 1 and rows[0].actor == "analyst-li" and case["subject"] not in str(tuple(rows[0]))
    # deciding again is refused; the register is not touched twice
    r = runner.invoke(app, ["fraud", "decide", case["case_id"], "--confirm", "--suspend", "--by", "analyst-li",
                            "--home", str(home)])
    assert r.exit_code == 2
    fapp.close()
