"""``fairtel catalog``: check and show tariff catalogs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from fairtel.catalog import (
    ANY_ROAMING,
    ANY_SUBJECT,
    Catalog,
    Match,
    Rate,
    SubjectPlan,
    Unit,
    default_catalog_path,
    format_quantity,
    import_cgrates,
    load_catalog,
    problem_zh,
    validate_catalog,
)
from fairtel.cli._ui import console, err_console, fail, print_json, table
from fairtel.core.contracts import UsageKind
from fairtel.core.errors import FairtelError, InvalidInputError, Problem

_JSON = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Tariff catalogs: check one, or show what it contains.", no_args_is_help=True)
    sub.command("validate")(validate)
    sub.command("show")(show)
    sub.command("import-cgrates")(import_cgrates_command)
    app.add_typer(sub, name="catalog")


def _problem_line(p: Problem) -> str:
    where = p.file if p.line is None else f"{p.file}:{p.line}"
    return f"{where}: {p.field or '-'}: {p.message} [{p.code}]"


def _problem_json(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "field": p.field, "message": p.message, "message_zh": problem_zh(p),
            "code": p.code}


def _cells(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Table rows with their text as text: a catalog's names, providers and ids are the operator's words, and a
    ``[bold]`` in one is shown as written, not taken for markup."""
    return [[escape(x) if isinstance(x, str) else x for x in row] for row in rows]


def _rounding(r: Rate) -> str:
    """A rate's rounding as the catalog spells it (``half-up``, as docs/catalog.md lists them)."""
    return f"{str(r.rounding).replace('_', '-')} {r.rounding_decimals}"


def _summary(c: Catalog) -> str:
    n = c.counts()
    subjects = f", {n['subjects']} subjects" if n["subjects"] else ""
    return (f"{n['plans']} plans, {n['zones']} zones, {n['roaming_zones']} roaming zones, {n['bands']} bands, "
            f"{n['rates']} rates, {n['rules']} rules, {n['offers']} offers{subjects} ({c.operator.currency}, "
            f"{c.operator.timezone})")


def _winner(c: Catalog, subject: str, kind: UsageKind | None, now: datetime) -> SubjectPlan | None:
    """The entry of ``subject`` that prices its usage of ``kind`` (None: any) at ``now``, as ``plan_for_subject`` picks
    it: the latest entry already in effect (one without ``from``: always), the first listed among equals."""
    best: SubjectPlan | None = None
    for e in c.subjects:
        if e.subject != subject or (kind is not None and e.kinds is not None and kind not in e.kinds):
            continue
        if e.active_from is not None and e.active_from > now:
            continue
        if best is None or (e.active_from is not None and (best.active_from is None or e.active_from > best.active_from)):
            best = e
    return best


def _subjects(c: Catalog, now: datetime) -> list[dict[str, Any]]:
    """The ``[[subjects]]`` map (CGRateS rating profiles): who is priced by which plan, for which usage, from when,
    and whether the entry prices that usage ``now`` (a later entry of the subject replaces it; one not in effect yet
    waits for its ``from``). ``*any`` is every subject without an entry of its own."""
    out = []
    for e in c.subjects:
        kinds: list[UsageKind | None] = [*sorted(e.kinds)] if e.kinds is not None else [None]
        winners = [_winner(c, e.subject, k, now) for k in kinds]
        in_effect = any(w is e for w in winners)
        later = next((w for w in winners if w is not None and w is not e), None)
        out.append({
            "subject": e.subject, "any_subject": e.subject == ANY_SUBJECT, "plan": e.plan,
            "kinds": None if e.kinds is None else [str(k) for k in kinds],
            "from": None if e.active_from is None else e.active_from.isoformat(), "in_effect": in_effect,
            "not_yet": e.active_from is not None and e.active_from > now,
            "replaced_by": None if in_effect or later is None else {
                "plan": later.plan, "from": None if later.active_from is None else later.active_from.isoformat()},
        })
    return out


def _subject_state(s: dict[str, Any]) -> str:
    if s["in_effect"]:
        return "in effect"
    if s["not_yet"]:
        return f"from {s['from']}"
    replaced = s["replaced_by"]
    if replaced is None:
        return "-"
    return f"replaced by {replaced['plan']}" + (f" (from {replaced['from']})" if replaced["from"] else "")


def validate(
    file: Annotated[Path, typer.Argument(help="The catalog TOML file to check.")],
    as_json: _JSON = False,
) -> None:
    r"""Check a catalog and list every problem as FILE:LINE: FIELD: message \[code]. Exit 0 if valid, 2 if not."""
    problems = validate_catalog(file)
    catalog = load_catalog(file) if not problems else None
    # valid, but with a gap a tariff author should know of: roaming rules and no fallback roaming zone (usage in a
    # country no zone lists is left unrated, ``no_roaming_zone``); a roaming zone a plan has no rule for
    # (``roaming_rule_gap``), a setting with no effect (``no_effect``): ``Catalog.warnings``, with line and field
    warnings = [gap] if catalog is not None and (gap := catalog.roaming_gap()) else []
    found = list(catalog.warnings) if catalog is not None else []
    if as_json:
        print_json({
            "file": str(file), "valid": not problems,
            "problems": [_problem_json(p) for p in problems],
            **({"counts": catalog.counts(), "warnings": warnings + [_problem_line(w) for w in found],
                "warning_details": [_problem_json(w) for w in found]} if catalog is not None else {}),
        })
    elif catalog is not None:
        console.print(f"{file}: valid: {_summary(catalog)}", highlight=False, soft_wrap=True, markup=False)
        for w in warnings:
            err_console.print(f"warning: {file}: {w}", highlight=False, soft_wrap=True, markup=False)
        for fw in found:
            err_console.print(f"warning: {_problem_line(fw)}", highlight=False, soft_wrap=True, markup=False)
    else:
        for p in problems:
            console.print(_problem_line(p), highlight=False, soft_wrap=True, markup=False)
        n = len(problems)
        err_console.print(f"{n} problem{'s' if n != 1 else ''} in {file}", highlight=False)
    if problems:
        raise typer.Exit(2)


def _match_text(m: Match) -> str:
    parts = [str(m.kind)]
    if m.directions is not None:
        parts.append("/".join(sorted(m.directions)))
    if m.zones is not None:
        parts.append("to " + ",".join(sorted(m.zones)))
    if m.roaming_zones is None:
        parts.append("at home")
    else:
        parts.append("roaming " + ("anywhere" if ANY_ROAMING in m.roaming_zones else ",".join(sorted(m.roaming_zones))))
    if m.bands is not None:
        parts.append("in " + ",".join(sorted(m.bands)))
    return " ".join(parts)


def _catalog_to_show(ctx: typer.Context, file: Path | None, home: Path | None,
                     notes: list[str]) -> tuple[Catalog, dict[str, object]]:
    """``FILE``, else the current catalog stored in the home in use (``--home``, ``FAIRTEL_HOME``, ./var), which
    every other command defaults to, else the demo operator's (said in ``notes`` when a home has none stored).
    Also where it came from: ``file``, or ``home`` and the stored ``catalog_version_id``."""
    if file is not None:
        return load_catalog(file), {"file": str(file)}
    from fairtel.bootstrap import bootstrap
    from fairtel.catalog import parse_catalog
    from fairtel.cli._context import home_of
    from fairtel.core.settings import load_settings
    from fairtel.store import catalog_text, current_catalog

    settings = load_settings(home=home_of(ctx, home))
    demo = default_catalog_path()
    if settings.database_url is None and not (settings.home / "fairtel.db").is_file():
        return load_catalog(demo), {"file": str(demo)}  # no home here: nothing is stored, and nothing is created
    with bootstrap(settings) as app, app.db.connect() as conn:
        stored = current_catalog(conn)
        text = None if stored is None else catalog_text(conn, stored.version_id)
    if stored is None or text is None:
        from fairtel.cli._home import LOAD_A_CATALOG
        from fairtel.core.settings import Environment

        then = ("rating and billing use it too, with a warning (development only)"
                if settings.environment is Environment.DEVELOPMENT else
                f"rating and billing refuse (catalog_missing) in the {settings.environment.value} environment")
        notes.append(f"no catalog loaded in the home {settings.home}: showing the demo catalog {demo}; {then} until "
                     f"a catalog is loaded; {LOAD_A_CATALOG}")
        return load_catalog(demo), {"file": str(demo), "home": str(settings.home)}
    catalog, problems = parse_catalog(text, file="<stored catalog>")
    if catalog is None:
        raise InvalidInputError(problems, what="the stored catalog")
    return catalog, {"file": None, "home": str(settings.home), "catalog_version_id": stored.version_id,
                     "activated_at": stored.activated_at.isoformat()}


def show(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Catalog TOML file (default: the home's current catalog, "
                                                     "else the demo operator's).")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Show one plan's rules in full.")] = None,
    home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
    as_json: _JSON = False,
) -> None:
    """Summarise a catalog: plans, zones, rates, offers and the subjects (who is priced by which plan)."""
    notes: list[str] = []
    try:
        c, origin = _catalog_to_show(ctx, file, home, notes)
        selected = [c.plan(plan)] if plan else list(c.plans)
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    for n in notes if not as_json else ():
        err_console.print(n, highlight=False, soft_wrap=True, markup=False)
    where = origin["file"] or f"catalog version {origin['catalog_version_id']} stored in {origin['home']}"
    cur = c.operator.currency
    from fairtel.core.time import utc_now

    subjects = [s for s in _subjects(c, utc_now()) if not plan or s["plan"] == plan]
    if as_json:
        print_json({
            **origin, "operator": c.operator.id, "currency": cur, "timezone": c.operator.timezone,
            "version": c.version, "counts": c.counts(),
            "plans": [{"plan_id": p.id, "name": {"zh": p.name.zh, "en": p.name.en}, "monthly_fee": p.monthly_fee,
                       "allowances": [a.id for a in p.allowances], "rules": [r.id for r in p.rules],
                       "eligibility": p.eligibility.as_json()}
                      for p in selected],
            "offers": [{"offer_id": o.id, "provider": o.provider, "price": o.price, "period": str(o.period),
                        "price_changes": [{"from": ch.valid_from.isoformat(), "price": ch.price} for ch in o.price_changes]}
                       for o in c.offers],
            "subjects": subjects,
            "notes": notes,
        })
        return
    console.print(f"[bold]{escape(c.operator.name.en)}[/bold] ({escape(c.operator.name.zh)}) · {escape(str(where))}",
                  highlight=False)
    console.print(_summary(c), highlight=False, markup=False)
    plan_rows = []
    for p in selected:
        bundles = []
        for a in p.allowances:
            amount = "unlimited" if a.quantity is None else format_quantity(a.quantity, a.unit)
            if a.throttle_after is not None:
                amount += f" (throttled to {a.throttle_kbps} kbit/s after {format_quantity(a.throttle_after, Unit.BYTE)})"
            bundles.append(f"{a.match.kind} {amount}")
        plan_rows.append([p.id, f"{p.name.zh} / {p.name.en}", f"{p.monthly_fee} {cur}", "; ".join(bundles) or "-",
                          len(p.rules), p.eligibility.describe()])
    console.print(table("Plans", ["plan", "name", "monthly fee", "allowances", "rules", "who may order"],
                        _cells(plan_rows)))
    if plan:
        p = selected[0]
        console.print(table(f"Rules of {escape(p.id)}, first match wins", ["#", "rule_id", "applies to", "price"],
                            _cells([[i + 1, r.id, _match_text(r.match), "free" if r.free else f"{r.rate}"
                                     + (f" (daily cap {r.daily_cap} {cur})" if r.daily_cap else "")]
                                    for i, r in enumerate(p.rules)])))
    if subjects:  # a CGRateS import: the rating profiles that decide which plan prices whom
        console.print(table(f"Subjects: who is priced by which plan (the latest entry in effect wins; {ANY_SUBJECT}: "
                            "every subject without an entry of its own)", ["subject", "usage", "from", "plan", "now"],
                            _cells([[s["subject"], ", ".join(s["kinds"]) if s["kinds"] else "any", s["from"] or "always",
                                     s["plan"], _subject_state(s)] for s in subjects])))
    console.print(table("Destination zones", ["zone", "name", "prefixes"], _cells([
        [z.id, z.name.en, "fallback" if z.fallback else f"{len(z.prefixes)}: " + " ".join(z.prefixes[:8])
         + (" …" if len(z.prefixes) > 8 else "")] for z in c.zones
    ])))
    console.print(table("Roaming zones", ["zone", "name", "countries"], _cells([
        [z.id, z.name.en, "fallback" if z.fallback else " ".join(z.countries)] for z in c.roaming_zones
    ])))
    console.print(table("Time bands", ["band", "windows"], _cells([
        [b.id, "; ".join(str(w) for w in b.windows)] for b in c.bands
    ])))
    rate_rows = []
    for r in c.rates:
        steps = "; ".join(
            f"from {format_quantity(s.group_interval_start, r.unit)}: {s.rate}/{format_quantity(s.rate_unit, r.unit)}"
            f" per {format_quantity(s.increment, r.unit)}" + (f" + {s.connect_fee} connect" if s.connect_fee else "")
            for s in r.steps
        )
        cap = f"{r.max_cost} ({r.max_cost_strategy})" if r.max_cost is not None else "-"
        rate_rows.append([r.id, r.unit, steps, _rounding(r), cap])
    console.print(table(f"Rates ({cur})", ["rate", "unit", "steps", "rounding", "max cost"], _cells(rate_rows)))
    console.print(table("Value-added offers", ["offer", "name", "provider", "price", "period"], _cells([
        [o.id, f"{o.name.zh} / {o.name.en}", o.provider,
         "; ".join([f"{o.price} {cur}", *(f"{ch.price} {cur} from {ch.valid_from.isoformat()}" for ch in o.price_changes)]),
         o.period] for o in c.offers
    ])))


def import_cgrates_command(
    directory: Annotated[Path, typer.Argument(help="A CGRateS CSV tariff plan directory (Destinations.csv, Rates.csv, "
                                                   "DestinationRates.csv, RatingPlans.csv, RatingProfiles.csv, "
                                                   "Timings.csv).")],
    out: Annotated[Path, typer.Option("--out", help="The catalog TOML file to write.")],
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 currency of the plan's amounts.")] = "CNY",
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone the plan's timings are read in.")]
    = "Asia/Shanghai",
    tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant to import (default: the first in "
                                                                "RatingProfiles.csv).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="CATEGORY=KIND: rate a CGRateS category as voice, sms or data (repeatable).")] = None,
    increment_decimals: Annotated[int, typer.Option(
        "--increment-decimals", help="CGRateS general rounding_decimals: each increment's cost is rounded to it "
                                     "(-1: exact).")] = 5,
    as_json: _JSON = False,
) -> None:
    """Convert a CGRateS tariff plan into a fairtel catalog, keeping its ids; report what it cannot carry over."""
    mapping: dict[str, UsageKind] = {}
    for item in category or []:
        name, _, kind = item.partition("=")
        if kind not in {k.value for k in UsageKind} - {"vas"}:
            raise fail(InvalidInputError([Problem("--category", None, None, f"{item!r} is not CATEGORY=voice|sms|data",
                                                  "invalid_value")], what="option"), as_json=as_json)
        mapping[name] = UsageKind(kind)
    try:
        result = import_cgrates(directory, currency=currency, timezone=timezone, tenant=tenant, categories=mapping,
                                increment_decimals=None if increment_decimals < 0 else increment_decimals)
    except FairtelError as exc:
        if not as_json and isinstance(exc, InvalidInputError) and exc.problems:
            # each problem once, as `catalog validate` lists them: FILE:LINE: FIELD: message [code]
            for p in exc.problems:
                console.print(_problem_line(p), highlight=False, soft_wrap=True, markup=False)
            count = len(exc.problems)
            err_console.print(f"{exc.code}: {count} problem{'s' if count != 1 else ''} in the CGRateS tariff plan "
                              f"{directory}",
                              highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(2) from None
        raise fail(exc, as_json=as_json) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(result.text, encoding="utf-8")
    tmp.replace(out)
    problems = validate_catalog(out)
    notes = [{"file": p.file, "line": p.line, "field": p.field, "message": p.message, "code": p.code}
             for p in result.notes]
    if as_json:
        print_json({"directory": str(directory), "out": str(out), "tenant": result.tenant, "valid": not problems,
                    "counts": result.counts, "notes": notes,
                    "problems": [{"file": p.file, "line": p.line, "field": p.field, "message": p.message,
                                  "code": p.code} for p in problems]})
    else:
        for p in result.notes:
            console.print("note: " + _problem_line(p), highlight=False, soft_wrap=True, markup=False)
        for p in problems:
            console.print(_problem_line(p), highlight=False, soft_wrap=True, markup=False)
        n = result.counts
        state = "valid" if not problems else f"{len(problems)} problems"
        console.print(f"{out}: {state}: tenant {result.tenant}, {n['plans']} plans, {n['zones']} zones, "
                      f"{n['rates']} rates, {n['subjects']} subjects, {n['notes']} notes", highlight=False,
                      soft_wrap=True)
    if problems:
        raise typer.Exit(2)
