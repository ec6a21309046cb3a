"""Bill shock: alerts when a subscriber's monthly spend in a scope crosses thresholds of a cap, and usage
charged past a cap that should have stopped the service.

Presets: ``EU_DATA_ROAMING`` (the EU rule: data roaming capped at EUR 50 a month excluding VAT, alerts at
80 % and at the cap, service stopped at the cap unless the subscriber chose to continue) and ``DOMESTIC``
(alerts on out-of-allowance charges for the demo operator, no stop). Amounts are compared without floats:
the cap is converted once per currency into minor units with Decimal arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, build_findings
from fairtel.core.errors import ConfigError, InvalidInputError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import DEMO_TIMEZONE

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
            self.name, self.cap, self.thresholds, self.kinds, self.roaming_only, self.stop_at_cap, self.vat_rate,
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


def _scope(rated: pl.DataFrame, policy: BillShockPolicy) -> pl.DataFrame:
    cond = pl.col("amount_minor").is_not_null() & (pl.col("amount_minor") != 0)
    if policy.kinds is not None:
        cond &= pl.col("kind").is_in(sorted(policy.kinds))
    if policy.roaming_only:
        cond &= pl.col("roaming_country").is_not_null() & (pl.col("roaming_country") != "")
    return rated.filter(cond)


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
    missing = [c for c in RATED_REQUIRED if c not in rated.columns]
    if missing:
        raise InvalidInputError([Problem("rated", None, c, "column missing") for c in missing], what="rated charges")
    scoped = _scope(rated, policy)
    if scoped.height == 0:
        return []
    chose_to_continue = sorted(set(opted_in))
    currencies = scoped["currency"].unique().drop_nulls().to_list()
    limits = pl.DataFrame(
        [
            {"currency": c, "fraction": str(t), "pct": int(t * 100), "limit_minor": policy.limit_minor(t, c)}
            for c in currencies
            for t in policy.thresholds
        ],
        schema={"currency": pl.String(), "fraction": pl.String(), "pct": pl.Int64(), "limit_minor": pl.Int64()},
    )
    spend = (
        scoped.select(
            "record_id", "msisdn", "currency", "amount_minor", "kind", "roaming_country",
            pl.col("started_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("period"),
            pl.col("started_at"),
        )
        # Every column, so that rows tied on time and record id (several lines of one record, one id from two
        # sources) are summed in the same order whatever the input order: a crossing's amount depends on it.
        .sort("msisdn", "period", "currency", "started_at", "record_id", "amount_minor", "kind", "roaming_country")
        .with_columns(pl.col("amount_minor").cum_sum().over("msisdn", "period", "currency").alias("spent_minor"))
        .with_columns((pl.col("spent_minor") - pl.col("amount_minor")).alias("before_minor"))
    )
    crossings = (
        spend.join(limits, on="currency", how="inner")
        .filter((pl.col("before_minor") < pl.col("limit_minor")) & (pl.col("spent_minor") >= pl.col("limit_minor")))
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
        evidence=("policy", "period", "threshold_pct", "cap", "cap_currency", "limit_minor", "stop_at_cap", "started_at"),
        ids=ids,
    )
    if policy.stop_at_cap:
        cap = limits.filter(pl.col("fraction") == "1")
        if cap.height == 0:
            cap = pl.DataFrame(
                [{"currency": c, "limit_minor": policy.limit_minor(Decimal(1), c)} for c in currencies],
                schema={"currency": pl.String(), "limit_minor": pl.Int64()},
            )
        past = (
            spend.filter(~pl.col("msisdn").is_in(chose_to_continue))
            .join(cap.select("currency", "limit_minor"), on="currency", how="inner")
            .filter(pl.col("spent_minor") > pl.col("limit_minor"))
            .with_columns(
                # The crossing record is charged only up to the cap; the rest is past it.
                (pl.col("spent_minor") - pl.max_horizontal("before_minor", "limit_minor")).alias("over_minor")
            )
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
