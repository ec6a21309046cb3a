"""What rating produces: rated lines, records it could not rate, and allowance/cap counters (as schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

RATED_COLUMNS: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "line": pl.Int32(),  # 0, 1, ... within the record: band pieces, then allowance and charged parts
    "msisdn": pl.String(),
    "period": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),  # when this line's usage began (a band piece begins at the boundary)
    "kind": pl.String(),
    "direction": pl.String(),
    "roaming_country": pl.String(),
    "plan_id": pl.String(),
    "rule_id": pl.String(),
    "rate_id": pl.String(),
    "zone": pl.String(),
    "roaming_zone": pl.String(),
    "band": pl.String(),
    "offset": pl.Int64(),  # units of the record before this line's usage (band pieces)
    "quantity": pl.Int64(),  # the usage this line covers, in ``unit``
    "unit": pl.String(),
    "allowance_id": pl.String(),
    "allowance_before": pl.Int64(),  # the allowance's units used in the period before this line
    "allowance_used": pl.Int64(),  # billed units this line drew from it
    "charged_quantity": pl.Int64(),  # billed units priced by the rule (whole increments)
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "capped": pl.Boolean(),  # max cost or a daily cap lowered the amount
    "throttled": pl.Boolean(),  # usage past an unlimited allowance's throttle threshold
    # VAS: the consent gate's verdict. Voice, SMS, data: null, or why the line is held (``HoldReason``): priced, so
    # its amount is known and explained, but billed only once released (docs/billing.md, "Held usage")
    "verdict": pl.String(),
    "subscription_id": pl.String(),  # VAS: the subscription that makes it billable
}

UNRATED_COLUMNS: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "msisdn": pl.String(),
    "period": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "kind": pl.String(),
    "plan_id": pl.String(),
    "reason": pl.String(),
}

STATE_COLUMNS: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "counter": pl.String(),  # an allowance id, "cap:<rule_id>:<YYYY-MM-DD>" for a daily cap, "vas:<charge key>"
    "used": pl.Int64(),  # allowance units, minor units charged under the cap, 1 for a VAS charge billed
}
VAS_COUNTER = "vas:"  # a counter ``vas:<charge key>`` (used 1): that value-added charge was billed this period
HOLDING_TAG = "@holding:"
"""A counter of a line's new holding after an owner change inside the period (过户: the register's ``holder_since``)
is named ``<counter>@holding:<holder_since, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>``: the previous customer's keep the
plain name, so counters carried from before the change never open the new customer's."""


def holding_tag(since: pl.Expr) -> pl.Expr:
    """The suffix of the counters of a holding that began at ``since`` (an aware instant): ``HOLDING_TAG``."""
    return pl.lit(HOLDING_TAG) + since.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")


class UnratedReason(StrEnum):
    """Why a record was left out of the rated lines. Stable codes."""

    UNKNOWN_SUBSCRIBER = "unknown_subscriber"
    UNKNOWN_PLAN = "unknown_plan"
    UNKNOWN_KIND = "unknown_kind"
    MISSING_QUANTITY = "missing_quantity"
    NO_RULE = "no_rule"
    QUANTITY_TOO_LARGE = "quantity_too_large"
    PEER_NOT_A_NUMBER = "peer_not_a_number"  # a call or SMS whose zone matters, to a destination with no digits
    # made abroad in a country no roaming zone lists, and the catalog has no fallback roaming zone: never priced as
    # at home (``Catalog.roaming_zone_of``)
    NO_ROAMING_ZONE = "no_roaming_zone"


class HoldReason(StrEnum):
    """Why usage is rated but held off the bill (a voice, SMS or data line's ``verdict``). Stable codes.

    The register does not record why a line was suspended (fraud, non-payment, the subscriber's own request), so
    every suspension holds: a subscriber is never charged silently for usage made after the line stopped."""

    LINE_SUSPENDED = "line_suspended"  # made at or after the line's suspension (the VAS gate's verdict code too)
    # made at or after a closed line's ``closed_at``, or before the line's ``activated_at``: not the subscriber's to
    # pay (a switch error, the number in someone else's hands); never released, only written off
    LINE_CLOSED = "line_closed"
    BEFORE_ACTIVATION = "before_activation"


class Unit(StrEnum):
    SECOND = "second"
    MESSAGE = "message"
    BYTE = "byte"
    ITEM = "item"  # one value-added charge


def empty(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=columns)


def cap_counter(rule_id: str, day: str) -> str:
    return f"cap:{rule_id}:{day}"


@dataclass(frozen=True)
class RatingResult:
    """``rated``: RATED_COLUMNS; ``unrated``: UNRATED_COLUMNS; ``closing_state``: STATE_COLUMNS, the
    counters after this batch (feed it as ``opening_state`` to rate later usage of the same period), ordered by
    subscriber (by the number's value when every number is plain digits, else as a string) and counter."""

    rated: pl.DataFrame
    unrated: pl.DataFrame
    closing_state: pl.DataFrame

    def total_minor(self) -> int:
        return int(self.rated["amount_minor"].sum() or 0)
