"""A bill's adjustment lines through the API read as a statement words them (``fairtel.billing.line_text``, in
English: the API takes no language for bills), never as the code billing stores a rerate's reason in
(``rerate-fee period=… plan=… old=… new=… currency=…``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.billing import bill_id_for
from fairtel.billing._model import encode_reason
from fairtel.store import Bill, BillLine
from fairtel.store._schema import table_of

PERIOD = "2026-11"
BILL = bill_id_for(ALICE, PERIOD)
FEE = encode_reason("rerate-fee", "CNY", period="2026-10", plan="basic-39", old="39.00", new="29.00")
USAGE = encode_reason("rerate-usage", "CNY", period="2026-10", record="r-1", old="4.50", new="3.00", rule="intl/voice-intl-1")


@pytest.fixture(scope="module", autouse=True)
def rerated_bill(seeded: Seeded) -> None:
    """Alice's November bill, carrying two rerate credits (as billing stores them) and a refund worded by hand."""
    lines = [("plan_fee", "Plan fee basic-39", "basic-39", 3900), ("adjustment", f"credit: {FEE}", None, -1000),
             ("adjustment", f"credit: {USAGE}", None, -150), ("adjustment", "refund: goodwill after the outage", None, -200)]
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Bill).insert().values(
            bill_id=BILL, msisdn=ALICE, period=PERIOD, issued_at=datetime(2026, 12, 1, tzinfo=UTC), catalog_version_id=None,
            currency="CNY", subtotal_minor=2550, tax_minor=0, total_minor=2550, run_id=None, plan_id="basic-39"))
        conn.execute(table_of(BillLine).insert(), [
            {"bill_id": BILL, "line_no": i, "kind": kind, "description": text, "rule_id": rule, "quantity": None, "unit": None,
             "amount_minor": amount, "currency": "CNY", "allowance_id": None, "adjustment_id": None}
            for i, (kind, text, rule, amount) in enumerate(lines, start=1)])


def descriptions(lines: list[dict[str, str]]) -> list[str]:
    return [line["description"] for line in lines]


WORDED = ["Plan fee basic-39", "Credit: rerate 2026-10: monthly fee Basic 39 39.00 → 29.00 CNY",
          "Credit: rerate 2026-10: record r-1 Calls to Hong Kong, Macao and Taiwan 4.50 → 3.00 CNY", "Refund: goodwill after the outage"]


def test_adjustment_lines_read_in_words_never_as_the_stored_code(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["alice"])
    for _ in range(2):  # read from the database, then from the server's bill cache
        by_period = client.get(f"/api/v1/me/bills/{PERIOD}", headers=h)
        by_id = client.get(f"/api/v1/bills/{BILL}", headers=h)
        lines = client.get(f"/api/v1/bills/{BILL}/lines", headers=h)
        for r in (by_period, by_id, lines):
            assert r.status_code == 200, r.text
            assert "rerate-fee" not in r.text and "plan=" not in r.text and "currency=" not in r.text
        assert descriptions(by_period.json()["lines"]) == WORDED
        assert descriptions(by_id.json()["lines"]) == WORDED
        assert descriptions(lines.json()) == WORDED
