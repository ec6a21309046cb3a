"""Bill shock: alerts when a subscriber's monthly spend in a scope crosses thresholds of a cap, and usage
charged past a cap that should have stopped the service.

Presets: ``EU_DATA_ROAMING`` (the EU rule: data roaming capped at EUR 50 a month excluding VAT, alerts at
80 % and at the cap, service stopped at the cap unless the subscriber chose to continue) and ``DOMESTIC``
(alerts on out-of-allowance charges for the demo operator, no stop). Beside them, the roaming cap a subscriber
set themselves (``roaming_caps``: ``SubscriberCap``, ``subscriber_cap_findings``): alerts at 80 % and 100 % of it
over their roaming charges of the month made since they set it, and the charges past it reported for refund.
Amounts are compared without floats: a cap is converted once per currency into minor units with Decimal
arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, build_findings
from fairtel.core.errors import ConfigError, InvalidInputError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import DEMO_TIMEZONE, require_aware

RATED_REQUIRED = ("record_id", "msisdn", "started_at", "amount_minor", "currency", "kind", "roaming_country")


@dataclass(frozen=True, slots=True)
class BillShockPolicy:
    """``cap`` per subscriber and month; ``thresholds`` as fractions of it (1 is the cap itself).

    Scope: charges whose ``kind`` is in ``kinds`` (None: any), only while roaming if ``roaming_only``.
    ``vat_rate``: the VAT included in rated amounts, removed before comparing to a cap set without VAT.
    ``rates``: how many cap-currency units one unit of each other currency is worth.
    """

    name: str
    cap: Money
    thresholds: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1"))
    kinds: frozenset[str] | None = None
    roaming_only: bool = False
    stop_at_cap: bool = False
    vat_rate: Decimal = Decimal(0)
    rates: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.thresholds or any(t <= 0 for t in self.thresholds):
            raise ConfigError(f"bill-shock policy {self.name}: thresholds must be positive fractions of the cap")
        if self.cap.amount <= 0:
            raise ConfigError(f"bill-shock policy {self.name}: the cap must be positive")
        object.__setattr__(self, "thresholds", tuple(sorted(set(self.thresholds))))

    def with_rates(self, rates: Mapping[str, Decimal]) -> BillShockPolicy:
        return BillShockPolicy(
            self.name,
            self.cap,
            self.thresholds,
            self.kinds,
            self.roaming_only,
            self.stop_at_cap,
            self.vat_rate,
            {**self.rates, **rates},
        )

    def limit_minor(self, fraction: Decimal, currency: str) -> int:
        """``fraction`` of the cap, in minor units of ``currency`` including VAT, rounded up (an alert
        fires once spend reaches at least that share of the cap)."""
        if currency == self.cap.currency:
            amount = self.cap.amount
        elif currency in self.rates:
            amount = self.cap.amount / self.rates[currency]
        else:
            raise ConfigError(
                f"bill-shock policy {self.name}: no rate from {currency} to {self.cap.currency}; pass rates={{...}}"
            )
        gross = amount * fraction * (1 + self.vat_rate)
        return int(gross.scaleb(minor_units(currency)).to_integral_value(rounding=ROUND_CEILING))


EU_DATA_ROAMING = BillShockPolicy(
    name="eu_data_roaming",
    cap=Money.of("50.00", "EUR"),
    kinds=frozenset({"data"}),
    roaming_only=True,
    stop_at_cap=True,
)
DOMESTIC = BillShockPolicy(
    name="domestic",
    cap=Money.of("100.00", "CNY"),
    kinds=frozenset({"voice", "sms", "data"}),
    roaming_only=False,
    stop_at_cap=False,
)
PRESETS: dict[str, BillShockPolicy] = {p.name: p for p in (EU_DATA_ROAMING, DOMESTIC)}


def _scope(rated: pl.DataFrame, kinds: frozenset[str] | None, roaming_only: bool) -> pl.DataFrame:
    cond = pl.col("amount_minor").is_not_null() & (pl.col("amount_minor") != 0)
    if kinds is not None:
        cond &= pl.col("kind").is_in(sorted(kinds))
    if roaming_only:
        cond &= pl.col("roaming_country").is_not_null() & (pl.col("roaming_country") != "")
    return rated.filter(cond)


def _checked(rated: pl.DataFrame) -> pl.DataFrame:
    """``rated`` with the columns bill shock needs (else every one missing is named) and each line's position
    (``_row``), which names a line when two detectors report the same charge."""
    missing = [c for c in RATED_REQUIRED if c not in rated.columns]
    if missing:
        raise InvalidInputError([Problem("rated", None, c, "column missing") for c in missing], what="rated charges")
    return rated.with_row_index("_row")


def _spend(scoped: pl.DataFrame, tz: str, *carry: str) -> pl.DataFrame:
    """Each charge with the spend of its subscriber, month and currency before it (``before_minor``) and with it
    (``spent_minor``)."""
    return (
        scoped.select(
            "_row",
            "record_id",
            "msisdn",
            "currency",
            "amount_minor",
            "kind",
            "roaming_country",
            pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("period"),
            pl.col("started_at"),
            *carry,
        )
        # Every column, so that rows tied on time and record id (several lines of one record, one id from two
        # sources) are summed in the same order whatever the input order: a crossing's amount depends on it.
        .sort(
            "msisdn", "period", "currency", "started_at", "record_id", "amount_minor", "kind", "roaming_country", "_row"
        )
        .with_columns(pl.col("amount_minor").cum_sum().over("msisdn", "period", "currency").alias("spent_minor"))
        .with_columns((pl.col("spent_minor") - pl.col("amount_minor")).alias("before_minor"))
    )


def _crossed() -> pl.Expr:
    """The charge that took the spend to ``limit_minor``; at a limit of nothing (a cap of 0), the first that took
    it above nothing."""
    limit, before, spent = pl.col("limit_minor"), pl.col("before_minor"), pl.col("spent_minor")
    return pl.when(limit > 0).then((before < limit) & (spent >= limit)).otherwise((before <= 0) & (spent > 0))


def _over() -> pl.Expr:
    """What a charge past the cap (``limit_minor``) was charged beyond it: the crossing charge only above the cap."""
    return pl.col("spent_minor") - pl.max_horizontal("before_minor", "limit_minor")


def _preset_spend(rated: pl.DataFrame, policy: BillShockPolicy, tz: str) -> pl.DataFrame:
    return _spend(_scope(rated, policy.kinds, policy.roaming_only), tz)


def _preset_past(spend: pl.DataFrame, policy: BillShockPolicy, chose_to_continue: list[str]) -> pl.DataFrame:
    """The charges past a stopping preset's cap of those who did not choose to continue, each with ``over_minor``."""
    currencies = spend["currency"].unique().drop_nulls().to_list()
    cap = pl.DataFrame(
        [{"currency": c, "limit_minor": policy.limit_minor(Decimal(1), c)} for c in currencies],
        schema={"currency": pl.String(), "limit_minor": pl.Int64()},
    )
    return (
        spend.filter(~pl.col("msisdn").is_in(chose_to_continue))
        .join(cap, on="currency", how="inner")
        .filter(pl.col("spent_minor") > pl.col("limit_minor"))
        .with_columns(_over().alias("over_minor"))
    )


def bill_shock_findings(
    rated: pl.DataFrame,
    policy: BillShockPolicy,
    *,
    detected_at: datetime,
    opted_in: Iterable[str] = (),
    tz: str = DEMO_TIMEZONE,
    ids: FindingIds = FindingIds(),
) -> list[Finding]:
    """``bill_shock`` at each threshold crossed (on the record that crossed it) and, under a policy that
    stops service at the cap, ``usage_past_cap`` for the charges after the cap of subscribers who did not
    choose to continue (the amount at risk is what was charged beyond the cap)."""
    spend = _preset_spend(_checked(rated), policy, tz)
    if spend.height == 0:
        return []
    chose_to_continue = sorted(set(opted_in))
    currencies = spend["currency"].unique().drop_nulls().to_list()
    limits = pl.DataFrame(
        [
            {"currency": c, "fraction": str(t), "pct": int(t * 100), "limit_minor": policy.limit_minor(t, c)}
            for c in currencies
            for t in policy.thresholds
        ],
        schema={"currency": pl.String(), "fraction": pl.String(), "pct": pl.Int64(), "limit_minor": pl.Int64()},
    )
    crossings = (
        spend.join(limits, on="currency", how="inner")
        .filter(_crossed())
        .sort("msisdn", "period", "currency", "started_at", "record_id", "spent_minor", "pct")
        .with_columns(
            pl.concat_list("record_id").alias("record_ids"),
            pl.lit(None, dtype=pl.String).alias("subscription_id"),
            pl.col("spent_minor").alias("amount_minor"),
            pl.lit(policy.name).alias("policy"),
            pl.lit(str(policy.cap.amount)).alias("cap"),
            pl.lit(policy.cap.currency).alias("cap_currency"),
            # The service stops at the cap only for those who did not choose to continue: the others are told
            # what they spent, never that their service is paused.
            (pl.lit(policy.stop_at_cap) & ~pl.col("msisdn").is_in(chose_to_continue)).alias("stop_at_cap"),
            pl.col("pct").alias("threshold_pct"),
        )
    )
    out = build_findings(
        crossings,
        FindingKind.BILL_SHOCK,
        key=("policy", "msisdn", "period", "threshold_pct"),
        detected_at=detected_at,
        evidence=(
            "policy",
            "period",
            "threshold_pct",
            "cap",
            "cap_currency",
            "limit_minor",
            "stop_at_cap",
            "started_at",
        ),
        ids=ids,
    )
    if policy.stop_at_cap:
        past = (
            _preset_past(spend, policy, chose_to_continue)
            .group_by("msisdn", "period", "currency")
            .agg(
                pl.col("record_id").sort_by("started_at", "record_id", "amount_minor").alias("record_ids"),
                pl.col("over_minor").sum().alias("amount_minor"),
                pl.col("limit_minor").first(),
                pl.col("started_at").min().alias("first_past_cap_at"),
            )
            .with_columns(
                pl.lit(None, dtype=pl.String).alias("subscription_id"),
                pl.lit(policy.name).alias("policy"),
                pl.lit(str(policy.cap.amount)).alias("cap"),
                pl.lit(policy.cap.currency).alias("cap_currency"),
            )
            .sort("msisdn", "period", "currency")
        )
        out.extend(
            build_findings(
                past,
                FindingKind.USAGE_PAST_CAP,
                key=("policy", "msisdn", "period"),
                detected_at=detected_at,
                evidence=("policy", "period", "cap", "cap_currency", "limit_minor", "first_past_cap_at"),
                ids=ids,
            )
        )
    return out


# ---- the cap a subscriber set ----------------------------------------------------------------------------
OWN_ROAMING_CAP = "own_roaming_cap"
"""The ``policy`` of the findings raised at a subscriber's own roaming cap (their evidence also says
``cap_source: subscriber``): one alert per threshold, subscriber, month and cap they set, apart from any preset's."""


@dataclass(frozen=True, slots=True)
class SubscriberCap:
    """The monthly roaming spending cap a subscriber set themselves (the ``roaming_caps`` row in force): ``cap``
    (0: no roaming spend at all) and ``set_at``, when they set it. Only roaming charges made from ``set_at`` on
    count against it: what was spent before it, in its month, was spent under no cap or another one."""

    cap: Money
    set_at: datetime

    def __post_init__(self) -> None:
        require_aware(self.set_at, "SubscriberCap.set_at")
        if self.cap.amount < 0:
            raise ConfigError(f"a subscriber's roaming cap cannot be negative: {self.cap}")


@dataclass(frozen=True, slots=True)
class UnwatchedCap:
    """A subscriber's cap not watched over their charges in ``currency``: no rate converts its ``cap_currency``
    to it (``OwnCapPolicy.skip_unconverted``)."""

    msisdn: str
    cap_currency: str
    currency: str


@dataclass(frozen=True, slots=True)
class OwnCapPolicy:
    """How the caps subscribers set are watched: ``thresholds`` as fractions of each cap (80 % and the cap), over
    charges whose ``kind`` is in ``kinds`` (None: any) made while roaming. ``vat_rate``: as a preset's, the VAT
    included in rated amounts, removed before comparing them to the cap. ``rates``: (charge currency, cap
    currency) → how many cap-currency units one unit of the charge currency is worth (the reverse pair, when
    only it is given, is inverted). ``skip_unconverted``: a cap no rate converts to its charges' currency is, when
    True, not watched in that currency (that subscriber's cap only: ``subscriber_cap_findings(unwatched=...)``
    lists it, and every other cap is watched); when False, a ``ConfigError`` naming the number."""

    thresholds: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1"))
    kinds: frozenset[str] | None = None
    vat_rate: Decimal = Decimal(0)
    rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    skip_unconverted: bool = False

    def __post_init__(self) -> None:
        if not self.thresholds or any(t <= 0 for t in self.thresholds):
            raise ConfigError("subscriber roaming caps: thresholds must be positive fractions of the cap")
        if any(r <= 0 for r in self.rates.values()):
            raise ConfigError("subscriber roaming caps: exchange rates must be positive")
        object.__setattr__(self, "thresholds", tuple(sorted(set(self.thresholds))))

    def converts(self, cap_currency: str, currency: str) -> bool:
        """Whether a cap in ``cap_currency`` can be compared to charges in ``currency``."""
        return (
            currency == cap_currency or (currency, cap_currency) in self.rates or (cap_currency, currency) in self.rates
        )

    def limit_minor(self, cap: Money, fraction: Decimal, currency: str, *, msisdn: str) -> int:
        """``fraction`` of ``cap`` in minor units of ``currency`` including VAT, rounded up."""
        if currency == cap.currency:
            amount = cap.amount
        elif (currency, cap.currency) in self.rates:
            amount = cap.amount / self.rates[(currency, cap.currency)]
        elif (cap.currency, currency) in self.rates:
            amount = cap.amount * self.rates[(cap.currency, currency)]
        else:
            raise ConfigError(
                f"subscriber roaming cap of {msisdn}: no rate from {currency} to {cap.currency} (the rate needed: "
                f"how many {cap.currency} one {currency} is worth, or the reverse)"
            )
        gross = amount * fraction * (1 + self.vat_rate)
        return int(gross.scaleb(minor_units(currency)).to_integral_value(rounding=ROUND_CEILING))


def subscriber_cap_findings(
    rated: pl.DataFrame,
    caps: Mapping[str, SubscriberCap],
    *,
    policy: OwnCapPolicy = OwnCapPolicy(),
    detected_at: datetime,
    presets: Iterable[BillShockPolicy] = (),
    opted_in: Iterable[str] = (),
    tz: str = DEMO_TIMEZONE,
    ids: FindingIds = FindingIds(),
    unwatched: list[UnwatchedCap] | None = None,
) -> list[Finding]:
    """Bill shock at the roaming cap each subscriber set (``caps``: msisdn → the cap in force), over their roaming
    charges of each month made since they set it: ``bill_shock`` at each threshold crossed (policy
    ``own_roaming_cap``, ``cap_source`` ``subscriber``, ``cap_set_at``, and ``counted_since`` when the cap was set
    during that month), and ``usage_past_cap`` for what was charged beyond the cap, to be refunded: the service
    stops at a cap of one's own (choosing to continue past a preset's cap does not lift it; removing the cap
    does). ``presets``: the presets watched in the same run: a charge a stopping one already reports past its cap
    (``opted_in`` as for it) is not reported again, so that no charge is refunded twice. A cap in a currency no
    rate of ``policy`` converts to the charges' is a ``ConfigError``; with ``policy.skip_unconverted``, that cap is
    not watched over those charges (the others are), and is appended to ``unwatched`` when given."""
    lines = _checked(rated)
    if not caps:
        return []
    cap_rows = pl.DataFrame(
        [
            {
                "msisdn": m,
                "cap": str(c.cap.amount),
                "cap_currency": c.cap.currency,
                "cap_set_at": c.set_at.astimezone(UTC),
            }
            for m, c in sorted(caps.items())
        ],
        schema={
            "msisdn": pl.String(),
            "cap": pl.String(),
            "cap_currency": pl.String(),
            "cap_set_at": pl.Datetime("us", "UTC"),
        },
    )
    scoped = (
        _scope(lines, policy.kinds, roaming_only=True)
        .join(cap_rows, on="msisdn", how="inner")
        .with_columns(pl.col("cap_set_at").cast(lines.schema["started_at"]))
        .filter(pl.col("started_at") >= pl.col("cap_set_at"))
    )
    if scoped.height == 0:
        return []
    spend = _spend(scoped, tz, "cap", "cap_currency", "cap_set_at").with_columns(
        # the month's first instant, to tell whether the cap was set during it (then only part of it counts)
        pl.col("started_at")
        .dt.convert_time_zone(tz)
        .dt.truncate("1mo")
        .dt.convert_time_zone("UTC")
        .alias("_month_from")
    )
    pairs = sorted(spend.select("msisdn", "currency").drop_nulls().unique().iter_rows())
    if policy.skip_unconverted:
        skipped = [(m, cur) for m, cur in pairs if not policy.converts(caps[m].cap.currency, cur)]
        if skipped:
            if unwatched is not None:
                unwatched.extend(UnwatchedCap(m, caps[m].cap.currency, cur) for m, cur in skipped)
            pairs = [p for p in pairs if p not in set(skipped)]
            if not pairs:
                return []
    limits = pl.DataFrame(
        [
            {
                "msisdn": m,
                "currency": cur,
                "pct": int(t * 100),
                "limit_minor": policy.limit_minor(caps[m].cap, t, cur, msisdn=m),
            }
            for m, cur in pairs
            for t in policy.thresholds
        ],
        schema={"msisdn": pl.String(), "currency": pl.String(), "pct": pl.Int64(), "limit_minor": pl.Int64()},
    )
    set_during = pl.col("cap_set_at") > pl.col("_month_from")
    common = (
        pl.lit(None, dtype=pl.String).alias("subscription_id"),
        pl.lit(OWN_ROAMING_CAP).alias("policy"),
        pl.lit("subscriber").alias("cap_source"),
        pl.col("cap_set_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").alias("cap_set"),
        pl.when(set_during).then(pl.col("cap_set_at")).alias("counted_since"),
    )
    crossings = (
        spend.join(limits, on=["msisdn", "currency"], how="inner")
        .filter(_crossed())
        .sort("msisdn", "period", "currency", "started_at", "record_id", "spent_minor", "pct")
        .with_columns(
            pl.concat_list("record_id").alias("record_ids"),
            pl.col("spent_minor").alias("amount_minor"),
            pl.lit(True).alias("stop_at_cap"),
            pl.col("pct").alias("threshold_pct"),
            *common,
        )
    )
    out = build_findings(
        crossings,
        FindingKind.BILL_SHOCK,
        key=("policy", "msisdn", "period", "threshold_pct", "cap_set", "currency"),
        detected_at=detected_at,
        evidence=(
            "policy",
            "cap_source",
            "period",
            "threshold_pct",
            "cap",
            "cap_currency",
            "cap_set_at",
            "counted_since",
            "limit_minor",
            "stop_at_cap",
            "started_at",
        ),
        ids=ids,
    )
    cap = pl.DataFrame(
        [
            {"msisdn": m, "currency": cur, "limit_minor": policy.limit_minor(caps[m].cap, Decimal(1), cur, msisdn=m)}
            for m, cur in pairs
        ],
        schema={"msisdn": pl.String(), "currency": pl.String(), "limit_minor": pl.Int64()},
    )
    past = (
        spend.join(cap, on=["msisdn", "currency"], how="inner")
        .filter(pl.col("spent_minor") > pl.col("limit_minor"))
        .with_columns(_over().alias("over_minor"))
    )
    reported = _reported_past(lines, presets, opted_in, tz).with_columns(pl.col("_row").cast(spend.schema["_row"]))
    # of each charge past the cap, the part no stopping preset reports past its own cap already
    left = pl.col("over_minor") > 0
    past = (
        past.join(reported, on="_row", how="left")
        .with_columns(pl.col("reported_minor").fill_null(0).clip(upper_bound=pl.col("over_minor")))
        .with_columns((pl.col("over_minor") - pl.col("reported_minor")).alias("over_minor"))
        .group_by("msisdn", "period", "currency")
        .agg(
            pl.col("record_id")
            .filter(left)
            .sort_by(
                pl.col("started_at").filter(left), pl.col("record_id").filter(left), pl.col("amount_minor").filter(left)
            )
            .alias("record_ids"),
            pl.col("over_minor").sum().alias("amount_minor"),
            pl.col("limit_minor").first(),
            pl.col("started_at").min().alias("first_past_cap_at"),
            pl.col("reported_minor").sum().alias("reported_past_preset_minor"),
            pl.col("cap").first(),
            pl.col("cap_currency").first(),
            pl.col("cap_set_at").first(),
            pl.col("_month_from").first(),
        )
        .with_columns(*common)
        .with_columns(
            pl.when(pl.col("reported_past_preset_minor") > 0)
            .then(pl.col("reported_past_preset_minor"))
            .alias("reported_past_preset_minor")
        )
        .filter(pl.col("amount_minor") > 0)
        .sort("msisdn", "period", "currency")
    )
    out.extend(
        build_findings(
            past,
            FindingKind.USAGE_PAST_CAP,
            key=("policy", "msisdn", "period", "cap_set", "currency"),
            detected_at=detected_at,
            evidence=(
                "policy",
                "cap_source",
                "period",
                "cap",
                "cap_currency",
                "cap_set_at",
                "counted_since",
                "limit_minor",
                "first_past_cap_at",
                "reported_past_preset_minor",
            ),
            ids=ids,
        )
    )
    return out


def _reported_past(
    lines: pl.DataFrame, presets: Iterable[BillShockPolicy], opted_in: Iterable[str], tz: str
) -> pl.DataFrame:
    """For each line (``_row``), the most any stopping preset reports of it past its cap (``reported_minor``)."""
    chose_to_continue = sorted(set(opted_in))
    parts = [
        _preset_past(_preset_spend(lines, p, tz), p, chose_to_continue).select("_row", "over_minor")
        for p in presets
        if p.stop_at_cap
    ]
    if not parts:
        return pl.DataFrame(schema={"_row": pl.UInt32(), "reported_minor": pl.Int64()})
    return pl.concat(parts).group_by("_row").agg(pl.col("over_minor").max().alias("reported_minor"))
