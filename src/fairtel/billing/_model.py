"""What billing reads and produces: accounts, adjustment entries, bills and their lines, the billing policy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from urllib.parse import quote, unquote

from fairtel.core.errors import ConfigError, InvalidInputError, Problem
from fairtel.core.ids import stable_id
from fairtel.core.money import Rounding
from fairtel.core.time import require_aware


class LineKind(StrEnum):
    """What a bill line is for. Stable codes: stored in ``bill_lines.kind``."""

    PLAN_FEE = "plan_fee"
    VOICE = "voice"
    SMS = "sms"
    DATA = "data"
    VAS = "vas"
    TAX = "tax"
    ADJUSTMENT = "adjustment"


USAGE_KINDS: tuple[str, ...] = (LineKind.VOICE, LineKind.SMS, LineKind.DATA)
TAXABLE_KINDS: tuple[str, ...] = (LineKind.PLAN_FEE, *USAGE_KINDS, LineKind.VAS)
CHARGE_ORDER: dict[str, int] = {k: i for i, k in enumerate(TAXABLE_KINDS)}


class AdjustmentKind(StrEnum):
    """``debit`` adds to what the subscriber owes; ``credit`` and ``refund`` take from it."""

    REFUND = "refund"
    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True, slots=True)
class Suspension:
    """A suspension of a line (停机), from its status history: from ``since`` until it was back in service or closed
    (``until``; None: still suspended), and why (``reason``: ``catalog.SUSPENSION_REASONS``, None when the register did
    not say: such a day owes the plan fee, as a day in service)."""

    since: datetime
    until: datetime | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.since, "since")
        if self.until is not None:
            require_aware(self.until, "until")


KEEP_NUMBER_TEXT = "Keep-number fee"  # how a bill's keep-number fee line begins (a ``plan_fee`` line of its own)


@dataclass(frozen=True, slots=True)
class Account:
    """A subscriber as billing sees them (the subscribers contract of DESIGN.md)."""

    msisdn: str
    plan_id: str
    activated_at: datetime
    status: str = "active"
    language: str = "zh"
    closed_at: datetime | None = None  # a closed line: when it left service (its last month's fee is pro-rated)
    # a suspended line: since when (its usage from then on is held off the bill; unknown: all of it)
    suspended_at: datetime | None = None
    # since when the current customer holds the line, when later than ``activated_at`` (it moved to them from
    # another customer with its activation kept): what was issued for an earlier customer is not carried to them
    holder_since: datetime | None = None
    # the line's suspensions, from its status history (those that ended and the one in force), with why: what a plan's
    # suspension policy (``catalog.SuspensionPolicy``) charges for the days wholly suspended; () knows none
    suspensions: tuple[Suspension, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.activated_at, "activated_at")
        if self.suspended_at is not None:
            require_aware(self.suspended_at, "suspended_at")
        if self.holder_since is not None:
            require_aware(self.holder_since, "holder_since")

    @property
    def holding_from(self) -> datetime:
        """When the current customer's holding of the line began: the later of ``activated_at`` and
        ``holder_since``."""
        return self.activated_at if self.holder_since is None else max(self.activated_at, self.holder_since)


@dataclass(frozen=True, slots=True)
class AdjustmentEntry:
    """One entry of the append-only adjustments ledger. ``amount_minor`` is positive; ``kind`` gives the sign.

    ``bill_id`` is the bill the entry corrects (when it corrects one); a rerate entry also names the period,
    the record (``source``, ``record_id``), the rule that priced it now and the amounts before and after
    (before tax). An entry is carried into the first bill issued after it and never into two bills.
    """

    adjustment_id: str
    kind: AdjustmentKind
    msisdn: str
    amount_minor: int
    currency: str
    reason: str
    created_at: datetime
    created_by: str
    bill_id: str | None = None
    finding_id: str | None = None
    period: str | None = None
    source: str | None = None
    record_id: str | None = None
    rule_id: str | None = None
    old_amount_minor: int | None = None
    new_amount_minor: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AdjustmentKind(self.kind))
        require_aware(self.created_at, "created_at")
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int) or self.amount_minor <= 0:
            raise InvalidInputError(
                [Problem("adjustment", None, "amount_minor", f"must be a positive integer, got {self.amount_minor!r}")],
                what=f"adjustment {self.adjustment_id}",
            )

    @property
    def signed_minor(self) -> int:
        """What the entry adds to the subscriber's bill: positive for a debit, negative for a credit or refund."""
        return self.amount_minor if self.kind is AdjustmentKind.DEBIT else -self.amount_minor

    @property
    def tax_minor(self) -> int | None:
        """The tax ``amount_minor`` includes, when the entry names the amounts before tax it moves between
        (``old_amount_minor`` → ``new_amount_minor``: a rerate entry, a release, a refund that gives the bill's tax
        back, whose charge refunded is ``old`` and ``new`` 0); None when it does not (an entry made by hand, or a
        refund of an earlier version)."""
        if self.old_amount_minor is None or self.new_amount_minor is None:
            return None
        return max(0, self.amount_minor - abs(self.new_amount_minor - self.old_amount_minor))


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a bill. ``amount_minor`` is signed (credits are negative); lines sum to the bill total."""

    line_no: int
    kind: LineKind
    description: str
    amount_minor: int
    currency: str
    rule_id: str | None = None
    quantity: int | None = None
    unit: str | None = None
    allowance_id: str | None = None
    adjustment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    """A subscriber's bill for one period. Immutable once issued: corrections are adjustment entries.

    ``subtotal_minor`` is the charges plus the adjustments carried in; ``tax_minor`` the tax on the charges;
    ``total_minor`` = subtotal + tax (negative when credits exceed charges: a balance in the subscriber's
    favour). ``run_id`` names the bill run that issued it, and so the snapshot of rated lines behind it.
    ``tax_rates``: the rates it was taxed at, per kind (a kind absent: untaxed), so that a correction is taxed as
    the bill was whatever the rates are now; ``None`` when not known (read back without them: ``issued_policy``).
    """

    bill_id: str
    msisdn: str
    period: str
    plan_id: str | None
    currency: str
    issued_at: datetime
    run_id: str
    lines: tuple[BillLine, ...]
    charges_minor: int
    adjustments_minor: int
    tax_minor: int
    tax_rates: Mapping[str, Decimal] | None = field(default=None, compare=False)

    @property
    def subtotal_minor(self) -> int:
        return self.charges_minor + self.adjustments_minor

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.tax_minor

    def amount_of(self, *kinds: str) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind in kinds)

    @property
    def adjustment_ids(self) -> tuple[str, ...]:
        return tuple(line.adjustment_id for line in self.lines if line.adjustment_id is not None)


def bill_id_for(msisdn: str, period: str) -> str:
    """The bill id is stable: the same subscriber and period always name the same bill."""
    return stable_id("bill", msisdn, period)


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """How a bill is completed beyond the tariff: taxes. Optional; by default no tax is added.

    ``tax_rates`` maps a charge kind (``plan_fee``, ``voice``, ``sms``, ``data``, ``vas``) to a rate added on
    top of that kind's charges (``Decimal("0.09")`` is 9 %); the tax of each kind is rounded once per bill.
    Adjustments are amounts owed or refunded tax included, so they are not taxed again.
    """

    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)
    tax_rounding: Rounding = Rounding.HALF_UP

    def __post_init__(self) -> None:
        problems = []
        rates: dict[str, Decimal] = {}
        for kind, rate in dict(self.tax_rates).items():
            if kind not in TAXABLE_KINDS:
                problems.append(f"tax_rates: {kind!r} is not one of {', '.join(TAXABLE_KINDS)}")
                continue
            if isinstance(rate, float):
                problems.append(f"tax_rates.{kind}: write the rate as a decimal string, not a float")
                continue
            try:
                value = Decimal(rate)
            except Exception:
                problems.append(f"tax_rates.{kind}: not a decimal: {rate!r}")
                continue
            if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
                problems.append(f"tax_rates.{kind}: a rate is between 0 and 1, got {rate}")
                continue
            rates[kind] = value
        if problems:
            raise ConfigError("; ".join(problems))
        object.__setattr__(self, "tax_rates", rates)

    def tax_rate(self, kind: str) -> Decimal:
        return self.tax_rates.get(kind, Decimal(0))

    def tax_on(self, kind: str, amount_minor: int) -> int:
        """The tax on ``amount_minor`` of ``kind``, in minor units, rounded once."""
        rate = self.tax_rate(kind)
        if not rate or not amount_minor:
            return 0
        return int((Decimal(amount_minor) * rate).quantize(Decimal(1), rounding=self.tax_rounding.decimal_mode))


_TAX_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%$")


def issued_policy(bill: Bill, current: BillingPolicy | None = None) -> BillingPolicy:
    """The tax policy ``bill`` was issued under, for its corrections: a VAT change since must not reach them.

    Its ``tax_rates`` when known. Otherwise (a bill issued before they were kept) the rates its tax lines show: each
    names its rate exactly (``Tax on voice 9%``). A kind without a tax line is untaxed when the bill charged it
    enough for ``current``'s rate to have shown a tax (so it was not taxed), else taxed at ``current``'s rate: the
    bill charged it too little (or nothing) to tell.
    """
    current = current or BillingPolicy()
    if bill.tax_rates is not None:
        return BillingPolicy(tax_rates=dict(bill.tax_rates), tax_rounding=current.tax_rounding)
    charged = {kind: bill.amount_of(kind) for kind in TAXABLE_KINDS}
    rates: dict[str, Decimal] = {}
    for kind in TAXABLE_KINDS:
        lines = [ln for ln in bill.lines if ln.kind is LineKind.TAX and ln.rule_id == f"tax/{kind}"]
        shown = _TAX_PERCENT.search(lines[0].description) if len(lines) == 1 else None
        if shown is not None:
            rates[kind] = Decimal(shown.group(1)).scaleb(-2)
        elif lines or current.tax_on(kind, charged[kind]) == 0:  # a tax line whose rate does not read, or no telling
            rates[kind] = current.tax_rate(kind)
    return BillingPolicy(tax_rates={k: v for k, v in rates.items() if v}, tax_rounding=current.tax_rounding)


# Why a rerate entry was issued is stored (the entry's ``reason``, and so the text of the bill line that carries it)
# as a code and its parameters, not as a sentence: a statement says it in the reader's language. Code → the
# parameters it needs; ``currency`` comes last in every one.
REASON_PARAMS: dict[str, tuple[str, ...]] = {
    "rerate-usage": ("period", "record", "old", "new"),  # a billed record priced again (optional: rule, old_rule)
    "late-usage": ("period", "record", "new"),  # a record the bill does not hold, rated after it (optional: rule)
    "rerate-fee": ("period", "plan", "old", "new"),  # a plan fee priced again (optional: days, as ``16/31``)
    "late-vas": ("period", "record", "rule", "amount"),  # a VAS charge rated after the bill (optional: subscription)
    "release-held": ("period", "record", "amount"),  # held usage released to be billed (optional: rule, hold)
    # a refund of usage past a spending cap taken back in part: the part past the cap of the charges as rerated
    # (``new``) is less than what was refunded (``old``), amounts before tax
    "refund-recomputed": ("period", "old", "new"),
    # a credit an agent gave back on a complaint (``POST /bills/{id}/credits``): the agent's words as ``note``
    # (optional: ``complaint``, the complaint it settles; ``record``, the charge it gives back)
    "care-credit": ("note",),
    # an owner change (过户) learnt after the bill of its month was issued: what the bill charged of the days before the
    # change (``since``, its day on the operator's clock) credited, the previous customer's; the plan fee (``old``
    # billed → ``new`` from the change; optional: plan, days as ``22/31``), or one record of theirs (``old`` what it
    # was billed and is credited, before tax; optional: ``given``, what a refund or care credit gave back of it before,
    # when only the rest is credited; kind, ``usage`` or ``vas``, and rule)
    "holding-fee": ("period", "since", "old", "new"),
    "holding-record": ("period", "since", "record", "old"),
}
HOLDING_CODES = frozenset({"holding-fee", "holding-record"})  # reasons of a rerate's owner-change corrections
REASON_LIMIT = 190  # a bill line keeps 200 characters, ``credit: `` included
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def encode_reason(code: str, currency: str, **params: str | None) -> str:
    """``code k=v ... currency=CNY``: values percent-encoded (a space in a record id stays in one value), the
    currency last, so a text cut short does not parse rather than parsing wrong. Optional parameters (those after
    the required ones, last first) are left out when the text would not fit in a bill line."""
    required = REASON_PARAMS[code]
    pairs = [(k, v) for k, v in params.items() if v is not None and v != ""]
    pairs.sort(key=lambda kv: (kv[0] not in required, required.index(kv[0]) if kv[0] in required else 0))

    def text(kept: list[tuple[str, str]]) -> str:
        return " ".join([code, *(f"{k}={_encoded(str(v))}" for k, v in kept), f"currency={currency}"])

    while len(text(pairs)) > REASON_LIMIT and pairs and pairs[-1][0] not in required:
        pairs.pop()
    return text(pairs)


def _encoded(value: str) -> str:
    """A reason's value percent-encoded, but for letters beyond ASCII (a Chinese note would take nine characters a
    letter otherwise): a space of any width, ``=``, ``%`` and control characters are always encoded."""
    return "".join(ch if ord(ch) > 127 and ch.isprintable() and not ch.isspace() else quote(ch, safe="/+-._~:")
                   for ch in value)


CARE_NOTE_MIN = 12  # the fewest characters of an agent's words a care credit's reason keeps before it drops its links


def care_credit_reason(note: str, currency: str, *, complaint: str | None = None, record: str | None = None) -> str:
    """The reason of a credit an agent posts (``care-credit``): their words as the note, the complaint and the
    record it names. What does not fit a bill line (``REASON_LIMIT``) is cut from the note's end (marked ``…``),
    down to ``CARE_NOTE_MIN`` characters; then the record, then the complaint are left out, then the note is cut
    further, so the text always parses."""
    words = " ".join(note.split()) or "…"
    for links, floor in (({"complaint": complaint, "record": record}, CARE_NOTE_MIN), ({"complaint": complaint}, CARE_NOTE_MIN),
                         ({}, 1)):
        wanted = {k: v for k, v in links.items() if v}
        cut = words
        while True:
            text = encode_reason("care-credit", currency, note=cut, **wanted)
            decoded = decode_reason(text)
            if len(text) <= REASON_LIMIT and decoded is not None and all(k in decoded[1] for k in wanted):
                return text
            base = cut.removesuffix("…")
            if len(base) <= floor:
                break
            cut = base[:-1].rstrip() + "…"
    return encode_reason("care-credit", currency, note="…")


def decode_reason(text: str) -> tuple[str, dict[str, str]] | None:
    """The code and parameters of a reason ``encode_reason`` wrote; ``None`` for any other text (a reason written
    as a sentence, by an earlier version or by hand, or one cut short)."""
    code, *tokens = text.split(" ")
    if code not in REASON_PARAMS or not tokens:
        return None
    params: dict[str, str] = {}
    for token in tokens:
        key, eq, value = token.partition("=")
        if not eq or not key or key in params:
            return None
        params[key] = unquote(value)
    if list(params)[-1] != "currency" or not _CURRENCY.match(params["currency"]):
        return None
    if any(k not in params for k in REASON_PARAMS[code]):
        return None
    try:
        for k in ("old", "new", "amount"):
            if k in params:
                Decimal(params[k])
    except InvalidOperation:
        return None
    return code, params
