"""A suspended line whose register does not say since when (no ``suspended_at``): `fairtel assure` cannot tell
which charges came after the suspension, so it checks no suspension of it (noted), as for a closed line without
``closed_at``. Before, an operator directory's register without the date made every VAS charge of such a line a
``line_suspended`` finding, and `--refund` paid back charges billed under consent, while the home run billed
them. The consent gate itself still refuses every charge of such a line, as rating holds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.consent import Offer, OfferPeriod, gate_vas

runner = CliRunner()
M1, M2 = "8613800138000", "8613900139000"

CATALOG = """
[operator]
id = "demo"
currency = "CNY"

[[offers]]
id = "vas-music-10"
provider = "sp-melody"
price = "10.00"
period = "monthly"
"""


def _event(event: str, sub: str, at: str, msisdn: str) -> str:
    return json.dumps({"event": event, "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-music-10", "at": at,
                       "channel": "sms", "evidence": f"{sub}-{event}"})


def _operator_dir(root: Path, register: str) -> Path:
    (root / "consent").mkdir(parents=True)
    (root / "usage").mkdir()
    (root / "catalog.toml").write_text(CATALOG, encoding="utf-8")
    (root / "consent" / "events.jsonl").write_text("\n".join([
        _event("ordered", "s1", "2026-09-01T10:00:00+08:00", M1),
        _event("confirmed", "s1", "2026-09-01T10:03:00+08:00", M1),
        _event("ordered", "s2", "2026-09-01T10:00:00+08:00", M2),
        _event("confirmed", "s2", "2026-09-01T10:03:00+08:00", M2),
    ]) + "\n", encoding="utf-8")
    vas = [
        {"record_id": "v1", "msisdn": M1, "kind": "vas", "started_at": "2026-09-02T00:00:00Z", "offer_id": "vas-music-10",
         "amount": "10.00", "currency": "CNY"},
        {"record_id": "v2", "msisdn": M2, "kind": "vas", "started_at": "2026-09-02T00:00:00Z", "offer_id": "vas-music-10",
         "amount": "10.00", "currency": "CNY"},
    ]
    (root / "usage" / "spgw-01.jsonl").write_text("\n".join(json.dumps(v) for v in vas) + "\n", encoding="utf-8")
    (root / "subscribers.csv").write_text(register, encoding="utf-8")
    return root


def _assure(tmp_path: Path, op: Path) -> dict:
    result = runner.invoke(app, ["assure", "--home", str(tmp_path / "h"), "--operator-dir", str(op), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_register_without_suspended_at_checks_no_suspension(tmp_path: Path) -> None:
    """The demo's register has no suspended_at column: M1, suspended since an unknown day, was charged under a
    valid confirmation; the charge is consented, no finding, and the notes say the suspension was not checked."""
    op = _operator_dir(tmp_path / "op", "msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
                       f"{M1},c1,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh,\n"
                       f"{M2},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n")
    out = _assure(tmp_path, op)
    assert out["charges"]["verdicts"] == {"consented": 2}
    assert out["findings"] == []
    assert any("1 suspended line(s) without suspended_at" in n for n in out["notes"]), out["notes"]


def test_a_blank_suspended_at_checks_no_suspension_a_dated_one_does(tmp_path: Path) -> None:
    """With the column: M1's blank date restricts nothing; M2, suspended on 1 September before its charge of the
    2nd, is still refused (line_suspended) and found."""
    op = _operator_dir(tmp_path / "op", "msisdn,plan_id,activated_at,status,suspended_at\n"
                       f"{M1},basic-39,2025-01-01T00:00:00+08:00,suspended,\n"
                       f"{M2},basic-39,2025-01-01T00:00:00+08:00,suspended,2026-09-01T12:00:00+08:00\n")
    out = _assure(tmp_path, op)
    assert out["charges"]["verdicts"] == {"consented": 1, "line_suspended": 1}
    kinds = {tuple(f["record_ids"]): (f["kind"], f["evidence"].get("verdict")) for f in out["findings"]}
    assert kinds == {("v2",): ("charge_after_cancellation", "line_suspended")}
    assert any("1 suspended line(s) without suspended_at" in n for n in out["notes"]), out["notes"]


def test_an_undated_suspension_still_activation_checked(tmp_path: Path) -> None:
    """M1's suspension is not checked, but its activation is: consent given before the line's activation (by a
    previous holder of the number) covers nothing."""
    op = _operator_dir(tmp_path / "op", "msisdn,plan_id,activated_at,status\n"
                       f"{M1},basic-39,2026-09-01T12:00:00+08:00,suspended\n")
    out = _assure(tmp_path, op)
    assert out["charges"]["verdicts"] == {"consented": 1, "before_activation": 1}


def test_the_gate_still_refuses_every_charge_of_an_undated_suspended_line() -> None:
    """What rating bills by (docs/rating.md, held usage): the gate given such a line refuses its charges."""
    book = {"vas-music-10": Offer("vas-music-10", "sp-melody", Decimal("10.00"), "CNY", OfferPeriod.MONTHLY)}
    t = datetime(2026, 9, 1, 2, tzinfo=UTC)
    subs = pl.DataFrame({"subscription_id": ["s1"], "msisdn": [M1], "offer_id": ["vas-music-10"], "ordered_at": [t],
                         "confirmed_at": [t], "ended_at": [None], "confirmation": ["valid"]},
                        schema_overrides={"ended_at": pl.Datetime("us", "UTC")})
    vas = pl.DataFrame({"record_id": ["v1"], "source": ["sw"], "msisdn": [M1], "offer_id": ["vas-music-10"],
                        "started_at": [datetime(2026, 9, 2, tzinfo=UTC)], "amount_minor": [1000], "currency": ["CNY"]})
    lines = pl.DataFrame({"msisdn": [M1], "status": ["suspended"]})
    assert gate_vas(vas, subs, book, lines=lines)["verdict"].to_list() == ["line_suspended"]
