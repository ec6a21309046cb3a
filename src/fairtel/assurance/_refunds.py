"""Resolving findings: a refund adjustment for billing, or a dismissal with its reason. Both are records
that are appended, never edited, so an auditor sees who decided what and when."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from fairtel.assurance._finding import CHARGE_KINDS, Finding, FindingKind, FindingStatus
from fairtel.assurance._refund_tax import RefundTaxes
from fairtel.core.errors import FairtelError
from fairtel.core.ids import stable_id
from fairtel.core.money import Money
from fairtel.core.time import require_aware, utc_now


class ResolutionError(FairtelError):
    code = "finding_resolution_invalid"


@dataclass(frozen=True, slots=True)
class RefundAdjustment:
    """A refund billing applies to the subscriber's account (amount positive, in the charge's currency): what the
    subscriber paid for the charge, tax included. ``tax`` is the part of ``amount`` that is the tax the bill that
    charged it charged on it (``assurance._refund_tax``; zero when no bill of fairtel's charged it)."""

    adjustment_id: str
    finding_id: str
    msisdn: str
    amount: Decimal
    currency: str
    reason: str
    created_at: datetime
    created_by: str
    record_ids: tuple[str, ...] = ()
    tax: Decimal = Decimal(0)

    @property
    def charge(self) -> Decimal:
        """The charge refunded, before tax."""
        return self.amount - self.tax

    def with_tax(self, tax: Decimal) -> RefundAdjustment:
        """This refund with ``tax`` given back on top of the charge (``tax`` replaces any given before)."""
        return replace(self, amount=self.charge + tax, tax=tax)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a finding was closed: ``resolved`` (refunded) or ``dismissed``, with the reason and who decided."""

    finding_id: str
    status: FindingStatus
    resolution: str
    reason: str
    resolved_at: datetime
    resolved_by: str
    adjustment_id: str | None = None


@dataclass(frozen=True, slots=True)
class RefundPolicy:
    """Which kinds are refunded without a person deciding. Price mismatches refund only an over-charge."""

    automatic: frozenset[FindingKind] = field(
        default_factory=lambda: frozenset(
            {
                FindingKind.UNCONSENTED_CHARGE,
                FindingKind.CHARGE_AFTER_CANCELLATION,
                FindingKind.DUPLICATE_CHARGE,
                FindingKind.UNKNOWN_OFFER_CHARGE,
                FindingKind.PRICE_MISMATCH,
                FindingKind.MERCHANT_SUSPENDED_CHARGE,
            }
        )
    )
    refund_usage_past_cap: bool = True


_REASONS = {
    FindingKind.UNCONSENTED_CHARGE: "charge without a confirmed order",
    FindingKind.CHARGE_AFTER_CANCELLATION: "charge after the subscription ended",
    FindingKind.DUPLICATE_CHARGE: "charged twice for the same period",
    FindingKind.PRICE_MISMATCH: "charged more than the catalog price",
    FindingKind.UNKNOWN_OFFER_CHARGE: "charge for an offer not in the catalog",
    FindingKind.MERCHANT_SUSPENDED_CHARGE: "charge from a provider whose billing was suspended",
    FindingKind.PREMIUM_CALLBACK: "call back to a one-ring scam number charged at premium rates",
    FindingKind.IRSF_FRAUD: "fraudulent calls made on a stolen or cloned SIM",
    FindingKind.ONE_RING_ROAMING_CHARGE: "one-ring scam call received while roaming",
    FindingKind.USAGE_PAST_CAP: "usage charged after the spending cap",
    FindingKind.MACHINE_SPEED_CONFIRMATION: "confirmation not made by the subscriber",
    FindingKind.REPLAYED_EVIDENCE: "confirmation evidence reused from another order",
}


# a charge the gate refused for the line's state, told as such (the finding's kind is the cancellation one)
_LINE_REASONS = {
    "line_closed": "charge after the line was closed",
    "line_suspended": "charge while the line was suspended",
}


# a charge the gate refused for consent another customer gave, told as such (the finding's kind is the unconsented
# one): after an owner change (过户), under the subscription of the line's previous customer
_HOLDER_REASONS = {
    "previous_holder": "charge under the previous customer's subscription after the line changed owner",
}


# a monthly fee charged again under another subscription to the same offer in a month already billed: the
# operators' rule for monthly services (the finding's evidence names the subscription the month was billed under)
RESUBSCRIBED_REASON = "monthly fee charged again after re-subscribing in the same month"
RESUBSCRIBED_REASON_ZH = "当月退订后再次订购同一业务，当月不重复收取月功能费"


# a charge the gate refused, which no bill carried: its finding is closed with no money moving
NOT_BILLED_REASON = "refused by the consent gate before billing"

# a call back to a one-ring scam number not charged at premium rates (made while roaming: at the roaming rate)
CALLBACK_REASON = "call back to a one-ring scam number"


def refund_reasons() -> tuple[str, ...]:
    """Every reason ``refund_reason`` and ``decide_refunds`` give (in English, as stored)."""
    return (*_REASONS.values(), *_LINE_REASONS.values(), *_HOLDER_REASONS.values(), RESUBSCRIBED_REASON, NOT_BILLED_REASON,
            CALLBACK_REASON)


def refund_reason(finding: Finding) -> str:
    """The reason a refund of ``finding`` gives the subscriber."""
    if finding.kind is FindingKind.DUPLICATE_CHARGE and finding.evidence.get("billed_under_subscription"):
        return RESUBSCRIBED_REASON
    if finding.kind is FindingKind.CHARGE_AFTER_CANCELLATION:
        line = _LINE_REASONS.get(str(finding.evidence.get("verdict", "")))
        if line is not None:
            return line
    if finding.kind is FindingKind.UNCONSENTED_CHARGE:
        holder = _HOLDER_REASONS.get(str(finding.evidence.get("verdict", "")))
        if holder is not None:
            return holder
    if finding.kind is FindingKind.PREMIUM_CALLBACK and finding.evidence.get("charged_premium") is False:
        return CALLBACK_REASON  # charged what it was charged (the roaming rate), not premium rates
    return _REASONS.get(finding.kind, finding.kind.value)


_UNRESOLVED = frozenset({FindingStatus.OPEN, FindingStatus.CONFIRMED})


def refundable_amount(finding: Finding) -> Decimal:
    """What the subscriber gets back for this finding (zero when nothing was over-charged)."""
    if finding.amount is None or finding.currency is None:
        return Decimal(0)
    return max(finding.amount, Decimal(0))


def _refund_id(finding: Finding, amount: Decimal, already: Decimal = Decimal(0)) -> str:
    """A charge is refunded once in total, whatever the findings about it and whatever path refunds it: a refund's
    id is the charge's (its records), what was refunded for it before and the amount, so the same refund reckoned
    again (a rerun, the API and ``assure --refund``) is the same id, and a later refund of what remains (the
    finding's amount grew: late usage past a cap) is another. A finding naming no record is refunded once by its
    id (and, for what remains, by what was refunded before)."""
    tail = (str(amount), finding.currency or "") if already <= 0 else (str(amount), finding.currency or "", "after", str(already))
    if finding.record_ids and (finding.kind in CHARGE_KINDS or already > 0):
        keys = (part for key in sorted(record_keys(finding)) for part in key)
        return stable_id("adj", "refund", "charge", *keys, *tail)
    if already > 0:
        return stable_id("adj", "refund", finding.finding_id, *tail)
    return stable_id("adj", "refund", finding.finding_id)


def _same_record(a: RecordKey, b: RecordKey) -> bool:
    return a[0] == b[0] and a[2] == b[2] and (a[1] == b[1] or not a[1] or not b[1])


@dataclass
class RefundedCharges:
    """What the ledger has refunded (before tax, minor units) for the charges of findings: each refund with its
    finding and the records its finding names. A finding's charge was refunded before by every refund of that
    finding and of any finding naming one of its records (a source not named matches any source). A refund taken
    back in part (a debit ``refund-recomputed`` naming the finding) is held as an amount below zero: what was
    refunded is what the refunds gave less what was taken back."""

    refunds: list[tuple[str, str, tuple[RecordKey, ...], int, str]] = field(default_factory=list)

    def add(self, finding: Finding, minor: int, adjustment_id: str) -> None:
        self.refunds.append((finding.finding_id, finding.currency or "", tuple(record_keys(finding)), minor, adjustment_id))

    def _of(self, finding: Finding) -> list[tuple[int, str]]:
        keys = record_keys(finding)
        return [(minor, adj) for fid, cur, rkeys, minor, adj in self.refunds
                if cur == (finding.currency or "")
                and (fid == finding.finding_id or any(_same_record(k, r) for k in keys for r in rkeys))]

    def minor(self, finding: Finding) -> int:
        """What was refunded before for ``finding``'s charge (before tax, minor units)."""
        return sum(m for m, _ in self._of(finding))

    def last(self, finding: Finding) -> str | None:
        """The latest refund of ``finding``'s charge, if any (a take-back is not one)."""
        found = [adj for minor, adj in self._of(finding) if minor >= 0]
        return found[-1] if found else None


def refund(
    finding: Finding, *, by: str, reason: str | None = None, now: datetime | None = None, tax: Decimal = Decimal(0),
    already: Decimal = Decimal(0),
) -> tuple[RefundAdjustment, Resolution]:
    """Refund a finding's amount: an adjustment for billing and the resolution that records it. ``tax``: what the
    bill that charged it taxed on it (``RefundTaxes``), given back with it. ``already``: what was refunded before
    for the charge (before tax, ``RefundedCharges``): only the rest is refunded. The adjustment's id depends on the
    charge and what was refunded before only, never on the tax: a refund reckoned again is the same refund."""
    if finding.status in (FindingStatus.RESOLVED, FindingStatus.DISMISSED):
        raise ResolutionError(f"finding {finding.finding_id} is already {finding.status.value}")
    if finding.before_holding:
        raise ResolutionError(
            f"finding {finding.finding_id} is about usage before the line's current holding began (the previous "
            "customer's, before an owner change): a refund to the line would reach its current customer; settle it "
            "with the previous customer, or dismiss it with the reason", details={"before_holding": True})
    amount = refundable_amount(finding) - max(already, Decimal(0))
    if amount <= 0 or finding.msisdn is None or finding.currency is None:
        raise ResolutionError(f"finding {finding.finding_id} has nothing to refund")
    at = require_aware(now or utc_now(), "now")
    why = reason or refund_reason(finding)
    adj = RefundAdjustment(
        adjustment_id=_refund_id(finding, amount, already),
        finding_id=finding.finding_id,
        msisdn=finding.msisdn,
        amount=amount + tax,
        currency=finding.currency,
        reason=why,
        created_at=at,
        created_by=by,
        record_ids=finding.record_ids,
        tax=tax,
    )
    res = Resolution(finding.finding_id, FindingStatus.RESOLVED, "refunded", why, at, by, adj.adjustment_id)
    return adj, res


def refund_remaining(
    finding: Finding, *, ledger: RefundedCharges, taxes: RefundTaxes, by: str, now: datetime, reason: str | None = None,
    held: Callable[[str], bool] = lambda _id: False,
) -> RefundAdjustment | None:
    """The refund of what remains of ``finding``'s charge once what the ledger refunded for it before is deducted
    (``ledger``), with the tax the bills that charged it charged on it (``taxes``); None when it was refunded in
    full before. The refund is added to ``ledger`` and its share taken out of the bills' bases, so that the next one
    reckoned is reckoned after it. A refund ``held`` says the ledger holds already is returned as reckoned, tax
    left out and nothing taken: that refund stands as it was posted. ``fairtel assure --refund`` and the API's
    refund of one finding both reckon a refund so. ``finding`` must be unresolved (``refund``)."""
    cur = finding.currency or ""
    already = ledger.minor(finding)
    if Money(refundable_amount(finding), cur).to_minor() <= already:
        return None
    adj, _ = refund(finding, by=by, reason=reason, now=now, already=Money.from_minor(already, cur).amount if already else Decimal(0))
    if held(adj.adjustment_id):
        return adj
    charge = Money(adj.charge, adj.currency).to_minor()
    adj = adj.with_tax(Money.from_minor(taxes.take(finding, charge), adj.currency).amount)
    ledger.add(finding, charge, adj.adjustment_id)
    return adj


def refunded_text(reason: str, adj: RefundAdjustment) -> str:
    """A refunded finding's resolution as the queue records it: the reason and, when the refund gives tax back,
    what it came to and the tax in it."""
    if adj.tax > 0:
        return f"refunded: {reason} ({adj.amount} {adj.currency}, tax {adj.tax} {adj.currency} included)"
    return f"refunded: {reason}"


def dismiss(finding: Finding, *, reason: str, by: str, now: datetime | None = None) -> Resolution:
    """Close a finding without a refund; the reason is mandatory and kept."""
    if not reason.strip():
        raise ResolutionError("a dismissal needs a reason")
    if finding.status in (FindingStatus.RESOLVED, FindingStatus.DISMISSED):
        raise ResolutionError(f"finding {finding.finding_id} is already {finding.status.value}")
    return Resolution(finding.finding_id, FindingStatus.DISMISSED, "dismissed", reason.strip(), require_aware(now or utc_now(), "now"), by)


@dataclass(frozen=True, slots=True)
class RefundDecisions:
    refunds: list[RefundAdjustment]
    resolutions: list[Resolution]
    pending: list[Finding]  # left for an analyst


RecordKey = tuple[str, str, str]
"""(msisdn, source, record_id). A record id is unique per source only: two switches may number records alike, even
for one subscriber. The source is "" when a finding does not name it; such a key stands for the subscriber's
records with that id from any source (``any_source``)."""


def record_keys(finding: Finding) -> list[RecordKey]:
    """The finding's records as (msisdn, source, record id). A charge finding names its record's source (in its
    evidence); for the others the source is "" (any)."""
    src = finding.evidence.get("source") if finding.kind in CHARGE_KINDS else None
    return [(finding.msisdn or "", str(src or ""), r) for r in finding.record_ids]


def any_source(key: RecordKey) -> RecordKey:
    """The key of the subscriber's records with this id from any source."""
    return (key[0], "", key[2])


def all_billed(finding: Finding, billed_records: Collection[RecordKey]) -> bool:
    """Whether a bill (or the operator's own billing) charged every record ``finding`` names."""
    keys = record_keys(finding)
    return bool(keys) and all(k in billed_records for k in keys)


RECOMPUTED_CODE = "refund-recomputed"  # the reason code of a refund past a cap taken back in part (``billing``)


def recomputed_id(finding: Finding, refunded_minor: int, now_minor: int) -> str:
    """The id of the entry that takes back a refund of usage past a cap from ``refunded_minor`` (what the ledger
    refunded for its charge, before tax) to ``now_minor`` (the part past the cap of the charges as rerated): the
    same recomputation reckoned again is the same entry, a later one (another rerate) another."""
    keys = (part for key in sorted(record_keys(finding)) for part in key)
    return stable_id("adj", RECOMPUTED_CODE, finding.finding_id, *keys, str(refunded_minor), str(now_minor),
                     finding.currency or "")


def decide_refunds(
    findings: Iterable[Finding],
    *,
    policy: RefundPolicy = RefundPolicy(),
    billed_records: Collection[RecordKey] | None = None,
    refused_records: Collection[RecordKey] | None = None,
    by: str = "assurance",
    now: datetime | None = None,
) -> RefundDecisions:
    """Refund automatically what the policy allows.

    Without ``billed_records`` every charge found is taken as billed (the charges of an operator's own
    billing). With it, only charges that reached a bill are refunded; one that did not is resolved as
    ``not_billed`` without money moving when the consent gate refused it (every one of its records is in
    ``refused_records``, or that set is not given), and otherwise left pending: it may still be billed, and a
    later run refunds it then. Usage past a cap is refunded only once every one of its records reached a bill
    (``all_billed``), and left pending until then: a refund posted before the bill would give back the charge but
    not the tax the bill then charges on it. Records are (msisdn, source, record id) keys (``record_keys``); the
    collections hold, beside each record's own key, its ``any_source`` key (``charge_evidence`` builds them so)."""
    at = require_aware(now or utc_now(), "now")
    refunds: list[RefundAdjustment] = []
    resolutions: list[Resolution] = []
    pending: list[Finding] = []
    for f in findings:
        auto = f.kind in policy.automatic or (f.kind is FindingKind.USAGE_PAST_CAP and policy.refund_usage_past_cap)
        # a previous customer's usage (before the owner change): never refunded to the line's current customer
        if not auto or f.status not in _UNRESOLVED or f.before_holding:
            pending.append(f)
            continue
        keys = record_keys(f)
        if billed_records is not None and f.kind is FindingKind.USAGE_PAST_CAP and not all_billed(f, billed_records):
            pending.append(f)  # refunded once its bill exists: with the tax that bill charges on it
            continue
        if billed_records is not None and f.kind in CHARGE_KINDS and not any(k in billed_records for k in keys):
            if refused_records is None or (keys and all(k in refused_records for k in keys)):
                resolutions.append(Resolution(f.finding_id, FindingStatus.RESOLVED, "not_billed", NOT_BILLED_REASON, at, by))
            else:
                pending.append(f)
            continue
        if refundable_amount(f) <= 0:
            pending.append(f)
            continue
        adj, res = refund(f, by=by, now=at)
        refunds.append(adj)
        resolutions.append(res)
    return RefundDecisions(refunds, resolutions, pending)
