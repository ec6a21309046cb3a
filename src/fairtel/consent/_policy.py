"""The rules of the ledger an operator may tune: confirmation window and retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fairtel.core.errors import ConfigError

# Regulators ask operators to keep order and confirmation records for at least five months.
REGULATORY_MIN_RETENTION_MONTHS = 5


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """``confirm_window``: how long after the order the subscriber's second confirmation is accepted (the
    edge itself is inside). ``retention_months``: how long after a subscription ends its events are kept
    before they may be archived; never below the regulators' five months."""

    confirm_window: timedelta = timedelta(hours=24)
    retention_months: int = 24

    def __post_init__(self) -> None:
        if self.confirm_window <= timedelta(0):
            raise ConfigError("confirm_window must be positive")
        if self.retention_months < REGULATORY_MIN_RETENTION_MONTHS:
            raise ConfigError(
                f"retention_months must be at least {REGULATORY_MIN_RETENTION_MONTHS} (regulatory minimum), "
                f"got {self.retention_months}"
            )


DEFAULT_POLICY = ConsentPolicy()
