"""One assurance run: consent projection → gate → every detector → findings, merchant ranking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from fairtel.assurance._billshock import (
    BillShockPolicy,
    OwnCapPolicy,
    SubscriberCap,
    UnwatchedCap,
    bill_shock_findings,
    subscriber_cap_findings,
)
from fairtel.assurance._charges import charge_findings
from fairtel.assurance._confirmations import machine_speed_findings, replayed_evidence_findings
from fairtel.assurance._finding import Finding, FindingIds
from fairtel.assurance._merchants import MerchantPolicy, rank_merchants
from fairtel.assurance._roaming import TRIP_GAP, welcome_findings
from fairtel.consent import (
    DEFAULT_POLICY,
    ConsentPolicy,
    OfferBook,
    empty_events,
    gate_vas,
    offers_frame,
    project_subscriptions,
)
from fairtel.core.time import DEMO_TIMEZONE, require_aware, utc_now


@dataclass(frozen=True, slots=True)
class AssurancePolicy:
    """Everything an operator tunes about detection. ``machine_speed_s``: a confirmation sooner than this
    after its order cannot be a person's (nobody reads a message and answers it in under three seconds). ``bill_shock``: the caps to watch (none by default: presets in
    ``fairtel.assurance.PRESETS``). ``own_caps``: how the roaming caps subscribers set themselves are watched
    (``assure(subscriber_caps=...)``: thresholds, VAT, exchange rates). ``welcome_grace``: how late a roaming welcome
    notice may arrive."""

    consent: ConsentPolicy = DEFAULT_POLICY
    machine_speed_s: float = 3.0
    bill_shock: tuple[BillShockPolicy, ...] = ()
    own_caps: OwnCapPolicy = field(default_factory=OwnCapPolicy)
    welcome_grace: timedelta = timedelta(minutes=30)
    # a roaming record in a country with none there for this long starts a new trip, owed a new welcome SMS (as
    # watch --rate sends them); None: every roaming record of the run is owed one
    welcome_trip_gap: timedelta | None = TRIP_GAP
    merchants: MerchantPolicy = field(default_factory=MerchantPolicy)
    tz: str = DEMO_TIMEZONE


@dataclass(frozen=True, slots=True)
class AssuranceRun:
    findings: list[Finding]
    gated: pl.DataFrame  # VAS records with subscription_id, verdict, billable
    subscriptions: pl.DataFrame
    merchants: pl.DataFrame
    # the subscribers' caps not watched in a currency of their charges (``OwnCapPolicy.skip_unconverted``)
    unwatched_caps: list[UnwatchedCap] = field(default_factory=list)


def assure(
    *,
    usage: pl.DataFrame,
    offers: OfferBook | pl.DataFrame,
    events: pl.DataFrame | None = None,
    subscriptions: pl.DataFrame | None = None,
    rated: pl.DataFrame | None = None,
    notices: pl.DataFrame | None = None,
    complaints: pl.DataFrame | None = None,
    suspended: Iterable[str] = (),
    lines: pl.DataFrame | None = None,
    opted_in: Iterable[str] = (),
    subscriber_caps: Mapping[str, SubscriberCap] | None = None,
    policy: AssurancePolicy = AssurancePolicy(),
    now: datetime | None = None,
    ids: FindingIds = FindingIds(),
) -> AssuranceRun:
    """Run every detector whose input is given. ``usage`` is clean usage (CLEAN_USAGE_SCHEMA; only the VAS
    rows are gated, all rows serve the roaming-notice check when ``notices`` is given; an optional ``arrival``
    column of integers decides which of two charges with one key is the one billed, lowest first, before their
    dates: re-judging charges billing already took, pass the rank billing took them in, the charge a bill holds
    first, so that it is never called the duplicate of one no bill holds); ``events`` the
    consent ledger's events (or pass ``subscriptions`` already projected). ``lines``: the subscriber register
    (``msisdn``, ``status``, optional ``closed_at``, ``suspended_at``, ``activated_at``, ``holder_since``): charges
    on a line after it closed or while it was suspended, and those made after an owner change under a subscription
    the previous customer began before it (``previous_holder``), become findings (without it lines are not
    checked). ``subscriber_caps``: the roaming
    cap each subscriber set themselves and when (msisdn → ``SubscriberCap``, ``store._roaming_caps.caps_in_force``),
    watched over ``rated`` beside the presets of ``policy.bill_shock`` (alerts at 80 % and 100 % of it over the
    roaming charges made since it was set; charges past it reported for refund, once even when a preset reports
    them too; with ``policy.own_caps.skip_unconverted``, a cap no rate converts to its charges' currency is left
    unwatched and listed in ``unwatched_caps``, the run going on for every other). ``ids``: how findings about a
    number are named (keyed with the operator's key; see ``FindingIds``)."""
    detected_at = require_aware(now or utc_now(), "now")
    ev = events if events is not None else empty_events()
    subs = subscriptions if subscriptions is not None else project_subscriptions(ev, policy=policy.consent)
    book = offers if isinstance(offers, pl.DataFrame) else offers_frame(offers)
    vas = usage.filter(pl.col("kind") == "vas") if "kind" in usage.columns else usage
    gated = gate_vas(vas, subs, book, suspended=suspended, lines=lines, tz=policy.tz)

    findings: list[Finding] = []
    unwatched: list[UnwatchedCap] = []
    findings += charge_findings(gated, detected_at=detected_at)
    findings += machine_speed_findings(subs, gated, max_human_s=policy.machine_speed_s, detected_at=detected_at)
    if ev.height:
        findings += replayed_evidence_findings(
            ev,
            gated,
            detected_at=detected_at,
            offers=book,
            generic_min_providers=policy.merchants.generic_min_providers,
        )
    if rated is not None:
        opted_in = tuple(opted_in)  # read by every cap watched
        for bs in policy.bill_shock:
            findings += bill_shock_findings(
                rated, bs, detected_at=detected_at, opted_in=opted_in, tz=policy.tz, ids=ids
            )
        if subscriber_caps:
            findings += subscriber_cap_findings(
                rated,
                subscriber_caps,
                policy=policy.own_caps,
                detected_at=detected_at,
                presets=policy.bill_shock,
                opted_in=opted_in,
                tz=policy.tz,
                ids=ids,
                unwatched=unwatched,
            )
    if notices is not None and "roaming_country" in usage.columns:
        findings += welcome_findings(usage, notices, detected_at=detected_at, grace=policy.welcome_grace, ids=ids,
                                     trip_gap=policy.welcome_trip_gap)
    merchant_policy = replace(policy.merchants, machine_speed_s=policy.machine_speed_s, tz=policy.tz)
    merchants = rank_merchants(subs, book, gated=gated, events=ev, complaints=complaints, policy=merchant_policy)
    findings.sort(key=lambda f: (f.kind.value, f.msisdn or "", f.finding_id))
    return AssuranceRun(findings=findings, gated=gated, subscriptions=subs, merchants=merchants, unwatched_caps=unwatched)


def detect(**kwargs: Any) -> list[Finding]:
    """``assure(...)`` returning only the findings."""
    return assure(**kwargs).findings
