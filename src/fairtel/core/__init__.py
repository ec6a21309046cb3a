"""Money, time, ids, errors and settings: what every other package stands on."""

from fairtel.core.errors import (
    CatalogError,
    ConfigError,
    ConflictError,
    CurrencyMismatchError,
    FairtelError,
    InvalidInputError,
    NotAvailableError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from fairtel.core.ids import new_id, stable_id
from fairtel.core.money import Money, Rounding, minor_units
from fairtel.core.settings import EngineKind, Environment, Settings, load_settings
from fairtel.core.time import DEMO_TIMEZONE, Period, format_rfc3339, parse_rfc3339, utc_now

__all__ = [
    "DEMO_TIMEZONE",
    "CatalogError",
    "ConfigError",
    "ConflictError",
    "CurrencyMismatchError",
    "EngineKind",
    "Environment",
    "FairtelError",
    "InvalidInputError",
    "Money",
    "NotAvailableError",
    "NotFoundError",
    "Period",
    "PermissionDeniedError",
    "Problem",
    "Rounding",
    "Settings",
    "format_rfc3339",
    "load_settings",
    "minor_units",
    "new_id",
    "parse_rfc3339",
    "stable_id",
    "utc_now",
]
