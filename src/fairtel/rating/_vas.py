"""Value-added charges: priced at the catalog's offer price, and billable only when a consent gate says so.

Rating does not decide consent. It hands the period's VAS records to a ``VasGate`` and reads back, row for
row, ``billable``, ``verdict`` and ``subscription_id``. Without a gate nothing is billable (verdict
``no_gate``), so a VAS charge can never reach a bill by accident; ``consent_gate`` adapts the consent
package's ``gate_vas`` over a subscription projection (and, given the subscriber register, the lines' state:
no charge is billable on a line after it closed or while it is suspended).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from fairtel.catalog import Catalog
from fairtel.consent import OfferBook, gate_vas, line_states
from fairtel.core.errors import InvalidInputError, Problem

VasGate = Callable[[pl.DataFrame], pl.DataFrame]
"""Takes VAS records (record_id, source, msisdn, offer_id, started_at, amount_minor, currency) and returns a
frame of the same height and order with at least ``billable`` (bool), ``verdict`` (str) and
``subscription_id`` (str, null when none); optionally ``charge_key`` (str), what a billable charge used up
(``consent.charge_key``): rating carries the keys it billed in its counters, so that a charge billed in one
call (one file, online) is a duplicate in the next."""

GATE_OUTPUT = ("billable", "verdict", "subscription_id")
NO_GATE = "no_gate"
NOT_CHECKED = "not_checked"


def no_gate(vas: pl.DataFrame) -> pl.DataFrame:
    """The default: no consent ledger was given, so no VAS charge is billable."""
    return pl.DataFrame(
        {
            "billable": pl.Series([False] * vas.height, dtype=pl.Boolean),
            "verdict": pl.Series([NO_GATE] * vas.height, dtype=pl.String),
            "subscription_id": pl.Series([None] * vas.height, dtype=pl.String),
        }
    )


def price_only_gate(vas: pl.DataFrame) -> pl.DataFrame:
    """For quotes only: the price an offer would cost under a confirmed subscription (nothing is billed)."""
    return pl.DataFrame(
        {
            "billable": pl.Series([True] * vas.height, dtype=pl.Boolean),
            "verdict": pl.Series([NOT_CHECKED] * vas.height, dtype=pl.String),
            "subscription_id": pl.Series([None] * vas.height, dtype=pl.String),
        }
    )


@dataclass(frozen=True)
class ConsentGate:
    """``consent_gate``'s gate: a plain object (not a closure), so that it can be sent to worker processes."""

    subscriptions: pl.DataFrame
    book: OfferBook | pl.DataFrame
    suspended: tuple[str, ...]
    tz: str
    lines: pl.DataFrame | None = None  # ``consent.line_states``: the lines that restrict charges

    def __call__(self, vas: pl.DataFrame) -> pl.DataFrame:
        return gate_vas(vas, self.subscriptions, self.book, suspended=self.suspended, lines=self.lines, tz=self.tz)


def consent_gate(
    subscriptions: pl.DataFrame, catalog: Catalog, *, suspended: Iterable[str] = (),
    lines: pl.DataFrame | None = None,
) -> VasGate:
    """A gate over ``consent.project_subscriptions(...)`` with the catalog's offers and clock. ``lines``: the
    subscriber register (``msisdn``, ``status``, optional ``activated_at``, ``closed_at`` and ``suspended_at``),
    so that a charge on a line after it closed, or while it is suspended, or under consent given before the
    line's activation (by a previous holder of the number), is not billable; only the lines that restrict
    something are kept (the gate may be sent to worker processes). Without it lines are not checked."""
    from fairtel.consent import offer_book

    book = offer_book(catalog.offers, currency=catalog.operator.currency)  # every price each offer has had
    kept = None if lines is None else line_states(lines, subscriptions=subscriptions)
    return ConsentGate(subscriptions, book, tuple(suspended), catalog.operator.timezone, kept)


def apply_gate(gate: VasGate, vas: pl.DataFrame) -> pl.DataFrame:
    """Run ``gate`` and check what it returned: the same rows, with the columns rating needs."""
    out = gate(vas)
    problems = [Problem("gate", None, c, "column missing from the gate's result") for c in GATE_OUTPUT if c not in out.columns]
    if out.height != vas.height:
        problems.append(Problem("gate", None, None, f"returned {out.height} rows for {vas.height} VAS records"))
    if problems:
        raise InvalidInputError(problems, what="VAS gate")
    return out.select(
        pl.col("billable").cast(pl.Boolean).fill_null(False),
        pl.col("verdict").cast(pl.String),
        pl.col("subscription_id").cast(pl.String),
        (pl.col("charge_key").cast(pl.String) if "charge_key" in out.columns else pl.lit(None, dtype=pl.String))
        .alias("charge_key"),
    )
