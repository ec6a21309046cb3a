"""Value-added charges: priced at the catalog's offer price, and billable only when a consent gate says so.

Rating does not decide consent. It hands the period's VAS records to a ``VasGate`` and reads back, row for
row, ``billable``, ``verdict`` and ``subscription_id``. Without a gate nothing is billable (verdict
``no_gate``), so a VAS charge can never reach a bill by accident; ``consent_gate`` adapts the consent
package's ``gate_vas`` over a subscription projection (and, given the subscriber register, the lines' state:
no charge is billable on a line after it closed or while it is suspended, nor under consent its current customer
did not give: before its activation, or before an owner change, ``holder_since``, for a charge made after it).

A gate may carry the register's line states as ``lines`` (``consent.line_states``): the gate is what every engine
already hands the kernel (to worker processes, in a Spark closure, kept up to date by online rating), so the
kernel reads from it the lines whose usage it holds (``gate_lines``, ``line_holds``): made while the line was
suspended (``HoldReason``), after it closed (``line_closed``) or before it was activated (``before_activation``).
``register_gate`` carries them without a consent ledger. A register may list, too, each line's suspensions that
ended (``SUSPENSIONS``: from the line status history, ``store.suspension_windows``): the gate carries them apart
(``ConsentGate.windows``) and the kernel holds the usage dated inside one ``line_suspended`` even when the line is
back in service when it is rated. A register without them (a Spark job's file) holds as the current states say.

A consent gate also carries the providers whose billing rights are suspended (``store.merchant_windows``, handed in
by ``with_suspended``): their charges dated while suspended are refused (verdict ``merchant_suspended``). Given when
the charges arrived (``with_arrivals``: mediation's first ingest of the file each came in), it refuses too a charge that
arrived while its provider was suspended though dated before (``merchant_suspended_late``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import polars as pl

from fairtel.catalog import Catalog
from fairtel.consent import OfferBook, gate_vas, line_states
from fairtel.consent._gate import SuspendedProviders, SuspensionWindows, suspension_windows
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.rating._lines import HoldReason

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
    # the providers suspended: ids (every charge refused) or provider → windows (``consent.gate_vas``)
    suspended: tuple[str, ...] | Mapping[str, SuspensionWindows]
    tz: str
    lines: pl.DataFrame | None = None  # ``consent.line_states``: the lines that restrict charges
    windows: pl.DataFrame | None = None  # ``suspension_frame``: the lines' suspensions that ended
    # ``ARRIVALS``: when charges of suspended providers arrived (``with_arrivals``); None: not checked
    arrivals: pl.DataFrame | None = None

    def __call__(self, vas: pl.DataFrame) -> pl.DataFrame:
        out = gate_vas(vas, self.subscriptions, self.book, suspended=self.suspended, lines=self.lines, tz=self.tz)
        if self.arrivals is None or out.height == 0:
            return out
        late = arrived_late(out, self.arrivals, self.suspended)
        if not late.any():
            return out
        # gated again without them, so that the month they would have used up is another charge's to bill
        again = gate_vas(vas.filter(~late), self.subscriptions, self.book, suspended=self.suspended, lines=self.lines,
                         tz=self.tz)
        refused = out.filter(late).with_columns(
            pl.lit(MERCHANT_SUSPENDED_LATE).alias("verdict"), pl.lit(False).alias("billable"),
            *(pl.lit(None, dtype=out.schema[c]).alias(c) for c in ("charge_key", "duplicate_of") if c in out.columns))
        row = pl.int_range(0, out.height, dtype=pl.UInt32).alias("_r")
        rows = out.select(row)["_r"]
        return (pl.concat([again.with_columns(rows.filter(~late)), refused.with_columns(rows.filter(late))],
                          how="vertical_relaxed").sort("_r").drop("_r"))


def consent_gate(
    subscriptions: pl.DataFrame, catalog: Catalog, *, suspended: SuspendedProviders = (),
    lines: pl.DataFrame | None = None,
) -> VasGate:
    """A gate over ``consent.project_subscriptions(...)`` with the catalog's offers and clock. ``lines``: the
    subscriber register (``msisdn``, ``status``, optional ``activated_at``, ``closed_at``, ``suspended_at`` and
    ``holder_since``), so that a charge on a line after it closed, or while it is suspended, or under consent given
    before the line's activation (by a previous holder of the number), or made after an owner change under consent
    given before it (by the previous customer: ``previous_holder``), is not billable; only the lines that restrict
    something are kept (the gate may be sent to worker processes). Without it lines are not checked. A ``lines``
    column ``SUSPENSIONS`` (the suspensions that ended) is carried apart, for the kernel's holds (``gate_lines``).
    ``suspended``: the providers whose billing rights are suspended (``consent.gate_vas``), e.g.
    ``store.merchant_windows``. The gate's ``subscriptions`` carry the register's ``holder_since`` of their line
    (those it keeps), so that counters recovered from rated lines (``rating.state_from_rated``, given the gate's
    subscriptions) key the charges as the gate does (``consent.subscription_coverage``)."""
    from fairtel.consent import offer_book

    book = offer_book(catalog.offers, currency=catalog.operator.currency)  # every price each offer has had
    kept = None if lines is None else line_states(lines, subscriptions=subscriptions)
    if kept is not None:
        subscriptions = with_holdings(subscriptions, kept)
    held = suspension_windows(suspended) if isinstance(suspended, Mapping) else tuple(suspended)
    windows = None if lines is None else suspension_frame(lines)
    return ConsentGate(subscriptions, book, held, catalog.operator.timezone, kept, windows)


def with_holdings(subscriptions: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """``subscriptions`` with ``holder_since``: the owner change of each one's line as ``lines`` (``consent.line_states``)
    says it (null: none), replacing one they carry."""
    changed = lines.filter(pl.col("holder_since").is_not_null()).select(
        "msisdn", pl.col("holder_since").cast(pl.Datetime("us", "UTC")))
    base = subscriptions.drop("holder_since", strict=False)
    if changed.height == 0:
        return base.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("holder_since"))
    return base.with_columns(pl.col("msisdn").cast(pl.String)).join(changed, on="msisdn", how="left",
                                                                      maintain_order="left")


MERCHANT_SUSPENDED_LATE = "merchant_suspended_late"
"""Verdict: a charge of a provider whose billing rights were suspended when it arrived (mediation first ingested it),
dated before the suspension. A provider removed could otherwise go on charging by back-dating its charges to just
before its removal: such a charge is refused, never billed without review (``fairtel assure`` raises it as a
``merchant_suspended_charge``, its evidence naming when it arrived)."""
ARRIVALS = ("source", "record_id", "arrived_at")
"""The columns of a gate's ``arrivals``: a charge's (source, record id) and when it arrived (UTC)."""


def arrived_late(gated: pl.DataFrame, arrivals: pl.DataFrame, suspended: SuspendedProviders) -> pl.Series:
    """Which rows of ``gated`` (``consent.gate_vas``'s result: ``provider_id``, ``verdict``, ``started_at``) passed the
    consent checks (``consented``, or ``duplicate_charge`` of another) though they arrived (``arrivals``, ``ARRIVALS``)
    within a suspension of their provider (``suspended``'s windows with a start), dated before it began."""
    windows = [(p, a, b) for p, ws in suspension_windows(suspended).items() for a, b in ws if a is not None]
    if not windows or gated.height == 0 or arrivals.height == 0:
        return pl.Series("late", [False] * gated.height, dtype=pl.Boolean)
    utc = pl.Datetime("us", "UTC")
    w = pl.DataFrame(windows, schema={"provider_id": pl.String(), "_from": utc, "_until": utc}, orient="row")
    src = pl.col("source").cast(pl.String).fill_null("") if "source" in gated.columns else pl.lit("")
    keyed = gated.with_row_index("_r").filter(pl.col("verdict").is_in(["consented", "duplicate_charge"])).select(
        "_r", pl.col("provider_id").cast(pl.String), src.alias("source"), pl.col("record_id").cast(pl.String),
        pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_t"))
    came = arrivals.select(pl.col("source").cast(pl.String).fill_null(""), pl.col("record_id").cast(pl.String),
                           pl.col("arrived_at").cast(utc)).group_by("source", "record_id").agg(pl.col("arrived_at").min())
    hit = (keyed.join(came, on=["source", "record_id"]).join(w, on="provider_id")
           # an arrival is recorded to the second (mediation's ``ingested_at``): one in the suspension's second is late
           .filter((pl.col("_t") < pl.col("_from")) & (pl.col("arrived_at") >= pl.col("_from").dt.truncate("1s"))
                   & (pl.col("_until").is_null() | (pl.col("arrived_at") < pl.col("_until")))))
    return pl.Series("late", range(gated.height), dtype=pl.Int64).is_in(hit["_r"].cast(pl.Int64).implode())


def with_arrivals(gate: VasGate | None, arrivals: pl.DataFrame | None, suspended: SuspendedProviders | None = None
                  ) -> VasGate | None:
    """``gate`` (a ``ConsentGate``) refusing also the charges that arrived while their provider was suspended, dated
    before it (``MERCHANT_SUSPENDED_LATE``): ``arrivals`` (``ARRIVALS``) are added to those it carries; ``suspended``
    (``store.merchant_windows``), when given, replaces its providers' suspensions (a watch taking a suspension made
    since it began). Any other gate is returned as it is."""
    if not isinstance(gate, ConsentGate):
        return gate
    if suspended is not None:
        gate = replace(gate, suspended=suspension_windows(suspended))
    if arrivals is None or arrivals.height == 0:
        return gate
    fresh = arrivals.select(pl.col("source").cast(pl.String).fill_null(""), pl.col("record_id").cast(pl.String),
                            pl.col("arrived_at").cast(pl.Datetime("us", "UTC")))
    held = fresh if gate.arrivals is None else pl.concat([gate.arrivals.select(fresh.columns), fresh])
    return replace(gate, arrivals=held.unique(["source", "record_id"], keep="first", maintain_order=True))


def with_suspended(gate: VasGate | None, suspended: SuspendedProviders) -> VasGate | None:
    """``gate`` refusing, besides what it refuses already, the charges of the providers ``suspended`` (e.g.
    ``store.merchant_windows``: dated while each was suspended). A gate that bills no VAS charge (``no_gate``,
    ``register_gate``) or one of another kind is returned as it is: it refuses them already, or is its maker's to
    build with them."""
    if not isinstance(gate, ConsentGate):
        return gate
    merged = dict(suspension_windows(gate.suspended))
    for provider, windows in suspension_windows(suspended).items():
        merged[provider] = (*merged.get(provider, ()), *windows)
    if not merged:
        return gate
    return replace(gate, suspended=merged)


@dataclass(frozen=True)
class RegisterGate:
    """``no_gate`` (no consent ledger: no VAS charge billable) that still carries the register's line states, so
    that the kernel holds the usage of suspended lines (a Spark job given no consent events, say)."""

    lines: pl.DataFrame | None = None
    windows: pl.DataFrame | None = None  # ``suspension_frame``: the lines' suspensions that ended

    def __call__(self, vas: pl.DataFrame) -> pl.DataFrame:
        return no_gate(vas)


def register_gate(lines: pl.DataFrame) -> VasGate:
    """A gate that bills no VAS charge (verdict ``no_gate``) but carries ``lines`` (the register: ``msisdn``,
    ``status``, optional ``activated_at``, ``closed_at``, ``suspended_at``, ``SUSPENSIONS``) for the kernel's
    holds."""
    return RegisterGate(line_states(lines), suspension_frame(lines))


SUSPENSIONS = "suspensions"
"""The optional register column of a line's suspensions that ended: a list of structs (``suspended_from``,
``suspended_until``), the line suspended from the one until the other (``store.suspension_windows``); null or empty:
none. Usage starting inside one is held ``line_suspended`` (``line_holds``), whatever the line's status now."""
_WINDOW = pl.Struct({"suspended_from": pl.Datetime("us", "UTC"), "suspended_until": pl.Datetime("us", "UTC")})


def suspension_frame(lines: pl.DataFrame) -> pl.DataFrame | None:
    """The lines of ``lines`` with a suspension that ended, as (``msisdn``, ``SUSPENSIONS``), one row per line;
    None when ``lines`` has no such column or no line has one."""
    if SUSPENSIONS not in lines.columns:
        return None
    kept = lines.select(pl.col("msisdn").cast(pl.String), pl.col(SUSPENSIONS).cast(pl.List(_WINDOW))).filter(
        pl.col(SUSPENSIONS).list.len().fill_null(0) > 0)
    return kept if kept.height else None


def _bounds(windows: pl.DataFrame) -> pl.DataFrame:
    """(``msisdn``, ``_held_windows``): each line's suspensions that ended, overlapping ones merged, as the sorted
    list of their bounds in microseconds since the epoch [from, until, from, until, ...]: an instant is inside one
    when an odd number of bounds are at or before it (``hold_reason``)."""
    start, end = pl.col("suspended_from"), pl.col("suspended_until")
    reach = end.cum_max().shift(1).over("msisdn")
    return (
        windows.select("msisdn", pl.col(SUSPENSIONS)).explode(SUSPENSIONS).unnest(SUSPENSIONS)
        .filter(start.is_not_null() & end.is_not_null() & (end > start)).sort("msisdn", "suspended_from")
        .with_columns(reach.alias("_reach"))
        .with_columns((pl.col("_reach").is_null() | (start > pl.col("_reach"))).cum_sum().alias("_merged"))
        .group_by("msisdn", "_merged", maintain_order=True).agg(start.min(), end.max())
        .group_by("msisdn", maintain_order=True)
        .agg(pl.concat_list(start.dt.epoch("us"), end.dt.epoch("us")).explode().alias("_held_windows"))
    )


def with_activations(gate: VasGate | None, lines: pl.DataFrame, *, since: datetime) -> VasGate | None:
    """``gate`` (``ConsentGate``, ``RegisterGate``) carrying also the active lines of ``lines`` (the register) activated
    after ``since`` (a period's start), so that the kernel holds their usage made before the activation
    (``before_activation``): a consent gate keeps only the active lines that restrict a charge (``consent.line_states``),
    and a line activated before a period began has no usage of it before its activation. Any other gate (or a line
    listed already) is left as it is."""
    if gate is None or not isinstance(gate, (ConsentGate, RegisterGate)):
        return gate
    kept = gate.lines
    if "activated_at" not in lines.columns:
        return gate
    if not isinstance(lines.schema["activated_at"], pl.Datetime):  # text instants: read as the gate reads them
        lines = line_states(lines)
    activated = _instant(lines, "activated_at")
    after = pl.lit(since.astimezone(UTC), dtype=pl.Datetime("us", "UTC"))  # one zone on both sides
    recent = lines.filter((pl.col("status") == SubscriberStatus.ACTIVE.value) & (activated > after).fill_null(False))
    if kept is not None:
        recent = recent.filter(~pl.col("msisdn").cast(pl.String).is_in(kept["msisdn"].implode()))
    if recent.height == 0:
        return gate
    fresh = line_states(recent)
    merged = fresh if kept is None else pl.concat([kept, fresh.select(kept.columns)])
    return replace(gate, lines=merged)


def gate_lines(gate: VasGate | None) -> pl.DataFrame | None:
    """The register's line states a gate carries (``ConsentGate.lines``, ``RegisterGate.lines``), with the lines'
    suspensions that ended (``SUSPENSIONS``, from ``windows``) when it carries some: a line listed for them alone
    is ``active`` (a line back in service); None: none."""
    kept = getattr(gate, "lines", None)
    kept = kept if isinstance(kept, pl.DataFrame) else None
    windows = getattr(gate, "windows", None)
    if not isinstance(windows, pl.DataFrame) or windows.height == 0:
        return kept
    stamp = pl.Datetime("us", "UTC")
    base = kept if kept is not None else pl.DataFrame(schema={"msisdn": pl.String(), "status": pl.String(),
                                                              "activated_at": stamp, "closed_at": stamp,
                                                              "suspended_at": stamp})
    alone = windows.filter(~pl.col("msisdn").is_in(base["msisdn"].implode())).select(
        "msisdn", *(pl.lit(SubscriberStatus.ACTIVE.value if c == "status" else None, dtype=base.schema[c]).alias(c)
                    for c in base.columns if c != "msisdn"))
    return pl.concat([base, alone.select(base.columns)]).join(windows, on="msisdn", how="left", maintain_order="left")


_SINCE_ALWAYS = datetime(1, 1, 1, tzinfo=UTC)


LINE_CLOSED = HoldReason.LINE_CLOSED.value
"""Hold reason: usage made at or after the line's ``closed_at`` (any, when a closed line's register does not say
when it closed, as the consent gate reads it). Not the subscriber's to pay: a switch error or a recycled number used
by someone else. Never released (``bill release`` refuses it); only written off."""
BEFORE_ACTIVATION = HoldReason.BEFORE_ACTIVATION.value
"""Hold reason: usage made before the line's ``activated_at`` (the number's previous holder, or misrouted usage).
Never released, only written off."""
USAGE_HOLDS: tuple[str, ...] = tuple(r.value for r in HoldReason)
"""Every code a voice, SMS or data line's ``verdict`` holds it off the bill with."""
NOT_RELEASABLE: tuple[str, ...] = (LINE_CLOSED, BEFORE_ACTIVATION)
"""Hold reasons of usage made while the line was not the subscriber's: written off, never released."""


def _instant(states: pl.DataFrame, column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Datetime("us", "UTC")) if column in states.columns
            else pl.lit(None, dtype=pl.Datetime("us", "UTC")))


def line_holds(register: pl.DataFrame | None, *, checked: bool = True) -> pl.DataFrame | None:
    """The lines of ``register`` whose usage rating may hold, as (``msisdn``, ``_active_from``, ``_closed_from``,
    ``_held_from``, ``_held_windows``): usage starting before ``_active_from`` (the line's ``activated_at``) is held
    ``before_activation``, at or after ``_closed_from`` (a closed line's ``closed_at``; since always when the
    register does not say when it closed, as the consent gate reads it) ``line_closed``, at or after ``_held_from``
    (a suspended line's ``suspended_at``, since always when unknown) or inside one of ``_held_windows`` (the line's
    suspensions that ended, the register's ``SUSPENSIONS`` column: none without it) ``line_suspended``
    (``hold_reason``). None when no line restricts anything. ``checked``: ``register`` is already
    ``consent.line_states`` (a gate's, ``gate_lines``), with perhaps ``SUSPENSIONS``."""
    if register is None:
        return None
    windows = suspension_frame(register)
    states = register if checked else line_states(register)
    status = pl.col("status")
    holds = states.select(
        pl.col("msisdn").cast(pl.String),
        _instant(states, "activated_at").alias("_active_from"),
        pl.when(status == SubscriberStatus.CLOSED.value)
        .then(_instant(states, "closed_at").fill_null(_SINCE_ALWAYS)).alias("_closed_from"),
        pl.when(status == SubscriberStatus.SUSPENDED.value)
        .then(_instant(states, "suspended_at").fill_null(_SINCE_ALWAYS)).alias("_held_from"),
    )
    if windows is None:
        holds = holds.with_columns(pl.lit(None, dtype=pl.List(pl.Int64)).alias("_held_windows"))
    else:  # a line back in service is no longer among the states (``consent.line_states`` keeps those restricting)
        holds = holds.join(_bounds(windows), on="msisdn", how="full", coalesce=True, maintain_order="left")
    holds = holds.filter(pl.any_horizontal(pl.col(*HOLD_WINDOW).is_not_null()))
    return holds if holds.height else None


HOLD_WINDOW = ("_active_from", "_closed_from", "_held_from", "_held_windows")  # the columns ``line_holds`` adds


def hold_reason(start: pl.Expr) -> pl.Expr:
    """Why a record starting at ``start`` is held, over ``line_holds``'s columns (null: not held). A record
    before the line's activation or after its closing is not the subscriber's; that comes before a suspension. A
    record inside a suspension that ended (an odd number of the line's ``_held_windows`` bounds at or before its
    start) is held as one made while the line is suspended."""
    inside = (pl.col("_held_windows") - start.dt.epoch("us")).list.eval(pl.element() <= 0).list.sum() % 2 == 1
    return (
        pl.when(start < pl.col("_active_from")).then(pl.lit(BEFORE_ACTIVATION))
        .when(start >= pl.col("_closed_from")).then(pl.lit(LINE_CLOSED))
        .when(start >= pl.col("_held_from")).then(pl.lit(HoldReason.LINE_SUSPENDED.value))
        .when(inside).then(pl.lit(HoldReason.LINE_SUSPENDED.value))
    )


def suspensions(register: pl.DataFrame | None, *, checked: bool = True) -> pl.DataFrame | None:
    """The suspended lines of ``register`` as (``msisdn``, ``_held_from``): usage starting at or after
    ``_held_from`` is held (``HoldReason.LINE_SUSPENDED``). A line whose register does not say since when it is
    suspended (suspended before the register kept the instant) holds all its usage: the safe side for the subscriber.
    None when no line is suspended. ``checked``: ``register`` is already ``consent.line_states`` (a gate's).
    ``line_holds`` has these and the closed and not yet active lines too."""
    holds = line_holds(register, checked=checked)
    if holds is None:
        return None
    held = holds.filter(pl.col("_held_from").is_not_null()).select("msisdn", "_held_from")
    return held if held.height else None


def drop_held(usage: pl.DataFrame, register: pl.DataFrame | None) -> pl.DataFrame:
    """``usage`` (usage records) without those rating holds off the bill (``line_holds``, ``hold_reason``): a record
    of a line ``register`` says is suspended, starting at or after its ``suspended_at`` (any, when it does not say
    since when), one made after the line closed or before it was activated. For readers that price what subscribers
    are charged (plan advice): held usage is not charged unless someone releases it."""
    holds = line_holds(register, checked=False)
    if holds is None or usage.height == 0:
        return usage
    start = pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return usage.join(holds, on="msisdn", how="left", maintain_order="left").filter(
        hold_reason(start).is_null()).drop(*HOLD_WINDOW)


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
