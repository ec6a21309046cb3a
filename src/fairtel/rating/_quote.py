"""Quotes: what one canonical usage record costs under a catalog, for tariff authors testing a tariff.

Each record is priced on its own. It consumes no allowance unless it names a plan state:
``"allowance_used": {"<allowance id>": <units used so far this period>}`` (an empty object means a fresh
period). The plan is the record's ``plan_id``, else the caller's, else the catalog's ``[[subjects]]`` entry for
the msisdn (CGRateS rating profiles, ``*any`` fallback), else the catalog's pay-as-you-go plan. A VAS record
is quoted at its offer's price, as if consented (nothing is billed by a quote).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from fairtel.catalog import Catalog, plan_for_subject
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period, parse_rfc3339
from fairtel.rating._rate import rate
from fairtel.rating._vas import price_only_gate

_INT_FIELDS = ("duration_s", "bytes_up", "bytes_down")
_STR_FIELDS = ("record_id", "source", "msisdn", "kind", "direction", "peer", "offer_id", "currency", "roaming_country")
QUOTE_MSISDN = "quote"


def default_plan(catalog: Catalog) -> str | None:
    """The catalog's pay-as-you-go plan (the first plan without fee or allowances), if it has one."""
    return next((p.id for p in catalog.plans if p.pay_as_you_go), None)


def _record_frame(raw: Mapping[str, Any], where: str) -> tuple[pl.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    row: dict[str, Any] = {}
    for f in _STR_FIELDS:
        v = raw.get(f)
        if v is not None and not isinstance(v, str):
            problems.append(Problem(where, None, f, "expected a string"))
        row[f] = v
    for f in _INT_FIELDS:
        v = raw.get(f)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            problems.append(Problem(where, None, f, "expected an integer ≥ 0"))
            v = None
        row[f] = v
    row["record_id"] = row["record_id"] or where
    row["source"] = row["source"] or "quote"
    row["msisdn"] = row["msisdn"] or QUOTE_MSISDN
    if not row["kind"]:
        problems.append(Problem(where, None, "kind", "required"))
    started = raw.get("started_at")
    if not isinstance(started, str):
        problems.append(Problem(where, None, "started_at", "required: an RFC 3339 timestamp with offset"))
    else:
        try:
            row["started_at"] = parse_rfc3339(started)
        except FairtelError as exc:
            problems.append(Problem(where, None, "started_at", exc.message))
    row["amount_minor"] = None
    if raw.get("amount") is not None:
        try:
            money = Money.of(str(raw["amount"]), row["currency"] or "CNY")
            row["amount_minor"] = money.to_minor()
        except (FairtelError, InvalidOperation, ValueError, TypeError) as exc:
            problems.append(Problem(where, None, "amount", str(exc)))
    if problems:
        return pl.DataFrame(), problems
    return pl.DataFrame([row]), []


def _opening(raw: Mapping[str, Any], msisdn: str, where: str) -> tuple[pl.DataFrame | None, list[Problem]]:
    state = raw.get("allowance_used")
    if state is None:
        return None, []
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in state.items()
    ):
        return None, [Problem(where, None, "allowance_used", "expected an object of allowance id → units used (integers ≥ 0)")]
    return pl.DataFrame(
        {"msisdn": [msisdn] * len(state), "counter": list(state.keys()), "used": list(state.values())},
        schema={"msisdn": pl.String(), "counter": pl.String(), "used": pl.Int64()},
    ), []


def _plan(catalog: Catalog, raw: Mapping[str, Any], plan_id: str | None, frame: pl.DataFrame) -> str:
    chosen = raw.get("plan_id") or plan_id
    if chosen:
        catalog.plan(str(chosen))  # raises NotFoundError for an unknown plan
        return str(chosen)
    if catalog.subjects:
        return plan_for_subject(catalog, frame["msisdn"][0], kind=frame["kind"][0] if frame["kind"][0] in
                                ("voice", "sms", "data") else None, at=frame["started_at"][0])
    payg = default_plan(catalog)
    if payg is None:
        raise NotFoundError("the record names no plan_id, no --plan was given and the catalog has no pay-as-you-go plan")
    return payg


def _exact_amount(catalog: Catalog, lines: list[dict[str, Any]], exp: int) -> Decimal | None:
    """The amount at the catalog's ``amount_decimals`` when they are finer than the currency's minor units (a
    CGRateS plan priced to 0.7169 CNY), for a record priced by one rate in one piece with no allowance: the rate's
    own steps, which the rated line (in minor units) rounds to the fen. None otherwise, or when the line is not
    that amount rounded (a cap took part): the line's amount stands."""
    decimals = catalog.operator.amount_decimals
    if decimals is None or decimals <= exp or len(lines) != 1:
        return None
    (line,) = lines
    if line["rate_id"] is None or line["allowance_id"] is not None or line["capped"] or line["offset"]:
        return None
    from fairtel.catalog import price_steps

    rate = catalog.rate(line["rate_id"])
    exact = price_steps(rate, int(line["quantity"]))
    if Money(exact, catalog.operator.currency).to_minor(rate.rounding) != line["amount_minor"]:
        return None
    return exact


def quote(records: Sequence[Mapping[str, Any]], catalog: Catalog, *, plan_id: str | None = None) -> list[dict[str, Any]]:
    """For each record: ``record_id``, ``amount`` (decimal string), ``currency``, ``rule`` (the rule of its
    charged line) and its ``lines``; or ``record_id`` and ``error`` when it cannot be priced."""
    out: list[dict[str, Any]] = []
    currency = catalog.operator.currency
    exp = minor_units(currency)
    for i, raw in enumerate(records):
        where = f"record[{i}]"
        if not isinstance(raw, Mapping):
            out.append({"record_id": None, "error": {"code": "input_invalid", "message": f"{where}: not a JSON object"}})
            continue
        frame, problems = _record_frame(raw, where)
        record_id = raw.get("record_id") or where
        if not problems:
            opening, problems = _opening(raw, frame["msisdn"][0], where)
        if problems:
            out.append({"record_id": record_id, "error": InvalidInputError(problems, what=where).to_dict()})
            continue
        try:
            plan = _plan(catalog, raw, plan_id, frame)
            period = Period.containing(frame["started_at"][0], catalog.operator.timezone)
            result = rate(frame, catalog, {frame["msisdn"][0]: plan}, period=period, gate=price_only_gate,
                          opening_state=opening, allowances=opening is not None)
        except FairtelError as exc:
            out.append({"record_id": record_id, "error": exc.to_dict()})
            continue
        if result.unrated.height:
            reason = result.unrated["reason"][0]
            out.append({"record_id": record_id, "plan_id": plan,
                        "error": {"code": reason, "message": f"not rated under plan {plan}: {reason}"}})
            continue
        lines = result.rated.to_dicts()
        exact = _exact_amount(catalog, lines, exp)
        total = sum(ln["amount_minor"] for ln in lines)
        charged = [ln for ln in lines if ln["allowance_id"] is None] or lines
        rules = list(dict.fromkeys(ln["rule_id"] for ln in charged))
        out.append({
            "record_id": record_id,
            "amount": str(exact if exact is not None else Decimal(total).scaleb(-exp)),
            "currency": currency,
            "rule": rules[0] if len(rules) == 1 else "+".join(rules),
            "plan_id": plan,
            "lines": [
                {
                    **{k: ln[k] for k in (
                        "line", "rule_id", "rate_id", "zone", "roaming_zone", "band", "offset", "quantity", "unit",
                        "allowance_id", "allowance_before", "allowance_used", "charged_quantity", "capped", "throttled",
                    )},
                    "amount": str(Decimal(ln["amount_minor"]).scaleb(-exp)),
                }
                for ln in lines
            ],
        })
    return out
