"""The supervised model on the operator's own usage: features exported with case outcomes as labels, a model
trained on them, and `fraud score` opening `model` cases with reasons on a later period of unseen lines."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.fraud import (
    CaseFiles,
    CaseQueue,
    CaseStatus,
    Detector,
    FraudCase,
    Reason,
    case_id,
    feature_table,
    label_from_cases,
    score_lines,
)
from fairtel.learn import TrainOptions, read_table

runner = CliRunner()
T0 = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


def _line_usage(rng: np.random.Generator, msisdn: str, scam: bool, month: int, n: list[int]) -> list[dict[str, Any]]:
    """A scam caller rings many new numbers briefly from a few handsets and is rarely called back; a person
    calls a circle of friends who call back, texts and uses data. Activity overlaps, so the classes are not
    separable by volume alone."""
    rows: list[dict[str, Any]] = []
    friends = [f"86139{rng.integers(0, 10**8):08d}" for _ in range(8)]
    days = int(rng.integers(3, 8))
    for d in range(days):
        day = datetime(2026, month, 3 + d, 1, tzinfo=UTC)
        calls = int(rng.integers(8, 30)) if scam else int(rng.integers(2, 20))
        for _ in range(calls):
            n[0] += 1
            new_number = rng.random() < (0.85 if scam else 0.15)
            peer = f"86158{rng.integers(0, 10**8):08d}" if new_number else friends[int(rng.integers(0, 8))]
            dur = int(rng.integers(0, 40)) if rng.random() < (0.7 if scam else 0.2) else int(rng.integers(20, 400))
            imei = f"3569{msisdn[-6:]}{int(rng.integers(0, 3 if scam else 2)) if rng.random() < 0.3 else 0:05d}"
            rows.append({"record_id": f"r{n[0]:09d}", "source": "t", "msisdn": msisdn, "kind": "voice", "direction": "out",
                         "started_at": day + timedelta(minutes=int(rng.integers(0, 900))), "duration_s": dur,
                         "peer": peer, "cell_id": f"460-00-{rng.integers(1, 4)}", "imei": imei})
        for _ in range(int(rng.integers(0, 3)) if scam else int(rng.integers(2, 12))):
            n[0] += 1
            rows.append({"record_id": f"r{n[0]:09d}", "source": "t", "msisdn": msisdn, "kind": "voice", "direction": "in",
                         "started_at": day + timedelta(minutes=int(rng.integers(0, 900))), "duration_s": int(rng.integers(10, 300)),
                         "peer": friends[int(rng.integers(0, 8))], "cell_id": "460-00-1", "imei": f"3569{msisdn[-6:]}00000"})
        for kind in ["sms"] * int(rng.integers(0, 2 if scam else 6)):
            n[0] += 1
            rows.append({"record_id": f"r{n[0]:09d}", "source": "t", "msisdn": msisdn, "kind": kind, "direction": "out",
                         "started_at": day + timedelta(hours=12), "peer": friends[0], "cell_id": "460-00-1"})
    return rows


def _home(tmp_path: Path, seed: int = 5) -> tuple[Path, dict[str, dict[str, bool]]]:
    """Usage of 2026-09 (lines 0..69) and 2026-10 (other lines 100..139) in a home's lake; returns the truth."""
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.store import Lake

    rng = np.random.default_rng(seed)
    home = tmp_path / "home"
    lake = Lake(home / "lake")
    truth: dict[str, dict[str, bool]] = {}
    n = [0]
    for period, month, lines in (("2026-09", 9, range(70)), ("2026-10", 10, range(100, 140))):
        rows: list[dict[str, Any]] = []
        truth[period] = {}
        for i in lines:
            msisdn = f"861380000{i:04d}"
            scam = i % 3 == 0
            truth[period][msisdn] = scam
            rows += _line_usage(rng, msisdn, scam, month, n)
        frame = pl.DataFrame(rows).with_columns(pl.col("started_at").dt.cast_time_unit("us"))
        table = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                                   if f.name not in frame.columns).to_arrow()
        lake.write("usage", period, table, part="t1")
    return home, truth


def _case(detector: Detector, subject: str, period: str) -> FraudCase:
    return FraudCase(case_id=case_id(detector, subject, period), detector=detector, subject=subject, period=period,
                     score=0.7, evidence={}, reasons=(Reason("x", 1.0, None, "x", "x"),), opened_at=T0)


def test_label_from_cases_follows_the_decisions() -> None:
    table = pl.DataFrame({"msisdn": ["a", "b", "c", "d", "e"], "period": ["2026-09"] * 5, "calls_out": [1.0] * 5})
    q = CaseQueue([_case(Detector.SCAM, "a", "2026-09"), _case(Detector.SIMBOX, "b", "2026-09"),
                   _case(Detector.SCAM, "c", "2026-09"), _case(Detector.SCAM, "d", "2026-08"),
                   _case(Detector.IRSF, "e", "2026-09"), _case(Detector.SCAM, "e", "2026-09")])
    q.decide(case_id(Detector.SCAM, "a", "2026-09"), "confirmed", by="li", at=T0)
    q.decide(case_id(Detector.SIMBOX, "b", "2026-09"), "false_alarm", by="li", at=T0)
    q.decide(case_id(Detector.IRSF, "e", "2026-09"), "false_alarm", by="li", at=T0)
    labels = label_from_cases(table, q)["fraud"].to_list()
    # a confirmed; b dismissed; c open (unknown); d only has a case in another period; e: one dismissed, one open
    assert labels == [1, 0, None, 0, None]
    assert label_from_cases(table, q, unreviewed=None)["fraud"].to_list() == [1, 0, None, None, None]


def test_feature_table_keeps_numbers_and_drops_instants() -> None:
    lines = pl.DataFrame({"msisdn": ["a"], "calls_out": [3], "first_at": [T0], "callback_share": [0.5],
                          "activated_at": [T0], "line_age_days": [None]}, schema_overrides={"line_age_days": pl.Float64})
    t = feature_table(lines, period="2026-09")
    assert t.columns == ["msisdn", "period", "calls_out", "callback_share", "line_age_days"]
    assert t.row(0) == ("a", "2026-09", 3.0, 0.5, None)


def test_export_train_score_on_the_operators_own_cases(tmp_path: Path) -> None:
    home, truth = _home(tmp_path)
    files = CaseFiles(home / "fraud")
    # The analysts' work on September: every scam line confirmed, a few look-alikes dismissed.
    q = CaseQueue([_case(Detector.SCAM, m, "2026-09") for m in truth["2026-09"]])
    for m, scam in truth["2026-09"].items():
        if scam or m.endswith("1"):
            d, _ = q.decide(case_id(Detector.SCAM, m, "2026-09"), "confirmed" if scam else "false_alarm", by="li", at=T0)
            files.record(d)
    files.save_cases(q)

    export = tmp_path / "features.csv"
    r = runner.invoke(app, ["fraud", "features", "--home", str(home), "--period", "2026-09", "--out", str(export), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    expected_fraud = sum(truth["2026-09"].values())
    assert summary["rows"] == 70 and summary["fraud"] == expected_fraud
    # open cases are not yet known: the lines neither confirmed nor dismissed
    assert summary["unknown"] == sum(1 for m, s in truth["2026-09"].items() if not s and not m.endswith("1"))
    exported = read_table(export)
    assert exported.columns[:2] == ["msisdn", "period"] and exported.columns[-1] == "fraud"
    assert "first_at" not in exported.columns and "callback_share" in exported.columns

    # Treat unreviewed lines as normal to train (the analysts looked at every line in this small home).
    r = runner.invoke(app, ["fraud", "features", "--home", str(home), "--period", "2026-09", "--out", str(export),
                            "--unreviewed", "0", "--json"])
    labelled = read_table(export).with_columns(
        pl.col("msisdn").replace_strict({m: str(int(s)) for m, s in truth["2026-09"].items()}).alias("fraud"))
    labelled.write_csv(export)
    model = tmp_path / "model"
    r = runner.invoke(app, ["fraud", "train", "--data", str(export), "--label", "fraud", "--id", "msisdn",
                            "--model", str(model), "--folds", "3", "--json"])
    assert r.exit_code == 0, r.output
    trained = json.loads(r.stdout)
    assert trained["dropped"]["period"] == "excluded" and trained["dropped"]["msisdn"] == "id column"

    # October: lines the model has never seen.
    r = runner.invoke(app, ["fraud", "score", "--home", str(home), "--model", str(model), "--period", "2026-10", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["lines"] == 40 and out["threshold"] == trained["threshold"]
    flagged = {c["subject"] for c in out["cases"]}
    scam_lines = {m for m, s in truth["2026-10"].items() if s}
    assert len(flagged & scam_lines) >= 0.8 * len(scam_lines) and len(flagged - scam_lines) <= 3, (flagged, scam_lines)
    for c in out["cases"]:
        assert c["detector"] == "model" and c["period"] == "2026-10" and c["status"] == "open"
        assert c["reasons"] and all(x["en"] and x["zh"] for x in c["reasons"])
        assert c["score"] >= out["threshold"] and c["evidence"]["probability"] == c["score"]
    assert out["merge"]["added"] == len(flagged)

    # The cases join the queue beside the rule cases; a rerun finds the same ones; an analyst decides them.
    r = runner.invoke(app, ["fraud", "cases", "--home", str(home), "--detector", "model", "--json"])
    assert {c["subject"] for c in json.loads(r.stdout)["cases"]} == flagged
    r = runner.invoke(app, ["fraud", "score", "--home", str(home), "--model", str(model), "--period", "2026-10",
                            "--json", "--all"])
    again = json.loads(r.stdout)
    assert again["merge"] == {"added": 0, "refreshed": len(flagged), "kept": 0} and len(again["scores"]) == 40
    first = out["cases"][0]["case_id"]
    r = runner.invoke(app, ["fraud", "decide", first, "--confirm", "--by", "li", "--home", str(home), "--json"])
    assert r.exit_code == 0, r.output
    # a stricter threshold opens fewer cases; the table form prints the reasons in Chinese
    r = runner.invoke(app, ["fraud", "score", "--home", str(home), "--model", str(model), "--period", "2026-10",
                            "--threshold", "0.99", "--language", "zh"])
    assert r.exit_code == 0, r.output
    assert "Fraud model" in r.stdout


def test_score_lines_threshold_and_exempt(tmp_path: Path) -> None:
    from fairtel.fraud import train_fraud_model

    rng = np.random.default_rng(3)
    n = 120
    scam = rng.random(n) < 0.4
    table = pl.DataFrame({
        "msisdn": [f"86138{i:08d}" for i in range(n)], "period": ["2026-09"] * n,
        "callee_diversity": np.where(scam, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.5, n)),
        "callback_share": np.where(scam, rng.uniform(0.0, 0.2, n), rng.uniform(0.2, 0.9, n)),
        "calls_out": rng.integers(5, 200, n).astype(float),
    })
    m = train_fraud_model(table.with_columns(pl.Series("fraud", scam.astype(int))), label="fraud", id_column="msisdn",
                          options=TrainOptions(folds=3, learning_rate=0.1, max_rounds=200, early_stopping=20))
    assert "period" not in m.spec.names
    scores, cases = score_lines(m, table, period="2026-09", now=T0)
    assert len(scores) == n and len(cases) == sum(s.flagged for s in scores)
    assert [s.probability for s in scores] == sorted((s.probability for s in scores), reverse=True)
    assert all(c.detector is Detector.MODEL and c.reasons for c in cases)
    # reasons are worked out only for the flagged lines unless every line is asked for, and they are the same
    everything, all_cases = score_lines(m, table, period="2026-09", now=T0, explain_all=True)
    assert all(s.reasons for s in everything if s.probability > 0.5) and any(not s.flagged for s in everything)
    by_line = {s.msisdn: s for s in everything}
    for s in scores:
        full = by_line[s.msisdn]
        assert s.probability == pytest.approx(full.probability, abs=1e-9) and s.flagged == full.flagged
        assert s.reasons == (full.reasons if s.flagged else ())
    assert [c.case_id for c in all_cases] == [c.case_id for c in cases]
    top = cases[0].subject
    _, fewer = score_lines(m, table, period="2026-09", now=T0, threshold=0.999, exempt={top})
    assert top not in {c.subject for c in fewer} and len(fewer) < len(cases)
    reason = cases[0].reasons[0]
    assert reason.code in m.spec.names and reason.value is not None and reason.en and reason.zh
    # the case round-trips through the queue's files
    files = CaseFiles(tmp_path / "fraud")
    q = CaseQueue(cases)
    files.save_cases(q)
    assert files.load().get(cases[0].case_id).status is CaseStatus.OPEN


def test_score_refuses_a_model_trained_on_other_columns(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    data = tmp_path / "other.csv"
    rng = np.random.default_rng(1)
    with data.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["phone_no_m", "opposite_count", "label"])
        for i in range(80):
            w.writerow([f"u{i}", int(rng.integers(1, 100)), i % 4 == 0])
    model = tmp_path / "m"
    r = runner.invoke(app, ["fraud", "train", "--data", str(data), "--label", "label", "--id", "phone_no_m",
                            "--model", str(model), "--folds", "2", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["fraud", "score", "--home", str(home), "--model", str(model), "--json"])
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "input_invalid" and "opposite_count" in json.dumps(err)


@pytest.mark.parametrize("cmd", [["fraud", "score", "--help"], ["fraud", "features", "--help"]])
def test_commands_are_documented(cmd: list[str]) -> None:
    r = runner.invoke(app, cmd)
    assert r.exit_code == 0 and "--home" in r.output


def test_cv_leaves_the_period_out_as_train_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `fraud features` export names its period in every row: `fraud cv` must not learn from it either."""
    import fairtel.learn

    rng = np.random.default_rng(4)
    n = 90
    scam = rng.random(n) < 0.4
    export = tmp_path / "features.csv"
    pl.DataFrame({
        "msisdn": [f"86138{i:08d}" for i in range(n)], "period": ["2026-09", "2026-10", "2026-11"] * (n // 3),
        "callee_diversity": np.where(scam, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.6, n)),
        "fraud": scam.astype(int),
    }).write_csv(export)
    seen: list[list[str]] = []
    real = fairtel.learn.cross_validate

    def spy(frame: pl.DataFrame, **kw: Any) -> Any:
        seen.append(list(kw["exclude"]))
        return real(frame, **kw)

    monkeypatch.setattr(fairtel.learn, "cross_validate", spy)
    r = runner.invoke(app, ["fraud", "cv", "--data", str(export), "--label", "fraud", "--id", "msisdn", "--folds", "3",
                            "--repeats", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert seen == [["period"]] and json.loads(r.stdout)["roc_auc"]["mean"] > 0.5
    # churn exports have no such key: nothing is left out unless asked
    r = runner.invoke(app, ["churn", "cv", "--data", str(export), "--label", "fraud", "--id", "msisdn", "--folds", "3",
                            "--repeats", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert seen[-1] == []
