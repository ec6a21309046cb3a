"""The tax a refund gives back: what the bill that charged a refunded charge taxed on it.

A bill taxes each kind of charge once, on the kind's total, rounded once (``billing.BillingPolicy``). The tax a
charge carried is therefore what it adds to that total's tax, not the charge taxed and rounded on its own (which
would drift from the bill by a rounding per charge): rerate reckons its entries so, and a refund does the same the
other way. Taking a charge back out of its bill, it returns what the bill's tax on that kind falls by, at the
rates the bill was issued with (``billing.issued_policy``), not today's. Refunds of several charges of one bill
each take their share in turn (each lowers the base the next one is reckoned from), so refunding every charge of
a kind gives back exactly the tax the bill charged on it, never a rounding more.

Only a part of a charge that an issued bill of fairtel's carried gives tax back, and one the operator's own billing
charged is the operator's to tell. So usage past a spending cap is refunded only once a bill has charged every record
of it (``assurance.decide_refunds``): refunded before, its bill would charge the tax on it in full and carry a refund
giving none back; refunded after, the refund gives that tax back, and the subscriber owes the same whichever came
first.

A refund of usage past a cap that a rerate showed too large is taken back in part (``give``): the part taken back is
charged again with what it adds to the bill's tax, reckoned from what the refunds left of the bill's base, as the
refund gave it back.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fairtel.assurance._finding import Finding
from fairtel.billing import BillingPolicy


@dataclass(frozen=True, slots=True)
class ChargedRecord:
    """How an issued bill charged one record of a finding: the bill, the kind of charge, and what it came to
    before tax (its lines on the bill plus the corrections issued on that bill for it since)."""

    record_id: str
    bill_id: str
    kind: str
    amount_minor: int


@dataclass(slots=True)
class BillTaxBase:
    """One issued bill as refunds of its charges reckon their tax: the rates it was issued with and, per kind, the
    charges it taxed (with the corrections issued on it since) less what refunds have taken back of them."""

    policy: BillingPolicy
    base: dict[str, int] = field(default_factory=dict)


def charged_parts(amount_minor: int, records: Sequence[ChargedRecord]) -> dict[tuple[str, str], int]:
    """How much of a refund of ``amount_minor`` (before tax) each (bill, kind) charged.

    ``records``: the finding's records that issued bills charged, in the finding's order. The amount is taken
    from the last record back: a finding about usage past a cap names its records in time order and only the
    first was charged in part past the cap; a price mismatch is the over-charge of its one record. What is left
    once the records are used up no bill of fairtel's charged: it gives no tax back."""
    left = amount_minor
    parts: dict[tuple[str, str], int] = defaultdict(int)
    for r in reversed(records):
        if left <= 0:
            break
        take = min(left, max(r.amount_minor, 0))
        if take:
            parts[(r.bill_id, r.kind)] += take
            left -= take
    return dict(parts)


def take_back(parts: Mapping[tuple[str, str], int], bills: Mapping[str, BillTaxBase]) -> int:
    """The tax (minor units) the bills charged on ``parts``, each part taken out of its bill's base (so that the
    next refund of the same bill is reckoned from what is left). A bill ``bills`` does not hold gives none."""
    tax = 0
    for (bill_id, kind), minor in sorted(parts.items()):
        b = bills.get(bill_id)
        if b is None or minor <= 0:
            continue
        before = b.base.get(kind, 0)
        after = before - minor
        tax += b.policy.tax_on(kind, before) - b.policy.tax_on(kind, after)
        b.base[kind] = after
    return tax


@dataclass
class RefundTaxes:
    """The tax each refund gives back, reckoned from the issued bills that charged its finding's records.

    ``records``: finding id → its records as issued bills charged them (``ChargedRecord``, in the finding's
    order); ``bills``: bill id → its ``BillTaxBase``, with the refunds already in the ledger taken out. ``take``
    reckons a refund and takes it out of the bases; call it once per refund posted, in the order they are posted.
    """

    records: dict[str, list[ChargedRecord]] = field(default_factory=dict)
    bills: dict[str, BillTaxBase] = field(default_factory=dict)

    def parts(self, f: Finding, amount_minor: int) -> dict[tuple[str, str], int]:
        return charged_parts(amount_minor, self.records.get(f.finding_id, []))

    def peek(self, f: Finding, amount_minor: int) -> int:
        """What ``take`` would give back, the bases left as they are."""
        parts = self.parts(f, amount_minor)
        return take_back(parts, {b: copy.deepcopy(self.bills[b]) for b, _ in parts if b in self.bills})

    def take(self, f: Finding, amount_minor: int) -> int:
        """The tax a refund of ``amount_minor`` (before tax) of finding ``f`` gives back (minor units)."""
        return take_back(self.parts(f, amount_minor), self.bills)

    def taken_before(self, refunds: Iterable[tuple[Finding, int]]) -> None:
        """Take the refunds already in the ledger (finding, amount before tax; oldest first) out of the bases. An
        amount below zero is a refund taken back in part (``refund-recomputed``): put back in as ``give`` does."""
        for f, minor in refunds:
            if minor < 0:
                self.give(f, -minor)
            else:
                self.take(f, minor)

    def give(self, f: Finding, amount_minor: int) -> int:
        """The tax a refund of finding ``f`` taken back by ``amount_minor`` (before tax) charges again (minor units):
        what the part taken back adds to its bills' tax, put back into the bases from the last record back as the
        refund took it out."""
        tax = 0
        for (bill_id, kind), minor in sorted(self.parts(f, amount_minor).items()):
            b = self.bills.get(bill_id)
            if b is None or minor <= 0:
                continue
            before = b.base.get(kind, 0)
            tax += b.policy.tax_on(kind, before + minor) - b.policy.tax_on(kind, before)
            b.base[kind] = before + minor
        return tax

    def given_before(self, taken_back: Iterable[tuple[Finding, int]]) -> None:
        """Put the parts of refunds the ledger already took back (finding, amount before tax) into the bases."""
        for f, minor in taken_back:
            self.give(f, minor)
