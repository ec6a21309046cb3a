"""The engine interface: where the rating and feature kernels run, and what a run reports back.

An engine reads a period of clean usage from the lake, applies the kernels (``fairtel.rating.rate``,
``fairtel.fraud.compute_features``) to whole subscribers at a time and writes the results back to the lake.
It never decides prices or features itself: the kernels are the only implementation.

Inputs that live in the database (catalog, subscribers, the consent gate) are handed in by the caller, so an
engine depends on the lake layout only (``<lake>/<dataset>/period=YYYY-MM/*.parquet``). The gate carries, besides
the consent ledger, the register's line states, the lines' suspensions that ended (line status history) and the
providers' suspensions, so that every engine holds and refuses what the local one does; the Spark job reads them
from files (``_job``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fairtel.core.money import Money
from fairtel.core.time import Period

if TYPE_CHECKING:
    import polars as pl

    from fairtel.catalog import Catalog
    from fairtel.core.settings import Settings
    from fairtel.fraud import FeatureConfig
    from fairtel.rating import VasGate

USAGE = "usage"
RATED = "rated"
UNRATED = "unrated"
# The fraud feature pass writes one dataset per table of ``FraudFeatures``.
FEATURE_DATASETS: dict[str, str] = {"lines": "fraud_lines", "callers": "fraud_callers", "callbacks": "fraud_callbacks"}


class Progress(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass(frozen=True)
class RateSummary:
    """What ``rate_period`` did. ``by_kind``: kind → (records, amount in minor units)."""

    engine: str
    period: str
    records: int
    groups: int
    lines: int
    unrated: int
    currency: str
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    unrated_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def amount_minor(self) -> int:
        return sum(amount for _, amount in self.by_kind.values())

    def to_dict(self) -> dict[str, Any]:
        """The same keys as the local ``fairtel rate --json`` totals, plus ``engine`` and ``seconds``."""
        money = lambda minor: str(Money.from_minor(minor, self.currency).amount)  # noqa: E731
        return {
            "engine": self.engine,
            "period": self.period,
            "records": self.records,
            "batches": self.groups,
            "lines": self.lines,
            "unrated": self.unrated,
            "amount_minor": self.amount_minor,
            "amount": money(self.amount_minor),
            "currency": self.currency,
            "by_kind": {k: {"records": n, "amount": money(a)} for k, (n, a) in sorted(self.by_kind.items())},
            "unrated_by_reason": dict(sorted(self.unrated_by_reason.items())),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class FeatureSummary:
    """What ``features`` did: rows written per feature table (``lines``, ``callers``, ``callbacks``)."""

    engine: str
    period: str
    records: int
    rows: dict[str, int]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "period": self.period, "records": self.records, "rows": dict(self.rows),
                "datasets": dict(FEATURE_DATASETS), "seconds": round(self.seconds, 3)}


class Engine(Protocol):
    """Runs the kernels over one period of the lake under ``settings.lake_dir``."""

    name: str

    def rate_period(
        self,
        settings: Settings,
        period: Period | str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame,
        gate: VasGate | None = None,
        batch_size: int | None = None,
        report: Progress | None = None,
    ) -> RateSummary:
        """Rate every usage record of ``period`` and replace the period's ``rated`` and ``unrated`` datasets.

        ``subscribers``: msisdn, plan_id. ``gate``: the consent gate for VAS records (default: none billable).
        ``batch_size``: records per group of whole subscribers the kernel sees at once.
        """
        ...

    def features(
        self,
        settings: Settings,
        period: Period | str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame | None = None,
        config: FeatureConfig | None = None,
        batch_size: int | None = None,
        report: Progress | None = None,
    ) -> FeatureSummary:
        """Compute the fraud features of ``period`` and replace its ``fraud_*`` datasets.

        ``subscribers``: msisdn, activated_at, and holder_since where a line moved to another customer with its
        activation kept (optional): a line's features count its records, and its age, from the later of the two.
        """
        ...

    def close(self) -> None: ...


def period_key(period: Period | str) -> str:
    return period.key if isinstance(period, Period) else Period.parse(period).key
