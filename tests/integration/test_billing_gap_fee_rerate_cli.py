"""`fairtel rerate` after a correction of plans' monthly fees, on a home: the fee differences are issued once,
pro-rated as each bill's fee was, withdrawn when the correction is, and carried into the next period's bill."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, A, C, P, as_json, open_app

from fairtel.store import rerate_entries, store_catalog

home = base.home  # the fixture: a home with three subscribers and their rated March usage


def with_fees(text: str, **fees: str) -> str:
    for plan, fee in fees.items():
        block = text.index(f'id = "{plan.replace("_", "-")}"')
        at = text.index("monthly_fee = ", block)
        text = text[:at] + f'monthly_fee = "{fee}"' + text[text.index("\n", at):]
    return text


def load(home: Path, text: str) -> None:
    app = open_app(home)
    with app.db.begin() as conn:
        store_catalog(conn, text)
    app.close()


def test_a_corrected_plan_fee_is_rerated_once_and_withdrawn_with_the_correction(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    unchanged = as_json(home, "rerate", "--period", P)
    assert unchanged["adjustments_issued"] == 0 and unchanged["fees_compared"] == 3 and unchanged["fees_changed"] == 0

    load(home, with_fees(TEXT, basic_39="42.00", senior_19="20.00"))
    rr = as_json(home, "rerate", "--period", P)
    assert rr["fees_changed"] == 2 and rr["adjustments_issued"] == 2 and rr["debits"] == 2
    assert rr["net"] == "3.51"  # A: 39.00 → 42.00; C (16 of 31 days): 9.81 → 10.32
    fee = {s["msisdn"]: s for s in rr["sample"]}
    assert fee[C]["item"] == "plan_fee" and (fee[C]["old"], fee[C]["new"], fee[C]["amount"]) == ("9.81", "10.32", "0.51")

    again = as_json(home, "rerate", "--period", P)
    assert again["adjustments_issued"] == 0 and again["fees_changed"] == 0

    load(home, TEXT + "\n# the correction withdrawn\n")  # the original fees, as a new catalog version
    back = as_json(home, "rerate", "--period", P)
    assert back["adjustments_issued"] == 2 and back["credits"] == 2 and back["net"] == "-3.51"
    app = open_app(home)
    with app.db.connect() as conn:
        assert len([e for e in rerate_entries(conn, P) if e.record_id is None]) == 4
    app.close()
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0

    april = as_json(home, "bill", "--period", "2026-04", "--issue")
    assert april["adjustments_carried"] == 4
    april_a = next(b for b in april["sample"] if b["msisdn"] == A)
    assert april_a["adjustments"] == "0.00" and april_a["total"] == "39.00"
