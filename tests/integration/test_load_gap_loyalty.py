"""`fairtel load` imports the operator directory's loyalty.jsonl (points earned and redeemed), so the assistant's
积分 answers and redemptions read real balances; loading the directory again adds nothing, and a bad line is
refused with its file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import case, func, select
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.store import connect
from fairtel.store._schema import LoyaltyEntry, table_of

SECRET = "load-loyalty-secret-0123456789abcdef"
A, B = "8613800000001", "8613800000002"


def write_directory(directory: Path, loyalty: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "subscribers.csv").write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n" + "".join(
        f"{m},cust-{m},payg,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n" for m in (A, B)), encoding="utf-8")
    (directory / "loyalty.jsonl").write_text("".join(json.dumps(e) + "\n" for e in loyalty), encoding="utf-8")


def load(home: Path, directory: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["--home", str(home), "load", str(directory), "--json", "--no-usage"],
                                env={"FAIRTEL_SECRET_KEY": SECRET, "FAIRTEL_DATABASE_URL": f"sqlite:///{home / 'fairtel.db'}"})
    return result.exit_code, json.loads(result.stdout)


def balances(home: Path) -> dict[str, int]:
    engine = connect(f"sqlite:///{home / 'fairtel.db'}")
    try:
        t = table_of(LoyaltyEntry)
        with engine.connect() as conn:
            return {r.msisdn: int(r.points) for r in conn.execute(
                select(t.c.msisdn, func.sum(case((t.c.kind == "redeem", -t.c.points), else_=t.c.points)).label("points"))
                .group_by(t.c.msisdn))}
    finally:
        engine.dispose()


def entry(n: int, msisdn: str, kind: str, points: int) -> dict:
    return {"entry_id": f"ly-{n}", "msisdn": msisdn, "kind": kind, "points": points, "reason": "账单积分 2026-08",
            "booked_at": "2026-09-01T00:00:00+08:00"}


def test_load_imports_loyalty_points_once(tmp_path: Path) -> None:
    home, ops = tmp_path / "home", tmp_path / "operator"
    write_directory(ops, [entry(1, A, "earn", 300), entry(2, A, "redeem", 100), entry(3, B, "earn", 50)])
    code, out = load(home, ops)
    assert code == 0 and out["loyalty"]["accepted"] == 3 and out["loyalty"]["rejected"] == 0
    first = balances(home)
    assert first == {A: 200, B: 50}
    code, again = load(home, ops)
    assert code == 0 and again["loyalty"]["accepted"] == 0 and again["loyalty"]["duplicate"] == 3
    assert balances(home) == first


def test_a_bad_loyalty_line_is_named(tmp_path: Path) -> None:
    home, ops = tmp_path / "home", tmp_path / "operator"
    write_directory(ops, [entry(1, A, "earn", 300), {**entry(2, B, "earn", 10), "points": -5}])
    _, out = load(home, ops)
    assert out["loyalty"]["rejected"] == 1
    assert any("loyalty.jsonl" in str(p) and "points" in str(p) for p in out["loyalty"]["problems"])
