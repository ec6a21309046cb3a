"""What a Wangiri case does for its victims (ties fraud detection to charge assurance, so it lives with the commands
that run both): a warning to every subscriber the number rang (an SMS in the outbox,
``assurance.wangiri_messages``), and a charge-assurance finding (``premium_callback``) for every call back to a
premium-rate number that was charged (saying whether at premium rates or, made while roaming, at the roaming
rate), which an analyst may refund as any finding (``POST /findings/{id}/refund``); and a finding
(``one_ring_roaming_charge``) for every one-ring call from the number that a subscriber, rung while roaming, was
charged for receiving (incoming calls are charged abroad), refunded the same way.

The findings are written to the ``findings`` lake dataset under their own part (``fraud``), beside those of
``fairtel assure``, and queued as those are; they are not refunded automatically (``RefundPolicy.automatic``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from fairtel.assurance._finding import Finding, FindingIds, FindingKind, mark_before_holding, minor_to_decimal
from fairtel.assurance._notify import WangiriTarget
from fairtel.core.errors import NotFoundError
from fairtel.core.time import DEMO_TIMEZONE, Period, require_aware, zone
from fairtel.fraud import holding_starts
from fairtel.fraud._cases import CallbackNotice, Detector, FraudCase

if TYPE_CHECKING:
    from fairtel.catalog import Catalog, PricingRule
    from fairtel.rating._explain import Explanation

FINDINGS_PART = "fraud"  # the findings lake part `fraud detect` writes (``fairtel assure`` writes ``assure``)
_UTC = pl.Datetime("us", "UTC")


def _holdings(subscribers: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame | None:
    """msisdn, ``_holding_from``: when each line's current holding began (``holding_starts``: its latest activation,
    or a later owner change, ``holder_since``); None without subscribers."""
    if subscribers is None:
        return None
    starts = holding_starts(subscribers)
    return pl.LazyFrame({"msisdn": list(starts), "_holding_from": list(starts.values())},
                        schema={"msisdn": pl.String, "_holding_from": _UTC})


def _in_holding(lf: pl.LazyFrame, holdings: pl.LazyFrame | None, *, before: bool = False) -> pl.LazyFrame:
    """The records of ``lf`` made in their line's current holding (``before``: those made before it began, the
    previous customer's or an earlier holder's), with the holding's start as ``_holding_from``. Without
    ``holdings``, and for a line they do not name, every record is its current holder's."""
    if holdings is None:
        lf = lf.with_columns(pl.lit(None, dtype=_UTC).alias("_holding_from"))
    else:
        lf = lf.join(holdings, on="msisdn", how="left", maintain_order="left")
    start = pl.col("_holding_from")
    earlier = start.is_not_null() & (_started() < start)
    return lf.filter(earlier if before else ~earlier)


def _started() -> pl.Expr:
    return pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _rings(usage: pl.LazyFrame, callers: Collection[str]) -> pl.LazyFrame:
    return usage.filter((pl.col("kind") == "voice") & (pl.col("direction") == "in") & pl.col("peer").is_in(list(callers)))


def rung_lines(usage: pl.LazyFrame, callers: Collection[str], *,
               subscribers: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """The subscribers each of ``callers`` rang in ``usage`` (incoming voice calls): peer, msisdn, first_at. With
    ``subscribers`` (msisdn, activated_at, holder_since?), only the rings of each line's current holding: a ring
    before an owner change rang the previous customer, and the line's new customer is not warned about it
    (``previous_holder_rings`` lists those)."""
    if not callers:
        return pl.DataFrame(schema={"peer": pl.String, "msisdn": pl.String, "first_at": _UTC})
    return (
        _in_holding(_rings(usage, callers), _holdings(subscribers))
        .group_by("peer", "msisdn")
        .agg(pl.col("started_at").min().alias("first_at"))
        .sort("peer", "msisdn")
        .collect()
    )


def previous_holder_rings(usage: pl.LazyFrame, callers: Collection[str], *,
                          subscribers: pl.DataFrame | pl.LazyFrame | None) -> pl.DataFrame:
    """The lines each of ``callers`` rang before their current holding began (``subscribers``: msisdn,
    activated_at, holder_since?): peer, msisdn, first_at (the first such ring), holding_from (when the current
    holding began). Those rings reached the line's previous customer (or an earlier holder of a recycled number),
    whom a warning SMS to the number would not reach: the register keeps no other contact of theirs, so they are
    counted, not warned. Empty without subscribers (every ring is then taken as the current holder's)."""
    schema: dict[str, pl.DataType] = {"peer": pl.String(), "msisdn": pl.String(), "first_at": _UTC, "holding_from": _UTC}
    holdings = _holdings(subscribers)
    if not callers or holdings is None:
        return pl.DataFrame(schema=schema)
    return (
        _in_holding(_rings(usage, callers), holdings, before=True)
        .group_by("peer", "msisdn")
        .agg(_started().min().alias("first_at"), pl.col("_holding_from").first().alias("holding_from"))
        .sort("peer", "msisdn")
        .collect()
    )


def one_ring_calls(usage: pl.LazyFrame, callers: Collection[str], *, one_ring_max_s: int) -> pl.DataFrame:
    """Each one-ring call (incoming voice of at most ``one_ring_max_s`` seconds) ``callers`` made to a subscriber in
    ``usage``: msisdn, peer, source, record_id, started_at, duration_s, roaming_country."""
    cols: dict[str, pl.DataType] = {"msisdn": pl.String(), "peer": pl.String(), "source": pl.String(), "record_id": pl.String(),
                                    "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64(),
                                    "roaming_country": pl.String()}
    if not callers:
        return pl.DataFrame(schema=cols)
    return (
        usage.filter((pl.col("kind") == "voice") & (pl.col("direction") == "in") & pl.col("peer").is_in(list(callers))
                     & (pl.col("duration_s").fill_null(0) <= one_ring_max_s))
        .select([pl.col(c) for c in cols])
        .sort("msisdn", "started_at", "record_id")
        .collect()
    )


def device_lines(usage: pl.LazyFrame, *, subscribers: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """The (imei, msisdn) pairs seen in ``usage``: which lines shared a device (``detect_simbox`` names a case's
    device and the other lines seen in it, its ``related``). With ``subscribers`` (msisdn, activated_at,
    holder_since?), a line is paired with a device only when seen in it at or after its current holding began (as
    ``device_sims`` counts): a line in a box before it changed hands is not named as its new customer's SIM in the
    box, nor a device its previous customer used as the new customer's."""
    seen = _in_holding(usage.filter(pl.col("imei").is_not_null()), _holdings(subscribers))
    return seen.select("imei", "msisdn").unique().collect()


def charged_premium(rule_id: str | None, roaming_zone: str | None, *, catalog: Catalog | None, premium_zone: str,
                    called_premium: bool) -> bool:
    """Whether a call back to a number of the premium zone was charged at premium rates: the rule that priced it
    is one of the premium zone's (its match names that zone). A call back made while roaming is priced by a
    roaming rule (any destination): at the roaming rate, not a premium one. Without the catalog, a line rated
    while roaming (``roaming_zone``) was not charged at premium rates; otherwise as the number's zone says."""
    if not called_premium:
        return False
    rule = _rule_of(catalog, rule_id)
    if rule is not None:
        return rule.match.zones is not None and premium_zone in rule.match.zones
    return roaming_zone is None


def _rule_of(catalog: Catalog | None, rule_id: str | None) -> PricingRule | None:
    if catalog is None or not rule_id:
        return None
    try:
        return catalog.rule(rule_id)
    except NotFoundError:  # a rule the catalog no longer holds: told by the line instead
        return None


def _roaming_zone_of(catalog: Catalog | None, rule_id: str | None, roaming_zone: str | None) -> str | None:
    """The roaming zone that priced a line: the line's, else the one roaming zone its rule names (if one)."""
    if roaming_zone is not None:
        return roaming_zone
    rule = _rule_of(catalog, rule_id)
    zones = None if rule is None else rule.match.roaming_zones
    return next(iter(zones)) if zones is not None and len(zones) == 1 else None


def premium_callback_findings(
    notices: Iterable[CallbackNotice],
    rated: pl.DataFrame,
    *,
    detected_at: datetime,
    ids: FindingIds = FindingIds(),
    tz: str = DEMO_TIMEZONE,
    catalog: Catalog | None = None,
    premium_zone: str = "intl-premium",
) -> list[Finding]:
    """A finding for every call back to a premium-rate number that rating charged (``rated``: the rated lines,
    with msisdn, source, record_id, amount_minor, currency, subscription_id, rule_id, and roaming_zone when
    known). A call back not rated yet has none until a later run finds it rated. Its evidence says whether the
    call was charged at premium rates (``charged_premium``: a call back made while roaming
    is charged at the roaming rate) and the roaming zone that priced it, so that the subscriber is told what the
    call was charged."""
    wanted = [n for n in notices if n.premium]
    if not wanted or rated.is_empty():
        return []
    roaming = pl.col("roaming_zone").first() if "roaming_zone" in rated.columns else pl.lit(None, dtype=pl.String)
    charged = (
        rated.filter(pl.col("record_id").is_in([n.record_id for n in wanted]))
        .group_by("msisdn", "source", "record_id")
        .agg(
            pl.col("amount_minor").sum(),
            pl.col("currency").first(),
            pl.col("subscription_id").first(),
            pl.col("rule_id").first(),
            roaming.alias("roaming_zone"),
        )
    )
    by_key = {(r["msisdn"], r["source"], r["record_id"]): r for r in charged.iter_rows(named=True)}
    out: list[Finding] = []
    for n in wanted:
        row = by_key.get((n.msisdn, n.source, n.record_id))
        if row is None or not row["amount_minor"] or row["amount_minor"] <= 0:
            continue
        key = [n.msisdn, n.source or "", n.record_id]
        out.append(
            Finding(
                finding_id=ids.of(FindingKind.PREMIUM_CALLBACK, ("msisdn", "source", "record_id"), key),
                kind=FindingKind.PREMIUM_CALLBACK,
                msisdn=n.msisdn,
                record_ids=(n.record_id,),
                subscription_id=row["subscription_id"],
                amount=minor_to_decimal(row["amount_minor"], row["currency"]),
                currency=row["currency"],
                detected_at=require_aware(detected_at),
                evidence={
                    "source": n.source,
                    "case_id": n.case_id,
                    "notice_id": n.notice_id,
                    "caller": n.caller,
                    "zone": n.zone,
                    "rule_id": row["rule_id"],
                    "roaming_zone": _roaming_zone_of(catalog, row["rule_id"], row["roaming_zone"]),
                    "charged_premium": charged_premium(row["rule_id"], row["roaming_zone"], catalog=catalog,
                                                       premium_zone=premium_zone, called_premium=n.premium),
                    "duration_s": n.duration_s,
                    "started_at": n.called_back_at.isoformat(),
                    "period": Period.containing(n.called_back_at, tz).key,
                },
            )
        )
    return out


def one_ring_charge_findings(
    cases: Iterable[FraudCase],
    rings: pl.DataFrame,
    rated: pl.DataFrame,
    *,
    detected_at: datetime,
    ids: FindingIds = FindingIds(),
    tz: str = DEMO_TIMEZONE,
    catalog: Catalog | None = None,
    subscribers: pl.DataFrame | pl.LazyFrame | None = None,
) -> list[Finding]:
    """A finding for every one-ring call (``one_ring_calls``) from the number of a Wangiri case (``cases``) that a
    subscriber was charged for receiving while roaming (``rated``: the rated lines, as ``premium_callback_findings``
    reads them; roaming: the record's roaming country or the roaming zone that priced it). One per record (its id
    derives from the line, source and record), so a rerun raises nothing new; a ring not rated yet has none until a
    later run finds it rated, and a ring charged nothing (free, or not roaming) none at all. ``subscribers``
    (msisdn, activated_at, holder_since?): a ring made before its line's current holding began rang the previous
    customer; its finding is kept for the operator, marked so (``assurance.mark_before_holding``): neither refunded
    to the line's current customer nor told them."""
    starts = {} if subscribers is None else holding_starts(subscribers)
    by_caller = {c.subject: c for c in cases if c.detector is Detector.WANGIRI}
    if not by_caller or rings.is_empty() or rated.is_empty():
        return []
    roaming = pl.col("roaming_zone").first() if "roaming_zone" in rated.columns else pl.lit(None, dtype=pl.String)
    charged = (
        rated.filter(pl.col("record_id").is_in(rings["record_id"].to_list()))
        .with_columns(pl.col("source").fill_null(""))
        .group_by("msisdn", "source", "record_id")
        .agg(pl.col("amount_minor").sum(), pl.col("currency").first(), pl.col("subscription_id").first(),
             pl.col("rule_id").first(), roaming.alias("roaming_zone"))
    )
    by_key = {(r["msisdn"], r["source"], r["record_id"]): r for r in charged.iter_rows(named=True)}
    local = zone(tz)
    out: list[Finding] = []
    for ring in rings.iter_rows(named=True):
        case = by_caller.get(ring["peer"])
        row = by_key.get((ring["msisdn"], ring["source"] or "", ring["record_id"]))
        if case is None or row is None or not row["amount_minor"] or row["amount_minor"] <= 0:
            continue
        roaming_zone = _roaming_zone_of(catalog, row["rule_id"], row["roaming_zone"])
        if roaming_zone is None and not ring["roaming_country"]:
            continue  # charged at home: not a roaming charge for receiving the ring
        started = require_aware(ring["started_at"])
        key = [ring["msisdn"], ring["source"] or "", ring["record_id"]]
        found = (
            Finding(
                finding_id=ids.of(FindingKind.ONE_RING_ROAMING_CHARGE, ("msisdn", "source", "record_id"), key),
                kind=FindingKind.ONE_RING_ROAMING_CHARGE,
                msisdn=ring["msisdn"],
                record_ids=(ring["record_id"],),
                subscription_id=row["subscription_id"],
                amount=minor_to_decimal(row["amount_minor"], row["currency"]),
                currency=row["currency"],
                detected_at=require_aware(detected_at),
                evidence={
                    "source": ring["source"],
                    "case_id": case.case_id,
                    "caller": ring["peer"],
                    "zone": case.evidence.get("zone"),
                    "rule_id": row["rule_id"],
                    "roaming_zone": roaming_zone,
                    "roaming_country": ring["roaming_country"],
                    "duration_s": int(ring["duration_s"] or 0),
                    "started_at": started.astimezone(local).isoformat(),
                    "period": Period.containing(started, tz).key,
                },
            )
        )
        holding = starts.get(ring["msisdn"])
        out.append(found if holding is None or started >= holding else mark_before_holding(found, holding))
    return out


def wangiri_targets(
    cases: Iterable[FraudCase],
    rung: pl.DataFrame,
    notices: Iterable[CallbackNotice],
    *,
    premium_zone: str = "intl-premium",
    findings: Iterable[Finding] = (),
    rings: pl.DataFrame | None = None,
    subscribers: pl.DataFrame | pl.LazyFrame | None = None,
) -> list[WangiriTarget]:
    """Whom to warn about each Wangiri case's number: every subscriber it rang (``rung_lines``), and those who
    called it back (the notices), the latter with the finding of their premium call back and told what the call
    was charged (``charged_premium`` in its evidence: a call back made while roaming, at the roaming rate).
    A subscriber it rang while roaming (``rings``: ``one_ring_calls``, with their roaming country) is told so (not
    that calls to it are charged at premium rates), and one charged for receiving its call (a
    ``one_ring_roaming_charge`` finding among ``findings``) is told that charge is reviewed for a refund.
    ``subscribers`` (msisdn, activated_at, holder_since?): a line's rings and ring findings from before its current
    holding began are its previous customer's, so they neither make its current holder "rung while roaming" nor
    tell them of a charge under review (``rung`` is then ``rung_lines`` with the same subscribers)."""
    callers = {c.subject: c.evidence.get("zone") == premium_zone for c in cases if c.detector is Detector.WANGIRI}
    findings = list(findings)
    starts = {} if subscribers is None else holding_starts(subscribers)

    def held(msisdn: str, at: datetime | str | None) -> bool:
        """Whether a ring to ``msisdn`` at ``at`` reached its current holder (not one before the holding began)."""
        start = starts.get(msisdn)
        if start is None or at is None:
            return True
        return require_aware(datetime.fromisoformat(at) if isinstance(at, str) else at) >= start

    by_record = {f.record_ids[0]: f for f in findings
                 if f.record_ids and f.kind is not FindingKind.ONE_RING_ROAMING_CHARGE}
    ring_finding: dict[tuple[str, str], str] = {}
    for f in findings:
        if (f.kind is FindingKind.ONE_RING_ROAMING_CHARGE and f.msisdn and not f.before_holding
                and held(f.msisdn, f.evidence.get("started_at"))):
            ring_finding.setdefault((f.msisdn, str(f.evidence.get("caller"))), f.finding_id)
    abroad: set[tuple[str, str]] = set()
    if rings is not None and not rings.is_empty():
        abroad = {(r["msisdn"], r["peer"]) for r in rings.iter_rows(named=True)
                  if r["roaming_country"] and held(r["msisdn"], r["started_at"])}
    abroad |= set(ring_finding)

    def charged(n: CallbackNotice) -> tuple[bool, bool]:
        """(charged at premium rates, charged at the roaming rate) of a call back."""
        f = by_record.get(n.record_id)
        if f is None:
            return n.premium, False
        premium = bool(f.evidence.get("charged_premium", n.premium))
        return premium, not premium and bool(f.evidence.get("roaming_zone"))

    out: list[WangiriTarget] = [
        WangiriTarget(r["msisdn"], r["peer"], r["first_at"], callers[r["peer"]], called_back=False,
                      roaming=(r["msisdn"], r["peer"]) in abroad,
                      ring_finding_id=ring_finding.get((r["msisdn"], r["peer"])))
        for r in rung.iter_rows(named=True)
        if r["peer"] in callers
    ]
    out += [
        WangiriTarget(
            n.msisdn, n.caller, n.called_back_at, charged(n)[0], called_back=True,
            finding_id=None if n.record_id not in by_record else by_record[n.record_id].finding_id, roaming=charged(n)[1],
            ring_finding_id=ring_finding.get((n.msisdn, n.caller)),
        )
        for n in notices
    ]
    return out


def notice_for(notices: Iterable[CallbackNotice], record_id: str, source: str | None = None) -> CallbackNotice | None:
    """The Wangiri notice about a call back (``record_id`` from ``source``), if one was made."""
    return next(
        (n for n in notices if n.record_id == record_id and (source is None or n.source in (None, source))), None
    )


def with_wangiri_warning(explanation: Explanation, notices: Iterable[CallbackNotice]) -> Explanation:
    """``explanation`` of a record, saying so when the record is a call back to a Wangiri number its subscriber
    was warned about (``fairtel explain``)."""
    n = notice_for(notices, explanation.record_id, explanation.source)
    if n is None or n.msisdn != explanation.msisdn:
        return explanation
    return replace(explanation, wangiri_caller=n.caller)
