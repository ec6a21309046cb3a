"""The synthetic operator keeps a loyalty ledger (points earned from each month's bill, some spent), so that the
assistant's 积分 answers and redemptions can be exercised on a demo home: every subscriber had 0 points. The
ledger is the same for a seed, and the store imports it as an append-only ledger (file, line and field for a
bad entry; a redemption past the balance refused; a second import adds nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from fairtel.bootstrap import App, bootstrap
from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._load import load_directory
from fairtel.core.settings import load_settings
from fairtel.store import StoreCareData
from fairtel.store._care import import_loyalty
from fairtel.synth import synthesize
from fairtel.synth._loyalty import LOYALTY_FILE

START = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("op") / "op"
    synthesize(out, subscribers=80, days=2, seed=11, workers=1)
    return out


@pytest.fixture(scope="module")
def ledger(op: Path) -> pl.DataFrame:
    return pl.read_ndjson(op / LOYALTY_FILE)


def test_the_same_seed_writes_the_same_ledger(op: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    summary = synthesize(again, subscribers=80, days=2, seed=11, workers=1)
    assert (again / LOYALTY_FILE).read_bytes() == (op / LOYALTY_FILE).read_bytes()
    assert summary.loyalty_entries == len((op / LOYALTY_FILE).read_bytes().splitlines())


def test_points_are_earned_from_monthly_bills_and_spent_within_the_balance(op: Path, ledger: pl.DataFrame) -> None:
    subscribers = pl.read_csv(op / "subscribers.csv", infer_schema=False)
    assert ledger.columns == ["entry_id", "msisdn", "kind", "points", "reason", "booked_at"]
    assert set(ledger["msisdn"]) <= set(subscribers["msisdn"])
    assert ledger["entry_id"].n_unique() == ledger.height and (ledger["points"] > 0).all()
    balances = ledger.group_by("msisdn").agg(pl.when(pl.col("kind") == "earn").then(pl.col("points")).otherwise(-pl.col("points")).sum())
    assert balances.height >= 0.9 * subscribers.height  # nearly everyone has points (not those activated lately)
    assert balances["points"].median() > 200  # (about a yuan a point, a year of bills)
    english = set(subscribers.filter(pl.col("language") == "en")["msisdn"])
    for row in ledger.iter_rows(named=True):
        booked = datetime.fromisoformat(row["booked_at"])
        assert booked < START and booked.utcoffset() is not None
        if row["kind"] == "earn":
            month = row["reason"].rsplit(" ", 1)[1]
            assert row["reason"].startswith("bill points " if row["msisdn"] in english else "账单积分 ")
            assert month < booked.strftime("%Y-%m")  # a month's bill is credited after it
    for _msisdn, rows in ledger.sort("booked_at").group_by("msisdn"):
        running = 0
        for kind, points in zip(rows["kind"], rows["points"], strict=True):
            running += points if kind == "earn" else -points
            assert running >= 0
    assert (ledger["kind"] == "redeem").sum() >= 5


@pytest.fixture
def home(op: Path, tmp_path: Path) -> Iterator[App]:
    app = bootstrap(load_settings(home=tmp_path / "home", environment="test", secret_key="test-secret-key-0123456789abcdef"))
    assert load_directory(app, op, usage=False).exit_code == 0
    yield app
    app.close()


def _classify(text: str) -> IntentPrediction:
    label = "loyalty_points" if "积分" in text or "points" in text else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_the_imported_ledger_answers_and_redeems_in_the_assistant(op: Path, ledger: pl.DataFrame, home: App) -> None:
    with home.db.begin() as conn:  # `fairtel load` imported the directory's ledger: importing it again adds nothing
        again = import_loyalty(conn, op / LOYALTY_FILE)
    assert (again.read, again.accepted, again.duplicate, again.rejected, again.problems) == (ledger.height, 0, ledger.height, 0, [])

    richest = (ledger.group_by("msisdn").agg(pl.when(pl.col("kind") == "earn").then(pl.col("points")).otherwise(-pl.col("points"))
                                             .sum().alias("balance")).sort("balance", "msisdn", descending=[True, False]).row(0, named=True))
    port = StoreCareData(home.db, home.settings.lake_dir, load_catalog(default_catalog_path()), clock=lambda: START)
    assert port.loyalty(richest["msisdn"]).balance == richest["balance"] > 300
    assistant = Assistant(_classify, port)
    conv = assistant.start(richest["msisdn"], language="zh")
    said = assistant.say(conv, "我有多少积分").text
    assert f"当前积分余额 {richest['balance']} 分" in said and "最近的积分记录" in said
    ask = assistant.say(conv, "兑换300积分")
    assert ask.waiting_for == "confirm", ask.text
    done = assistant.say(conv, "确认")
    assert done.action == "points_redeemed" and f"剩余积分 {richest['balance'] - 300} 分" in done.text
    assert port.loyalty(richest["msisdn"]).balance == richest["balance"] - 300


def test_a_bad_ledger_line_is_reported_with_file_line_and_field(op: Path, ledger: pl.DataFrame, home: App, tmp_path: Path) -> None:
    first = ledger.row(0, named=True)
    lines = [
        json.dumps(first, ensure_ascii=False),
        json.dumps(first | {"points": 0, "entry_id": "x-1"}),
        json.dumps(first | {"booked_at": "2026-08-01 10:00", "entry_id": "x-2"}),
        json.dumps(first | {"msisdn": "8619999999999", "entry_id": "x-3"}),
        json.dumps(first | {"kind": "redeem", "points": 10**9, "entry_id": "x-4"}),
        json.dumps(first | {"points": first["points"] + 1}),  # the same id with other content
        "{not json",
    ]
    path = tmp_path / "loyalty.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with home.db.begin() as conn:
        report = import_loyalty(conn, path)
    assert (report.read, report.accepted, report.duplicate, report.rejected) == (7, 0, 1, 6)  # the first: loaded already
    where = {(p.line, p.field) for p in report.problems}
    assert where == {(2, "points"), (3, "booked_at"), (4, "msisdn"), (5, "points"), (6, "entry_id"), (7, None)}
    assert all(p.file == str(path) for p in report.problems)
