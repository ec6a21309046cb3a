"""Refunds of usage past a spending cap, rerates and tax: what the subscriber finally owes does not depend on the
order the commands ran in.

Eleven days of France data, 60.00 a day (660.00), under the EU roaming cap of 50.00 EUR (400.00 CNY at 0.125): the
subscriber owes 400.00 for data, 6 % tax on it (424.00), and the plan fee (39.00, untaxed). A tariff correction to
50.00 a day brings the data to 550.00: still 400.00 owed, the part past the cap now 150.00 (not 260.00). To 70.00 a
day: 770.00, still 400.00 owed, 370.00 past the cap.

1. A rerate and the refund of the part past the cap: refund then rerate then refund again, or rerate then refund,
   the subscriber owes the same, exactly the cap with its tax; a rerate that moves the cap's crossing onto other
   records takes back what the refund gave beyond the rerated charges past the cap, one that raises them refunds
   the rise.
2. A refund reckoned before the period's bill: `assure --refund` run before `bill --issue` posts nothing for the
   usage past the cap (no bill has charged it, so no tax to give back), and posts it with its tax once the bill
   exists; refund-then-bill and bill-then-refund end with the same total owed, and the bill taxes what it charges.

Money is compared exactly, in minor units."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.store import Adjustment, bills_of_period
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
M = "8613900000009"
P = "2026-09"
TAX_RATES = '{"data": "0.06"}'
FEE = 3900  # basic-39, untaxed here
runner = CliRunner()


def _ft(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_TAX_RATES": TAX_RATES})
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _operator(tmp_path: Path) -> Path:
    op = tmp_path / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{M},c1,basic-39,2025-01-01T00:00:00+08:00,active,en,cq\n",
        encoding="utf-8",
    )
    (op / "consent" / "e.jsonl").write_text("", encoding="utf-8")
    # eleven days of France data, 100 MiB a day: each day capped at 60.00 by the roaming rule's daily cap
    (op / "usage" / "sep.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "record_id": f"ri{d}",
                    "source": "pgw",
                    "msisdn": M,
                    "kind": "data",
                    "started_at": f"2026-09-{d}T12:00:00+08:00",
                    "bytes_up": 0,
                    "bytes_down": 104857600,
                    "roaming_country": "FR",
                }
            )
            + "\n"
            for d in range(10, 21)
        ),
        encoding="utf-8",
    )
    for cap in ("50.00", "70.00"):
        (op / f"cat{cap[:2]}.toml").write_text(
            (op / "catalog.toml").read_text(encoding="utf-8").replace('daily_cap = "60.00"', f'daily_cap = "{cap}"'),
            encoding="utf-8",
        )
    return op


def _home(tmp_path: Path, name: str) -> tuple[Path, Path]:
    op, home = tmp_path / "op", tmp_path / name
    if not op.exists():
        _operator(tmp_path)
    _ft(home, "load", str(op))
    _ft(home, "rate", "--period", P)
    return op, home


def _assure(home: Path) -> dict[str, Any]:
    return _ft(home, "assure", "--bill-shock", "eu_data_roaming", "--rate", "CNY=0.125", "--refund")


def _owed(home: Path) -> int:
    """What the subscriber owes in all (minor units): the period's bill and every ledger entry no bill carries yet."""
    app = bootstrap(load_settings(home=home))
    t = table_of(Adjustment)
    with app.db.connect() as conn:
        bills = [b for b in bills_of_period(conn, P) if b.msisdn == M]
        carried = {a for b in bills for a in b.adjustment_ids}
        entries = [
            r for r in conn.execute(select(t.c.adjustment_id, t.c.kind, t.c.amount_minor).where(t.c.msisdn == M))
        ]
    pending = sum(
        r.amount_minor if r.kind == "debit" else -r.amount_minor for r in entries if r.adjustment_id not in carried
    )
    return sum(b.total_minor for b in bills) + pending


def _tax(minor: int) -> int:
    return int((Decimal(minor) * Decimal("0.06")).quantize(Decimal(1)))


OWED = FEE + 40000 + _tax(40000)  # the plan fee, the cap and its tax: 463.00


def test_refund_then_rerate_down_takes_back_what_the_refund_gave_beyond_the_rerated_charges(tmp_path: Path) -> None:
    op, home = _home(tmp_path, "h")
    _ft(home, "bill", "--period", P, "--issue")
    first = _assure(home)
    assert first["refund"]["amount"] == {"CNY": "275.60"}  # 260.00 past the cap, 15.60 of the bill's tax on it
    assert _owed(home) == OWED
    cut = _ft(home, "rerate", "--period", P, "--catalog", str(op / "cat50.toml"))
    # every record is corrected in full: the refund is recomputed by charge assurance, not cut by the rerate
    assert cut["credits"] == 11 and cut["net"] == "-116.60"
    again = _assure(home)
    # 550.00 now, 150.00 past the cap: 110.00 of the 260.00 refunded is taken back, with the 6.60 of tax it gave back
    assert _owed(home) == OWED
    assert again["refunds"] == 0
    assert _assure(home)["refunds"] == 0 and _owed(home) == OWED  # run again: nothing moves
    assert _ft(home, "rerate", "--period", P, "--catalog", str(op / "cat50.toml"))["adjustments_issued"] == 0


def test_rerate_down_then_refund_refunds_the_rerated_part_past_the_cap(tmp_path: Path) -> None:
    op, home = _home(tmp_path, "h")
    _ft(home, "bill", "--period", P, "--issue")
    cut = _ft(home, "rerate", "--period", P, "--catalog", str(op / "cat50.toml"))
    assert cut["net"] == "-116.60"
    refunded = _assure(home)
    # 150.00 past the rerated cap, not the 260.00 the charges as first rated came to; 9.00 of tax with it
    assert refunded["refund"]["amount"] == {"CNY": "159.00"}
    assert _owed(home) == OWED
    assert _assure(home)["refunds"] == 0 and _owed(home) == OWED


def test_refund_then_rerate_up_refunds_the_rise_past_the_cap(tmp_path: Path) -> None:
    op, home = _home(tmp_path, "h")
    _ft(home, "bill", "--period", P, "--issue")
    _assure(home)
    up = _ft(home, "rerate", "--period", P, "--catalog", str(op / "cat70.toml"))
    assert up["debits"] == 11 and up["net"] == "116.60"
    assert _owed(home) == OWED + 11660  # charged past the cap until charge assurance recomputes its refund
    again = _assure(home)
    assert again["refund"]["amount"] == {"CNY": "116.60"}  # 110.00 more past the cap, with its tax
    assert _owed(home) == OWED


def test_refund_reckoned_before_the_bill_ends_where_bill_then_refund_does(tmp_path: Path) -> None:
    # bill, then refund
    _, after = _home(tmp_path, "after")
    _ft(after, "bill", "--period", P, "--issue")
    _assure(after)
    # refund reckoned before the bill, then the bill, then the refund run again
    _, before = _home(tmp_path, "before")
    early = _assure(before)
    # no bill has charged the usage past the cap yet: nothing is refunded (no tax could be given back with it)
    assert early["refunds"] == 0
    bill = _ft(before, "bill", "--period", P, "--issue")
    assert bill["adjustments_carried"] == 0
    app = bootstrap(load_settings(home=before))
    with app.db.connect() as conn:
        (issued,) = [b for b in bills_of_period(conn, P) if b.msisdn == M]
    assert issued.tax_minor == _tax(issued.amount_of("data"))  # the bill taxes what it charges
    late = _assure(before)
    assert late["refund"]["amount"] == {"CNY": "275.60"}  # with the tax the bill charged on it
    assert _owed(before) == _owed(after) == OWED
