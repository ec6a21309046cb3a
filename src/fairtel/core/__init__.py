"""Money, time, ids, errors and settings: what every other package stands on."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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
from fairtel.core.time import DEMO_TIMEZONE, Period, format_rfc3339, parse_rfc3339, utc_now

if TYPE_CHECKING:
    from fairtel.core.settings import EngineKind, Environment, Settings, load_settings

# the settings' names are imported when first named: their module needs pydantic-settings, which a rating
# worker process (it imports this package for the errors and the time) does without
_SETTINGS = frozenset({"EngineKind", "Environment", "Settings", "load_settings"})


def __getattr__(name: str) -> Any:
    if name not in _SETTINGS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module("fairtel.core.settings"), name)
    globals()[name] = value
    return value


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
