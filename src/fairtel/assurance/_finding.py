"""Findings: what the detectors raise, each with its evidence, the amount at risk and a status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import polars as pl

from fairtel.core.ids import stable_id
from fairtel.core.money import Money
from fairtel.core.time import require_aware


class FindingKind(StrEnum):
    """Stable codes of what was found."""

    UNCONSENTED_CHARGE = "unconsented_charge"
    CHARGE_AFTER_CANCELLATION = "charge_after_cancellation"
    DUPLICATE_CHARGE = "duplicate_charge"
    PRICE_MISMATCH = "price_mismatch"
    UNKNOWN_OFFER_CHARGE = "unknown_offer_charge"
    # a charge from a provider whose billing rights were suspended when it was made (gate verdict merchant_suspended)
    MERCHANT_SUSPENDED_CHARGE = "merchant_suspended_charge"
    MACHINE_SPEED_CONFIRMATION = "machine_speed_confirmation"
    REPLAYED_EVIDENCE = "replayed_evidence"
    BILL_SHOCK = "bill_shock"
    USAGE_PAST_CAP = "usage_past_cap"
    ROAMING_WITHOUT_WELCOME = "roaming_without_welcome"
    # a call back to a Wangiri (one-ring scam) number of the premium zone that was charged (``fairtel fraud
    # detect``; evidence ``charged_premium``: at premium rates, or, made while roaming, at the roaming rate): the
    # subscriber is the scam's victim; an analyst decides whether it is refunded (not an automatic refund kind)
    PREMIUM_CALLBACK = "premium_callback"
    # a one-ring call from a Wangiri number that the subscriber, rung while roaming, was charged for receiving
    # (``fairtel fraud detect``): the scam's victim; an analyst decides whether it is refunded, as a call back
    ONE_RING_ROAMING_CHARGE = "one_ring_roaming_charge"
    # calls of a confirmed IRSF case on a stolen or cloned SIM before its line was barred
    IRSF_FRAUD = "irsf_fraud"


class FindingStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


CHARGE_KINDS = frozenset(
    {
        FindingKind.UNCONSENTED_CHARGE,
        FindingKind.CHARGE_AFTER_CANCELLATION,
        FindingKind.DUPLICATE_CHARGE,
        FindingKind.PRICE_MISMATCH,
        FindingKind.UNKNOWN_OFFER_CHARGE,
        FindingKind.MERCHANT_SUSPENDED_CHARGE,
    }
)
"""Findings about one charge a subscriber should not pay (or not pay in full)."""


def finding_id(kind: FindingKind | str, *key: object, id_key: bytes | None = None) -> str:
    """Derived from the kind and the ids it is about, so a rerun over the same data gives the same ids; with the
    operator's ``id_key``, only its holder can recompute it (see ``FindingIds``)."""
    return stable_id("fnd", str(kind), *key, key=id_key)


FINDING_ID_PURPOSE = "finding-ids"


@dataclass(frozen=True)
class FindingIds:
    """How findings about a subscriber's number are named. An id derived from the number alone is a hash anyone
    who sees it beside a pseudonym could match by hashing every number of a range; with the operator's ``key``
    (``core.ids.purpose_key(secret, FINDING_ID_PURPOSE)``) it cannot be matched. A finding already ``held``
    under its unkeyed id (raised before ids were keyed) keeps it, so a rerun neither opens it again nor
    notifies its subscriber twice."""

    key: bytes | None = None
    held: frozenset[str] = frozenset()

    def of(self, kind: FindingKind, names: Sequence[str], values: Sequence[object]) -> str:
        plain = finding_id(kind, *values)
        if self.key is None or "msisdn" not in names or plain in self.held:
            return plain
        return finding_id(kind, *values, id_key=self.key)


# The evidence key of a finding about usage made before its line's current holding began (过户: an owner change,
# the register's ``holder_since``; or an earlier holder of a recycled number): ``holding_from`` says when it began.
BEFORE_HOLDING = "before_holding"


@dataclass(frozen=True, slots=True)
class Finding:
    finding_id: str
    kind: FindingKind
    msisdn: str | None
    record_ids: tuple[str, ...]
    subscription_id: str | None
    amount: Decimal | None
    currency: str | None
    detected_at: datetime
    evidence: Mapping[str, Any] = field(default_factory=dict)
    status: FindingStatus = FindingStatus.OPEN

    def __post_init__(self) -> None:
        require_aware(self.detected_at, "Finding.detected_at")
        if isinstance(self.amount, float):
            raise TypeError("a finding's amount is a Decimal, never a float")

    @property
    def before_holding(self) -> bool:
        """Whether the finding is about usage made before its line's current holding began (``BEFORE_HOLDING`` in
        its evidence: a previous customer's, before an owner change): still fraud for the operator, but not the
        line's current customer's, who is neither refunded nor told about it (``mark_before_holding``)."""
        return self.evidence.get(BEFORE_HOLDING) is True

    @property
    def money(self) -> Money | None:
        return None if self.amount is None or self.currency is None else Money(self.amount, self.currency)

    @property
    def amount_minor(self) -> int | None:
        m = self.money
        return None if m is None else m.to_minor()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (``fairtel assure --json``): amount as a decimal string."""
        return {
            "finding_id": self.finding_id,
            "kind": self.kind.value,
            "msisdn": self.msisdn,
            "record_ids": list(self.record_ids),
            "subscription_id": self.subscription_id,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
            "status": self.status.value,
            "evidence": dict(self.evidence),
            "detected_at": self.detected_at.isoformat(),
        }


FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "finding_id": pl.String(),
    "kind": pl.String(),
    "msisdn": pl.String(),
    "record_ids": pl.List(pl.String()),
    "subscription_id": pl.String(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "status": pl.String(),
    "evidence": pl.String(),
    "detected_at": pl.Datetime("us", "UTC"),
}


def findings_frame(findings: Iterable[Finding]) -> pl.DataFrame:
    """Findings at rest (the ``findings`` lake dataset): integer minor units, evidence as JSON text."""
    import json

    rows = [
        {
            "finding_id": f.finding_id,
            "kind": f.kind.value,
            "msisdn": f.msisdn,
            "record_ids": list(f.record_ids),
            "subscription_id": f.subscription_id,
            "amount_minor": f.amount_minor,
            "currency": f.currency,
            "status": f.status.value,
            "evidence": json.dumps(dict(f.evidence), ensure_ascii=False, sort_keys=True, default=str),
            "detected_at": f.detected_at,
        }
        for f in findings
    ]
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA)


def minor_to_decimal(units: int | None, currency: str | None) -> Decimal | None:
    if units is None or currency is None:
        return None
    return Money.from_minor(int(units), currency).amount


def build_findings(
    frame: pl.DataFrame,
    kind: FindingKind,
    *,
    key: Sequence[str],
    detected_at: datetime,
    evidence: Sequence[str] = (),
    ids: FindingIds = FindingIds(),
) -> list[Finding]:
    """Findings from a frame with msisdn, record_ids (list), subscription_id, amount_minor, currency, the
    ``key`` columns (what the finding is about, for its stable id) and ``evidence`` columns."""
    out: list[Finding] = []
    for row in frame.iter_rows(named=True):
        ev = {c: _plain(row[c]) for c in evidence if row.get(c) is not None}
        out.append(
            Finding(
                finding_id=ids.of(kind, key, [row[k] for k in key]),
                kind=kind,
                msisdn=row.get("msisdn"),
                record_ids=tuple(row.get("record_ids") or ()),
                subscription_id=row.get("subscription_id"),
                amount=minor_to_decimal(row.get("amount_minor"), row.get("currency")),
                currency=row.get("currency"),
                detected_at=detected_at,
                evidence=ev,
            )
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def mark_before_holding(finding: Finding, holding_from: datetime) -> Finding:
    """``finding`` marked as about usage made before its line's current holding began (``holding_from``): the
    previous customer's. It stays a finding for the operator (the fraud happened), but is not addressed to the
    line's current customer: ``refund`` refuses it and ``decide_refunds`` leaves it pending, so that no refund, and
    no SMS about one, reaches them; whatever is owed is settled with the previous customer outside the line."""
    at = require_aware(holding_from, "holding_from")
    return replace(finding, evidence={**finding.evidence, BEFORE_HOLDING: True, "holding_from": at.isoformat()})


def before_holding_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """kind → how many of ``findings`` are about usage before their line's current holding (``Finding.before_holding``),
    for a report to count apart from those addressed to the lines' current customers."""
    out: dict[str, int] = {}
    for f in findings:
        if f.before_holding:
            out[f.kind.value] = out.get(f.kind.value, 0) + 1
    return dict(sorted(out.items()))
