"""The consent gate: a value-added charge is billable only under a confirmed subscription that covers its
time, at the catalog price the subscriber last confirmed (or a lower one), once per number, offer and billing
month for monthly offers (whatever the number of subscriptions in the month: 当月退订后再次订购同一业务，当月不重复
收取月功能费), from a provider not suspended, and (given the subscriber register) on a line in service whose
holder gave the consent: neither a previous holder of the number (consent given before the line's activation) nor
the previous customer of a line that changed owner with its activation kept (过户: consent given before the line's
``holder_since`` consents no charge made from then on).

Pure function over frames: rating calls it with the period's VAS records; assurance reads its verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import polars as pl

from fairtel.consent._offer import OfferBook, offers_frame
from fairtel.consent._projection import ConfirmationStatus
from fairtel.core.contracts import SubscriberStatus
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.time import DEMO_TIMEZONE


class Verdict(StrEnum):
    """Why a VAS charge is or is not billable. Stable codes: stored with rated lines and findings."""

    CONSENTED = "consented"
    NO_SUBSCRIPTION = "no_subscription"
    NOT_CONFIRMED = "not_confirmed"
    AFTER_CANCELLATION = "after_cancellation"
    PRICE_MISMATCH = "price_mismatch"
    PRICE_RAISED = "price_raised"  # the price rose after the subscriber confirmed: a new confirmation is needed
    DUPLICATE_CHARGE = "duplicate_charge"
    UNKNOWN_OFFER = "unknown_offer"
    MERCHANT_SUSPENDED = "merchant_suspended"
    LINE_CLOSED = "line_closed"  # the subscriber's line was closed when charged (or closed at a date not known)
    LINE_SUSPENDED = "line_suspended"  # the line was suspended when charged
    # consent given before the line's activation: by a previous holder of the number, not by this subscriber
    BEFORE_ACTIVATION = "before_activation"
    # consent given before an owner change (the register's ``holder_since``) by the line's previous customer: it
    # consents no charge made from the change on, when the line is the current customer's
    PREVIOUS_HOLDER = "previous_holder"


SuspensionWindows = Sequence[tuple[datetime | None, datetime | None]]
SuspendedProviders = Iterable[str] | Mapping[str, datetime | None] | Mapping[str, SuspensionWindows]
"""The providers whose billing rights are suspended, as ``gate_vas`` takes them: provider ids (every charge of
theirs refused, whenever dated: one assurance run's ``--suspend``), or a mapping provider → the instant it is
suspended since (its charges dated at or after it refused; None: every charge), or provider → its windows
``(since, until)`` (``store.merchant_windows``: charges dated at or after ``since`` and before ``until`` refused; a
None ``since``: from the start, a None ``until``: still suspended)."""


def suspension_windows(suspended: SuspendedProviders) -> dict[str, tuple[tuple[datetime | None, datetime | None], ...]]:
    """``suspended`` in one form: provider → its windows ``(since, until)`` (None: open on that side), every
    instant aware UTC. A provider given twice (the forms merged by the caller) keeps every window."""
    out: dict[str, list[tuple[datetime | None, datetime | None]]] = {}

    def instant(value: object, field: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidInputError([Problem("suspended", None, field, f"must be an aware instant or None, got {value!r}")],
                                    what="suspended providers")
        return value.astimezone(UTC)

    if isinstance(suspended, Mapping):
        for provider, value in suspended.items():
            windows = out.setdefault(str(provider), [])
            if value is None or isinstance(value, datetime):
                windows.append((instant(value, f"{provider}.since"), None))
            else:
                windows.extend((instant(a, f"{provider}.since"), instant(b, f"{provider}.until")) for a, b in value)
    else:
        for provider in suspended:
            out.setdefault(str(provider), []).append((None, None))
    return {p: tuple(w) for p, w in out.items()}


def _windows_frame(suspended: SuspendedProviders) -> pl.DataFrame:
    rows = [(p, a, b) for p, windows in suspension_windows(suspended).items() for a, b in windows]
    return pl.DataFrame(rows, schema={"provider_id": pl.String(), "_s_from": _INSTANT, "_s_until": _INSTANT}, orient="row")


GATE_REQUIRED = ("record_id", "msisdn", "offer_id", "started_at", "amount_minor", "currency")
GATE_COLUMNS = (
    "subscription_id", "verdict", "billable", "provider_id", "price_minor", "offer_currency", "offer_period",
    "period", "duplicate_of", "charge_key",
)


def charge_key(subscription_id: pl.Expr, offer_period: pl.Expr, period: pl.Expr, started_at: pl.Expr,
               amount_minor: pl.Expr) -> pl.Expr:
    """What a subscription may be charged for once: the billing period (``YYYY-MM``) of a monthly offer, the
    instant and amount of a use otherwise (an identical use sent again is the same use). The gate passes the
    coverage of the charge's subscription (``subscription_coverage``): every subscription of one number to one
    offer within a billing month has the same one, so a monthly fee is charged once a month whatever the number
    of subscriptions."""
    return (
        pl.when(offer_period == "monthly")
        .then(pl.concat_str(subscription_id, pl.lit("|"), period))
        .otherwise(pl.concat_str(subscription_id, pl.lit("|"),
                                 started_at.dt.convert_time_zone("UTC").dt.epoch("us").cast(pl.String),
                                 pl.lit("|"), amount_minor.cast(pl.String)))
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)
_LINE_STATUSES = tuple(s.value for s in SubscriberStatus)
_INSTANT = pl.Datetime("us", "UTC")
# Longer than any billing month in any time zone (31 days, and an hour when the clocks go back): two instants at
# least this far apart are in different months wherever the month is counted.
_MONTH_GAP = timedelta(days=32)


def _check_columns(frame: pl.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem(what, None, c, "column missing") for c in missing], what=what)


def _utc(frame: pl.DataFrame, column: str, what: str) -> pl.Expr:
    """An optional instant column as UTC microseconds (null when the frame has no such column); a naive one is
    read as the UTC wall clock, as the store keeps it."""
    dtype = frame.schema.get(column)
    if dtype is None:
        return pl.lit(None, dtype=_INSTANT).alias(column)
    if dtype == pl.Null:
        return pl.col(column).cast(_INSTANT)
    if not isinstance(dtype, pl.Datetime):
        raise InvalidInputError([Problem(what, None, column, f"must be a timestamp, got {dtype}")], what=what)
    if dtype.time_zone is None:
        return pl.col(column).dt.cast_time_unit("us").dt.replace_time_zone("UTC")
    return pl.col(column).dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def line_states(lines: pl.DataFrame, *, subscriptions: pl.DataFrame | None = None) -> pl.DataFrame:
    """The subscriber register as the gate reads it: ``msisdn``, ``status`` (active, suspended, closed) and the
    optional ``activated_at``, ``closed_at``, ``suspended_at`` and ``holder_since`` (when the line's current
    customer began to hold it, a line moved to them with its activation kept: 过户); one row per number, every
    one of these columns present (null when the register has none). Every problem is reported at once.

    Only the lines that restrict something are kept, so that a register of millions stays small: those not
    active, and active ones with an activation instant or an owner change; given ``subscriptions``, only those
    active lines activated, or moved to their current customer, after one of their subscriptions was confirmed (a
    number that passed to a new holder, a line that changed owner)."""
    _check_columns(lines, ("msisdn", "status"), "lines")
    frame = lines.select(
        pl.col("msisdn").cast(pl.String),
        pl.col("status").cast(pl.String),
        *(_utc(lines, c, "lines").alias(c) for c in ("activated_at", "closed_at", "suspended_at", "holder_since")),
    )
    problems = [
        Problem("lines", None, "status", f"{r['msisdn']}: {r['status']!r} is not one of {', '.join(_LINE_STATUSES)}")
        for r in frame.filter(pl.col("status").is_null() | ~pl.col("status").is_in(_LINE_STATUSES)).head(20).iter_rows(named=True)
    ]
    problems += [
        Problem("lines", None, "msisdn", f"{m}: listed more than once")
        for m in frame.filter(pl.col("msisdn").is_duplicated())["msisdn"].unique().sort().head(20)
    ]
    if problems:
        raise InvalidInputError(problems, what="lines")
    active = pl.col("status") == SubscriberStatus.ACTIVE.value
    if subscriptions is not None:
        earliest = subscriptions.filter(pl.col("confirmed_at").is_not_null()).group_by(pl.col("msisdn").cast(pl.String)).agg(
            pl.col("confirmed_at").min().dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_first"))
        frame = frame.join(earliest, on="msisdn", how="left").filter(
            ~active | (pl.col("activated_at") > pl.col("_first")).fill_null(False)
            | (pl.col("holder_since") > pl.col("_first")).fill_null(False)).drop("_first")
        return frame
    return frame.filter(~active | pl.col("activated_at").is_not_null() | pl.col("holder_since").is_not_null())


def _episodes(subs: pl.DataFrame) -> pl.DataFrame:
    """subscription_id → ``_episode``: the first (earliest confirmed) subscription of the coverage of its
    subscriber and offer that it belongs to. A validly confirmed subscription starting less than ``_MONTH_GAP``
    after the previous ones of its number and offer ended (or while one still runs) continues their coverage, so
    any subscriptions with charges in one billing month share a coverage, whatever the operator's time zone: a
    monthly offer is charged once a month per coverage, whichever of them covers each charge, and a subscriber
    who cancels and subscribes again within the month is not charged that month again (当月退订后再次订购同一业务，
    当月不重复收取月功能费). Charges of one coverage in different months keep their own keys (the month is in
    the key); a gap of a whole month or more starts a new coverage. With ``_holder`` (the line's ``holder_since``,
    an owner change), the subscriptions confirmed from it on are the current customer's and never continue a
    coverage of the previous customer's: what the previous customer was charged in the month of the change does
    not make the current customer's own subscription a duplicate."""
    era = ((_began(subs) >= pl.col("_holder")).fill_null(False) if "_holder" in subs.columns
           else pl.lit(False)).alias("_era")
    valid = subs.filter(pl.col("_from").is_not_null()).with_columns(era).sort("msisdn", "offer_id", "_era", "_from",
                                                                              "subscription_id")
    over = ("msisdn", "offer_id", "_era")
    return (
        valid.with_columns(pl.col("_until").cum_max().shift(1).over(over).alias("_reach"))
        .with_columns((pl.col("_reach").is_null() | (pl.col("_from") >= pl.col("_reach") + _MONTH_GAP))
                      .cum_sum().over(over).alias("_n"))
        .with_columns(pl.col("subscription_id").first().over(*over, "_n").alias("_episode"))
        .select("subscription_id", "_episode")
        .unique("subscription_id", keep="first", maintain_order=True)
    )


def subscription_coverage(subscriptions: pl.DataFrame, *, lines: pl.DataFrame | None = None) -> pl.DataFrame:
    """``subscription_id`` → ``coverage_id``: the subscription whose id names the charge key of every charge made
    under it (the first of its coverage, see ``_episodes``: every subscription of a number to an offer with
    charges in one billing month has the same, but the current customer's of a line that changed owner never
    share one with the previous customer's); a subscription never validly confirmed maps to itself. Lets
    counters recovered from rated lines (which name the subscription that covered each charge) use the keys the
    gate uses. Needs no time zone: coverages are cut only at gaps no billing month fits in, and at owner changes.
    The owner changes are the ``holder_since`` of ``lines`` (the register, as the gate is given it), else a
    ``holder_since`` column of ``subscriptions`` (``rating.consent_gate`` puts the register's on the
    subscriptions its gate carries, so that a caller holding only the gate's subscriptions keys as it does)."""
    _check_columns(subscriptions, ("subscription_id", "msisdn", "offer_id", "confirmed_at", "ended_at", "confirmation"), "subscriptions")
    subs = subscriptions.select(
        pl.col("subscription_id").cast(pl.String), pl.col("msisdn").cast(pl.String), pl.col("offer_id").cast(pl.String),
        pl.when(pl.col("confirmation") == ConfirmationStatus.VALID.value).then(pl.col("confirmed_at")).alias("_from"),
        pl.col("ended_at").fill_null(_FAR).alias("_until"),
        _holding(subscriptions, lines),
        *(["ordered_at"] if "ordered_at" in subscriptions.columns else []),
    )
    return subs.select("subscription_id").join(_episodes(subs), on="subscription_id", how="left").select(
        "subscription_id", pl.coalesce("_episode", "subscription_id").alias("coverage_id"))


def _began(subs: pl.DataFrame) -> pl.Expr:
    """When a subscription began, as its holder is told apart: its order (its first event), else its confirmation.
    One ordered by a line's previous customer and confirmed after the owner change is still theirs: the current
    customer's self-service does not list it either (``api._subscriptions``), so they could not cancel it."""
    return (pl.min_horizontal(pl.col("ordered_at").cast(_INSTANT), pl.col("_from").cast(_INSTANT))
            if "ordered_at" in subs.columns else pl.col("_from"))


def _holding(subscriptions: pl.DataFrame, lines: pl.DataFrame | None) -> pl.Expr:
    """``_holder``: the ``holder_since`` of each subscription's line (UTC; null when the line never changed owner),
    from ``lines`` (``line_states``), else from a ``holder_since`` column of ``subscriptions``."""
    if lines is not None:
        holders = line_states(lines).filter(pl.col("holder_since").is_not_null())
        mapping = dict(zip(holders["msisdn"].to_list(), holders["holder_since"].to_list(), strict=True))
        return (pl.col("msisdn").cast(pl.String).replace_strict(mapping, default=None, return_dtype=_INSTANT)
                .alias("_holder"))
    return _utc(subscriptions, "holder_since", "subscriptions").alias("_holder")


def gate_vas(
    vas_records: pl.DataFrame,
    subscriptions: pl.DataFrame,
    offers: OfferBook | pl.DataFrame,
    *,
    suspended: SuspendedProviders = (),
    lines: pl.DataFrame | None = None,
    tz: str = DEMO_TIMEZONE,
) -> pl.DataFrame:
    """Add ``subscription_id``, ``verdict``, ``billable`` (and the offer's price, the billing ``period`` in
    ``tz``, ``duplicate_of`` and the ``charge_key`` a charge uses up) to each VAS record; rows keep their input
    order. Of two charges with one key the earlier is billed; with an ``arrival`` column (integers: the file
    each came in, say) the one that arrived first, then the earlier.

    ``subscriptions`` is ``project_subscriptions(...)``; ``offers`` maps offer ids to offers (or is
    ``offers_frame(...)``). When several validly confirmed subscriptions cover a charge, the one confirmed
    first takes it; a monthly offer is charged once per number, offer and billing month (see ``_episodes``),
    so a second subscription in the month, overlapping the first or ordered again after cancelling it, cannot
    bill a month already billed: its charge is a ``duplicate_charge`` naming the charge billed. Per-use offers
    charge each use. ``lines``: the subscriber register
    (``line_states``): a charge at or after a closed line's ``closed_at`` (any charge, when the register does
    not say when it closed) or a suspended line's ``suspended_at`` (any charge, when it does not say since when)
    is refused, a subscription confirmed before the line's ``activated_at`` (by a previous holder of the number)
    covers nothing, and one ordered or confirmed before the line's ``holder_since`` (by the previous customer of a
    line that changed owner, 过户) covers no charge made at or after it (``previous_holder``; its charges before it
    stay consented, the previous customer's: the bill run holds them ``before_holding``), while a subscription the
    current customer began from then on is theirs, with coverages of its own (``_episodes``); without it lines
    are not checked. ``suspended``: the providers whose billing rights are suspended (``SuspendedProviders``:
    ids, refused whenever charged; or provider → since, or provider → windows, refused when the charge is dated
    within): their charges are ``merchant_suspended``.
    """
    _check_columns(vas_records, GATE_REQUIRED, "vas_records")
    _check_columns(subscriptions, ("subscription_id", "msisdn", "offer_id", "ordered_at", "confirmed_at", "ended_at", "confirmation"), "subscriptions")
    book = offers if isinstance(offers, pl.DataFrame) else offers_frame(offers)
    windows = _windows_frame(suspended)
    line_frame = line_states(lines) if lines is not None else None

    recs = vas_records.drop([c for c in GATE_COLUMNS if c in vas_records.columns]).with_row_index("_row")
    if recs.schema["started_at"] == pl.Null:
        recs = recs.with_columns(pl.col("started_at").cast(_INSTANT))
    keyed = recs.select(
        "_row",
        *(pl.col(c).cast(pl.String) for c in ("record_id", "msisdn", "offer_id")),
        pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("_t"),
        pl.col("amount_minor").cast(pl.Int64),
        pl.col("currency").cast(pl.String),
        (pl.col("arrival").cast(pl.Int64) if "arrival" in recs.columns else pl.lit(0, dtype=pl.Int64)).alias("_arrival"),
    )

    # The price version in force at the charge's time.
    versions = book.with_columns(pl.col("valid_from").fill_null(_EPOCH).dt.cast_time_unit("us")).sort("valid_from")
    priced = keyed.sort("_t").join_asof(
        versions, left_on="_t", right_on="valid_from", by="offer_id", strategy="backward", check_sortedness=False
    ).drop("valid_from")

    # Every subscription of the same subscriber and offer is a candidate; rank them for this charge.
    valid = pl.col("confirmation") == ConfirmationStatus.VALID.value
    subs = subscriptions.select(
        "subscription_id", "msisdn", "offer_id", "ordered_at",
        pl.when(valid).then(pl.col("confirmed_at")).alias("_from"),
        pl.col("ended_at").fill_null(_FAR).alias("_until"),
        pl.col("ended_at").is_not_null().alias("_ended"),
    )
    if line_frame is not None:  # the register's owner change, the only one (a line's latest)
        subs = subs.join(line_frame.filter(pl.col("holder_since").is_not_null())
                         .select(pl.col("msisdn"), pl.col("holder_since").alias("_holder")),
                         on="msisdn", how="left")
    else:
        subs = subs.with_columns(pl.lit(None, dtype=_INSTANT).alias("_holder"))
    subs = subs.with_columns(_began(subs).alias("_began"))
    pairs = priced.select("_row", "msisdn", "offer_id", "_t", "price_minor", "amount_minor").join(subs, on=["msisdn", "offer_id"], how="inner")
    if line_frame is not None:
        pairs = pairs.join(line_frame.select("msisdn", pl.col("activated_at").alias("_activated")), on="msisdn", how="left")
    else:
        pairs = pairs.with_columns(pl.lit(None, dtype=_INSTANT).alias("_activated"))
    # The price the subscriber agreed to: the version in force at their latest confirmation before the charge
    # (the first, or a re-confirmation, e.g. of a price rise). A charge at a higher price is not covered by it
    # (a price rise needs a new confirmation); a lower one is. (A charge at another price than the one in
    # force is a price mismatch, whatever was confirmed.)
    reconfirmed = (
        subscriptions.filter(valid).select("subscription_id", pl.col("reconfirmed_at").alias("_c")).explode("_c")
        if "reconfirmed_at" in subscriptions.columns
        else pl.DataFrame(schema={"subscription_id": pl.String(), "_c": _INSTANT})
    )
    confirmations = pl.concat([
        subs.filter(pl.col("_from").is_not_null()).select("subscription_id", pl.col("_from").cast(_INSTANT).alias("_c")),
        reconfirmed.select(pl.col("subscription_id").cast(pl.String), pl.col("_c").cast(_INSTANT)).drop_nulls(),
    ]).sort("_c")
    latest = (
        pairs.select("_row", "subscription_id", "_t").sort("_t")
        .join_asof(confirmations, left_on="_t", right_on="_c", by="subscription_id", strategy="backward", check_sortedness=False)
        .select("_row", "subscription_id", "_c")
    )
    pairs = pairs.join(latest, on=["_row", "subscription_id"], how="left")
    confirmed_price = (
        pairs.select("_row", "subscription_id", "offer_id", pl.coalesce("_c", "_from").fill_null(_EPOCH).dt.cast_time_unit("us").alias("_at"))
        .sort("_at")
        .join_asof(versions.select("offer_id", "valid_from", pl.col("price_minor").alias("_agreed")),
                   left_on="_at", right_on="valid_from", by="offer_id", strategy="backward", check_sortedness=False)
        .select("_row", "subscription_id", "_agreed")
    )
    pairs = pairs.join(confirmed_price, on=["_row", "subscription_id"], how="left")
    raised = (pl.col("_agreed").is_not_null() & pl.col("price_minor").is_not_null() & (pl.col("price_minor") > pl.col("_agreed"))
              & (pl.col("amount_minor") == pl.col("price_minor")))
    covering = pl.col("_from").is_not_null() & (pl.col("_from") <= pl.col("_t")) & (pl.col("_t") < pl.col("_until"))
    previous_holder = (pl.col("_from") < pl.col("_activated")).fill_null(False)
    # ordered (or confirmed) by the previous customer of a line that changed owner, charged from the change on
    previous_customer = ((pl.col("_began") < pl.col("_holder")) & (pl.col("_t") >= pl.col("_holder"))).fill_null(False)
    pairs = pairs.with_columns(
        pl.when(covering & previous_holder)
        .then(pl.lit(4))
        .when(covering & previous_customer)
        .then(pl.lit(5))
        .when(covering & raised)
        .then(pl.lit(3))
        .when(covering)
        .then(pl.lit(0))
        .when(pl.col("_from").is_not_null() & pl.col("_ended") & (pl.col("_until") <= pl.col("_t")) & (pl.col("_from") < pl.col("_until")))
        .then(pl.lit(1))
        .when(pl.col("ordered_at").is_not_null() & (pl.col("ordered_at") <= pl.col("_t")))
        .then(pl.lit(2))
        .otherwise(pl.lit(9))
        .alias("_rank")
    ).filter(pl.col("_rank") < 9)
    # Covering: the earliest confirmed. Not covering: the most recently ordered (ties: the ended one).
    best = pairs.with_columns(
        (pl.col("_rank") != 0).alias("_cov"),
        pl.when(pl.col("_rank") == 0)
        .then(pl.col("_from").dt.epoch("us"))
        .otherwise(-pl.col("ordered_at").fill_null(_EPOCH).dt.epoch("us"))
        .alias("_k"),
    )
    best = best.sort("_row", "_cov", "_k", "_rank", "subscription_id").unique("_row", keep="first").select(
        "_row", "subscription_id", "_rank"
    )
    best = best.join(_episodes(subs), on="subscription_id", how="left")

    g = priced.join(best, on="_row", how="left").with_columns(
        pl.col("_t").dt.convert_time_zone(tz).dt.strftime("%Y-%m").alias("period")
    )
    if line_frame is not None:
        g = g.join(line_frame.select("msisdn", "status", "closed_at", "suspended_at"), on="msisdn", how="left")
    else:
        g = g.with_columns(pl.lit(None, dtype=pl.String).alias("status"), pl.lit(None, dtype=_INSTANT).alias("closed_at"),
                           pl.lit(None, dtype=_INSTANT).alias("suspended_at"))
    line_closed = (pl.col("status") == SubscriberStatus.CLOSED.value) & (
        pl.col("closed_at").is_null() | (pl.col("_t") >= pl.col("closed_at")))
    # A suspended line whose register does not say since when (suspended before the register kept the instant)
    # is suspended for all time, as rating holds it (rating.suspensions): the safe side for the subscriber.
    line_suspended = (pl.col("status") == SubscriberStatus.SUSPENDED.value) & (
        pl.col("suspended_at").is_null() | (pl.col("_t") >= pl.col("suspended_at")))
    # a provider suspended when the charge was made: dated within one of its windows
    within = (
        g.select("_row", "provider_id", "_t").join(windows, on="provider_id", how="inner")
        .filter((pl.col("_s_from").is_null() | (pl.col("_t") >= pl.col("_s_from")))
                & (pl.col("_s_until").is_null() | (pl.col("_t") < pl.col("_s_until"))))
        .select("_row").unique().with_columns(pl.lit(True).alias("_merchant_suspended"))
    )
    g = g.join(within, on="_row", how="left")
    verdict = (
        pl.when(pl.col("offer_id").is_null() | pl.col("provider_id").is_null())
        .then(pl.lit(Verdict.UNKNOWN_OFFER.value))
        .when(pl.col("_rank").is_null())
        .then(pl.lit(Verdict.NO_SUBSCRIPTION.value))
        # a subscription ended by its line's closing (or before it) charged on the closed line: the line is closed
        .when((pl.col("_rank") == 1) & line_closed.fill_null(False))
        .then(pl.lit(Verdict.LINE_CLOSED.value))
        .when(pl.col("_rank") == 1)
        .then(pl.lit(Verdict.AFTER_CANCELLATION.value))
        .when(pl.col("_rank") == 2)
        .then(pl.lit(Verdict.NOT_CONFIRMED.value))
        .when(line_closed.fill_null(False))
        .then(pl.lit(Verdict.LINE_CLOSED.value))
        .when(line_suspended.fill_null(False))
        .then(pl.lit(Verdict.LINE_SUSPENDED.value))
        .when(pl.col("_rank") == 4)
        .then(pl.lit(Verdict.BEFORE_ACTIVATION.value))
        .when(pl.col("_rank") == 5)
        .then(pl.lit(Verdict.PREVIOUS_HOLDER.value))
        .when(pl.col("_rank") == 3)
        .then(pl.lit(Verdict.PRICE_RAISED.value))
        .when(pl.col("_merchant_suspended").fill_null(False))
        .then(pl.lit(Verdict.MERCHANT_SUSPENDED.value))
        .when(
            pl.col("amount_minor").is_null()
            | pl.col("currency").is_null()
            | (pl.col("amount_minor") != pl.col("price_minor"))
            | (pl.col("currency") != pl.col("offer_currency"))
        )
        .then(pl.lit(Verdict.PRICE_MISMATCH.value))
    )
    g = g.with_columns(verdict.alias("verdict"), pl.when(pl.col("_rank") != 9).then(pl.col("subscription_id")).alias("subscription_id"))

    # Once per coverage per period (monthly: once per number, offer and month), once per use (per_use);
    # identical re-sent uses are one.
    ok = g.filter(pl.col("verdict").is_null())
    group_key = charge_key(pl.coalesce("_episode", "subscription_id"), pl.col("offer_period"), pl.col("period"), pl.col("_t"),
                           pl.col("amount_minor")).alias("_dup")
    ok = ok.with_columns(group_key).sort("_dup", "_arrival", "_t", "record_id", "_row").with_columns(
        pl.col("record_id").first().over("_dup").alias("_first"),
        (pl.int_range(pl.len()).over("_dup") > 0).alias("_again"),
    )
    dup = ok.select(
        "_row",
        pl.when(pl.col("_again")).then(pl.lit(Verdict.DUPLICATE_CHARGE.value)).otherwise(pl.lit(Verdict.CONSENTED.value)).alias("_v2"),
        pl.when(pl.col("_again")).then(pl.col("_first")).alias("duplicate_of"),
        pl.col("_dup").alias("charge_key"),
    )
    g = g.join(dup, on="_row", how="left").with_columns(pl.coalesce("verdict", "_v2").alias("verdict"))
    g = g.with_columns((pl.col("verdict") == Verdict.CONSENTED.value).alias("billable")).select(
        "_row", *GATE_COLUMNS
    )
    return recs.join(g, on="_row", how="left").sort("_row").drop("_row")
