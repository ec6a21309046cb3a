"""Value-added charges: priced at the catalog's offer price, and billable only when a consent gate says so.

Rating does not decide consent. It hands the period's VAS records to a ``VasGate`` and reads back, row for
row, ``billable``, ``verdict`` and ``subscription_id``. Without a gate nothing is billable (verdict
``no_gate``), so a VAS charge can never reach a bill by accident; ``consent_gate`` adapts the consent
package's ``gate_vas`` over a subscription projection (and, given the subscriber register, the lines' state:
no charge is billable on a line after it closed or while it is suspended).

A gate may carry the register's line states as ``lines`` (``consent.line_states``): the gate is what every engine
already hands the kernel (to worker processes, in a Spark closure, kept up to date by online rating), so the
kernel reads from it the suspended lines whose usage it holds (``gate_lines``; ``HoldReason``). ``register_gate``
carries them without a consent ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import Catalog
from fairtel.consent import OfferBook, gate_vas, line_states
from fairtel.core.contracts import SubscriberStatus
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


@dataclass(frozen=True)
class RegisterGate:
    """``no_gate`` (no consent ledger: no VAS charge billable) that still carries the register's line states, so
    that the kernel holds the usage of suspended lines (a Spark job given no consent events, say)."""

    lines: pl.DataFrame | None = None

    def __call__(self, vas: pl.DataFrame) -> pl.DataFrame:
        return no_gate(vas)


def register_gate(lines: pl.DataFrame) -> VasGate:
    """A gate that bills no VAS charge (verdict ``no_gate``) but carries ``lines`` (the register: ``msisdn``,
    ``status``, optional ``activated_at``, ``closed_at``, ``suspended_at``) for the kernel's holds."""
    return RegisterGate(line_states(lines))


def gate_lines(gate: VasGate | None) -> pl.DataFrame | None:
    """The register's line states a gate carries (``ConsentGate.lines``, ``RegisterGate.lines``); None: none."""
    kept = getattr(gate, "lines", None)
    return kept if isinstance(kept, pl.DataFrame) else None


_SINCE_ALWAYS = datetime(1, 1, 1, tzinfo=UTC)


def suspensions(register: pl.DataFrame | None, *, checked: bool = True) -> pl.DataFrame | None:
    """The suspended lines of ``register`` as (``msisdn``, ``_held_from``): usage starting at or after
    ``_held_from`` is held (``HoldReason.LINE_SUSPENDED``). A line whose register does not say since when it is
    suspended (suspended before the register kept the instant) holds all its usage: the safe side for the subscriber.
    None when no line is suspended. ``checked``: ``register`` is already ``consent.line_states`` (a gate's)."""
    if register is None:
        return None
    states = register if checked else line_states(register)
    since = (pl.col("suspended_at").cast(pl.Datetime("us", "UTC")) if "suspended_at" in states.columns
             else pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    held = states.filter(pl.col("status") == SubscriberStatus.SUSPENDED.value).select(
        pl.col("msisdn").cast(pl.String), since.fill_null(_SINCE_ALWAYS).alias("_held_from"))
    return held if held.height else None


def drop_held(usage: pl.DataFrame, register: pl.DataFrame | None) -> pl.DataFrame:
    """``usage`` (usage records) without those rating holds off the bill (``HoldReason.LINE_SUSPENDED``): a record of
    a line ``register`` says is suspended, starting at or after its ``suspended_at`` (any, when it does not say
    since when). For readers that price what subscribers are charged (plan advice): held usage is not charged
    unless someone releases it."""
    held = suspensions(register, checked=False)
    if held is None or usage.height == 0:
        return usage
    start = pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return usage.join(held, on="msisdn", how="left", maintain_order="left").filter(
        pl.col("_held_from").is_null() | (start < pl.col("_held_from"))).drop("_held_from")


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
