"""`fairtel advise` (best-plan advice) and `fairtel churn warn | retention` (early warning on the operator's data).

``register(app)`` adds ``advise`` and a ``churn`` group with ``warn`` and ``retention``; when the ``churn``
group already exists (cli/_churn.py), ``register_churn(sub)`` adds the two commands to it instead.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer

from fairtel.catalog import SALES_CHANNELS
from fairtel.cli._context import app_for
from fairtel.cli._ui import console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money
from fairtel.core.time import Period

if TYPE_CHECKING:
    from datetime import date

    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog, Refusal
    from fairtel.insight import ChurnData, ChurnWindow

RETENTION_FILE = "retention.csv"
MODEL_DIR = "churn-warning"
_USAGE = ["record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down",
          "peer", "roaming_country", "offer_id", "amount_minor", "currency"]

Home = Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _home_catalog(app: App, path: Path | None, notes: list[str]) -> Catalog:
    from fairtel.cli._home import home_catalog

    return home_catalog(app, path, notes)


def _home_usage(app: App, periods: list[str] | None = None) -> pl.LazyFrame:
    files = app.lake.files("usage", periods=periods)
    if not files:
        raise NotFoundError(f"no usage in {app.settings.lake_dir}: run `fairtel load DIR` or `fairtel ingest` first")
    lf = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
    names = lf.collect_schema().names()
    return lf.select([c for c in _USAGE if c in names])


def _home_subscribers(app: App) -> pl.DataFrame:
    from sqlalchemy import select

    from fairtel.store import Subscriber

    with app.db.connect() as conn:
        rows = conn.execute(select(Subscriber.msisdn, Subscriber.plan_id, Subscriber.activated_at, Subscriber.language,
                                   Subscriber.region, Subscriber.holder_since)).all()
    frame = pl.DataFrame(
        {"msisdn": [r[0] for r in rows], "plan_id": [r[1] for r in rows],
         "activated_at": [r[2] if r[2].tzinfo else r[2].replace(tzinfo=UTC) for r in rows],
         "language": [r[3] for r in rows], "region": [r[4] for r in rows],
         # an owner change: the current customer's history (tenure, usage, cases) begins then
         "holder_since": [None if r[5] is None else r[5] if r[5].tzinfo else r[5].replace(tzinfo=UTC) for r in rows]},
        schema={"msisdn": pl.String(), "plan_id": pl.String(), "activated_at": pl.Datetime("us", "UTC"),
                "language": pl.String(), "region": pl.String(), "holder_since": pl.Datetime("us", "UTC")},
    )
    if frame.height == 0:
        raise NotFoundError("no subscribers in this home: run `fairtel load DIR` first")
    return frame


def _home_data(app: App, catalog: Catalog) -> ChurnData:
    from sqlalchemy import select

    from fairtel.insight import ChurnData
    from fairtel.store import Complaint, consent_ledger

    with app.db.connect() as conn:
        ledger = pl.from_arrow(consent_ledger(conn))
        rows = conn.execute(select(Complaint.msisdn, Complaint.opened_at, Complaint.category)).all()
    complaints = pl.DataFrame(
        {"msisdn": [r[0] for r in rows], "at": [r[1] if r[1].tzinfo else r[1].replace(tzinfo=UTC) for r in rows],
         "category": [r[2] for r in rows]},
        schema={"msisdn": pl.String(), "at": pl.Datetime("us", "UTC"), "category": pl.String()},
    )
    from fairtel.billing import charged

    rated = app.lake.files("rated")
    charges = None
    if rated:  # what subscribers are charged: usage held off the bill (made after a suspension) is not
        lf = pl.scan_parquet(rated)
        charges = lf.filter(charged(lf.collect_schema().names())).select("msisdn", "started_at", "amount_minor").collect()
    assert isinstance(ledger, pl.DataFrame)
    from fairtel.cli._churn import home_status_history
    from fairtel.cli._fraud_detect import fraud_dir
    from fairtel.cli._home import home_lines
    from fairtel.fraud import CaseFiles
    from fairtel.insight._churn_warning import fraud_case_lines

    # the line states and the fraud cases (read only) say who the retention list leaves out
    lines = home_lines(app).select("msisdn", "status", "suspended_at", "closed_at")
    subscribers = _home_subscribers(app).join(lines, on="msisdn", how="left")
    return ChurnData(_home_usage(app), subscribers, catalog, complaints=complaints,
                     consent=ledger.select("msisdn", "event", "at"), charges=charges,
                     fraud_cases=fraud_case_lines(CaseFiles(fraud_dir(app)).load()),
                     status_history=home_status_history(app))


def _dir_data(directory: Path, catalog: Catalog | None) -> ChurnData:
    from fairtel.catalog import load_catalog
    from fairtel.insight import ChurnData, read_operator_dir

    parts = read_operator_dir(directory)
    cat = catalog or load_catalog(directory / "catalog.toml")
    subs, complaints, consent = parts["subscribers"], parts["complaints"], parts["consent"]
    assert isinstance(subs, pl.DataFrame)
    assert complaints is None or isinstance(complaints, pl.DataFrame)
    assert consent is None or isinstance(consent, pl.DataFrame)
    usage = parts["usage"]
    assert usage is not None
    return ChurnData(usage, subs, cat, complaints=complaints, consent=consent)


def _money(minor: int, currency: str) -> str:
    return f"{Money.from_minor(int(minor), currency).amount} {currency}"


# -- advise --------------------------------------------------------------------------------------------------
def _advice_fraud_cases(app: App) -> pl.DataFrame:
    """msisdn, period, opened_at of every open or confirmed fraud case on one of the home's lines (read only; a false alarm
    does not count): plan advice gives such a line nothing, since its usage may not be the subscriber's."""
    from fairtel.cli._fraud_detect import fraud_dir
    from fairtel.fraud import CaseFiles
    from fairtel.insight._advice import FRAUD_STATUSES

    cases = [(c.subject, c.period, c.opened_at) for c in CaseFiles(fraud_dir(app)).load()
             if c.subject_kind == "line" and str(c.status) in FRAUD_STATUSES]
    # when each was opened: in the month a number changed hands, a case opened before the current holder's
    # activation is an earlier holder's (``advise`` leaves it out)
    return pl.DataFrame({"msisdn": [m for m, _, _ in cases], "period": [p for _, p, _ in cases],
                         "opened_at": [o for _, _, o in cases]},
                        schema={"msisdn": pl.String(), "period": pl.String(), "opened_at": pl.Datetime("us", "UTC")})


def advise_command(
    ctx: typer.Context,
    megaline: Annotated[Path | None, typer.Option("--megaline", help="A Megaline data directory instead of the home.")] = None,
    catalog_file: Annotated[Path | None, typer.Option("--catalog", help="Catalog file (default: the home's, or Megaline's).")] = None,
    months: Annotated[int, typer.Option("--months", help="Billing months to price, ending with --until (0: all).")] = 3,
    until: Annotated[str | None, typer.Option(
        "--until", help="Last month YYYY-MM, one that has ended (default: the latest ended month with usage).")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write every subscriber's advice and notice here.")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Notice language zh|en (default: the subscriber's).")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the largest savings to show.")] = 10,
    plans: Annotated[list[str] | None, typer.Option(
        "--plans", metavar="ID,ID", help="Only these plans may be advised: ids separated by commas (or the option repeated).")] = None,
    channel: Annotated[str | None, typer.Option(
        "--channel", help=f"The channel the advice is given through ({', '.join(SALES_CHANNELS)}): a plan sold only "
        "through other channels is not advised (without it: no such plan is).")] = None,
    explain: Annotated[str | None, typer.Option(
        "--explain", metavar="MSISDN", help="Advise this subscriber only, and say why each plan was or was not advised.")] = None,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Best plan for each subscriber: their actual months priced under every plan they could order, by the rating engine.

    Only billing months that have ended on the operator's clock are priced; closed and suspended lines, lines
    with an open or confirmed fraud case, and lines whose subscriber refuses marketing are advised nothing (counted
    as skipped)."""
    from fairtel.billing import BillingPolicy
    from fairtel.catalog import load_catalog
    from fairtel.cli._home import home_gate, home_lines
    from fairtel.core.time import utc_now
    from fairtel.insight import advise, load_megaline_catalog, notice_text, read_megaline
    from fairtel.insight._advice import check_ended, not_ended
    from fairtel.rating import drop_held

    notes: list[str] = []
    now = utc_now()  # the operator's clock: only months ended by now are priced
    pending: dict[str, Refusal] = {}  # months in the lake not read: not ended by now (period → why)
    fraud = status = None
    do_not_contact: set[str] = set()
    wanted = None if plans is None else [p.strip() for item in plans for p in item.split(",") if p.strip()]
    try:
        if wanted is not None and not wanted:
            raise InvalidInputError([Problem("--plans", None, None, "no plan id given", "missing_value")], what="--plans")
        if channel is not None and channel not in SALES_CHANNELS:
            raise InvalidInputError([Problem("--channel", None, None, f"{channel!r} is not one of "
                                             f"{', '.join(SALES_CHANNELS)}", "invalid_value")], what="--channel")
        with reporter(quiet=as_json) as rep:
            if megaline is not None:
                data = read_megaline(megaline)
                catalog = load_catalog(catalog_file) if catalog_file else load_megaline_catalog()
                if wanted is not None:
                    catalog.plan_ids(wanted, what="--plans")  # before any pricing: an unknown id fails at once
                usage, subscribers = data.usage, data.subscribers.select("msisdn", "plan_id", "language")
                home_bill: dict[str, Any] = {}  # Megaline charges whole months and has no consent ledger
            else:
                app = app_for(ctx, home)
                catalog = _home_catalog(app, catalog_file, notes)
                if wanted is not None:
                    catalog.plan_ids(wanted, what="--plans")  # before the lake is read: an unknown id fails at once
                # only the lake's partitions of the months priced are read, and of those that have ended (an --until
                # that has not ended is refused before the lake is read)
                tz = catalog.operator.timezone
                if until is not None:
                    check_ended(Period.parse(until, tz), now)
                stored = [p for p in app.lake.periods("usage") if until is None or p <= until]
                ended = [p for p in stored if not_ended(Period.parse(p, tz), now) is None]
                chosen = ended[-months:] if months else ended
                lines = home_lines(app)
                # usage rating holds off the bill (made at or after a line's suspension) is not what anyone paid
                usage = drop_held(_home_usage(app, chosen).collect(), lines)
                pending = {k: late for k in stored if k not in ended and (late := not_ended(Period.parse(k, tz), now))}
                # closed and suspended lines, and lines under a fraud case, are advised nothing; a closed line's
                # fee is pro-rated to its closing, as its bill's
                closing = pl.when(pl.col("status") == "closed").then(pl.col("closed_at")).alias("closed_at")
                subscribers = _home_subscribers(app).join(lines.select("msisdn", closing), on="msisdn", how="left")
                fraud = _advice_fraud_cases(app)
                status = lines.select("msisdn", "status")
                # a notice of a cheaper plan made from a line's usage is marketing by automated profiling: a line
                # whose subscriber refuses it gets none (PIPL Art. 24)
                from fairtel.cli._churn import home_marketing_refusals

                do_not_contact = home_marketing_refusals(app)
                # priced as this home's bills are: every month in service with its fee (pro-rated in the month of
                # activation or closing), VAS through the consent gate, taxed as the bill run taxes
                home_bill = {"prorate": True, "gate": home_gate(app, catalog, lines=lines),
                             "policy": BillingPolicy(tax_rates=app.settings.tax_rates)}
            if explain is not None:
                subscribers = subscribers.filter(pl.col("msisdn") == explain)
                if subscribers.height == 0:
                    raise NotFoundError(f"no subscriber {explain}", details={"msisdn": explain})
            # the register holds no birth date: no age is known, and a plan for some ages only is advised to no one
            result = advise(usage, catalog, subscribers, months=months or None, until=until, progress=rep,
                            plans=wanted, channel=channel, at=now, now=now, line_status=status, fraud_cases=fraud, do_not_contact=do_not_contact,
                            **home_bill)
            said = result.notes()  # the months priced first, then those left out, then the lines advised nothing
            told = len(notes)  # the catalog's notes, said in English alone
            notes.extend([*said[:1], *(f"left out {k}: {why.en}" for k, why in pending.items()), *said[1:]])
            shown_zh = result.notes("zh")  # the notes printed for --language zh (the JSON keeps them in English)
            notes_zh = [*notes[:told], *shown_zh[:1], *(f"未计算 {k}：{why.zh}" for k, why in pending.items()),
                        *shown_zh[1:]]
            why = None if explain is None else result.explain(explain)
            if megaline is None:  # the home's subscribers, in clear: recorded before anything is shown
                from fairtel.cli._audit import audit_shown, plural

                if csv is not None:
                    audit_shown(ctx, app, action="advice.export", subjects=result.advice["msisdn"].to_list(),
                                what=plural(result.advice.height, "subscriber") + " with advice", to=csv)
                shown = [explain] if explain is not None else result.savers().head(top)["msisdn"].to_list()
                audit_shown(ctx, app, action="advice.list", subjects=shown,
                            what="the plan advice of one subscriber" if explain is not None else "the largest savings")
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    langs = dict(zip(subscribers["msisdn"].to_list(), subscribers["language"].to_list(), strict=True)) if "language" in subscribers.columns else {}
    summary = result.summary()
    summary["left_out"] = [*({"period": k, "code": w.code, "zh": w.zh, "en": w.en} for k, w in pending.items()),
                           *summary["left_out"]]
    if why is not None:
        summary["explain"] = why
    savers = result.savers()
    if csv is not None:
        rows = result.advice.to_dicts()
        out = result.advice.with_columns(
            pl.Series("notice", [notice_text(r, catalog, language or langs.get(r["msisdn"]) or "en", vas_priced=result.vas_priced,
                                                 tax_included=bool(result.tax_rates)) for r in rows], dtype=pl.String)
        )
        csv.parent.mkdir(parents=True, exist_ok=True)
        tmp = csv.with_name(f".{csv.name}.tmp")
        out.write_csv(tmp)
        tmp.replace(csv)
        summary["csv"] = str(csv)
    if as_json:
        summary["top"] = [
            {**r, "notice": notice_text(r, catalog, language or langs.get(r["msisdn"]) or "en", vas_priced=result.vas_priced,
                                                 tax_included=bool(result.tax_rates))} for r in savers.head(top).to_dicts()
        ]
        summary["notes"] = notes
        print_json(summary)
        return
    lang = "zh" if language == "zh" else "en"
    for n in notes_zh if lang == "zh" else notes:
        console.print(f"说明：{n}" if lang == "zh" else f"note: {n}", highlight=False)
    cur = result.currency
    if why is not None:
        _show_explain(why, lang)
        return
    if lang == "zh":
        console.print(
            f"共 {summary['subscribers']} 位用户按 {'、'.join(result.periods) or '无账期'} 在 {len(result.plans)} 个可办理"
            f"套餐下计算；{summary['would_save']} 位换用其他套餐会更省钱，合计 {summary['total_saving']} {cur}。",
            highlight=False)
    else:
        console.print(
            f"{summary['subscribers']} subscribers priced over {', '.join(result.periods) or 'no months'} under "
            f"{len(result.plans)} plans on offer; {summary['would_save']} would have paid less on another plan, "
            f"{summary['total_saving']} {cur} in all.", highlight=False)
    for x in summary["excluded"]:
        console.print(f"不建议：{x['plan_id']}：{'；'.join(r['zh'] for r in x['reasons'])}" if lang == "zh" else
                      f"not advised: {x['plan_id']}: {'; '.join(r['en'] for r in x['reasons'])}", highlight=False)
    for r in summary["refused"]:
        console.print(f"不向 {r['subscribers']} 位用户建议 {r['plan_id']}：{r['zh']}" if lang == "zh" else
                      f"not advised to {r['subscribers']} subscriber{'s' if r['subscribers'] != 1 else ''}: "
                      f"{r['plan_id']}: {r['en']}", highlight=False)
    rows_out = [[r["msisdn"], r["current_plan"], _money(r["current_minor"], cur), r["best_plan"], _money(r["best_minor"], cur),
                 _money(r["saving_minor"], cur), r["months"]] for r in savers.head(top).iter_rows(named=True)]
    if rows_out:
        if lang == "zh":
            console.print(table("节省最多的用户", ["号码", "套餐", "已支付", "最优套餐", "所需费用", "可节省", "月数"], rows_out))
        else:
            console.print(table("largest savings", ["msisdn", "plan", "paid", "best plan", "would cost", "saving", "months"],
                                rows_out))
        first = savers.row(0, named=True)
        console.print(notice_text(first, catalog, language or langs.get(first["msisdn"]) or "en", vas_priced=result.vas_priced,
                                  tax_included=bool(result.tax_rates)), highlight=False)


def _show_explain(why: dict[str, Any], lang: str) -> None:
    """One line a plan (reasons can be long: a table would cut them), in ``lang`` (zh or en)."""
    cur = why["currency"]
    zh = lang == "zh"
    if zh:
        span = "、".join(why["periods"]) or "无账期"
        console.print(f"{why['msisdn']}（当前套餐 {why['current_plan']}）在 {span} 各套餐的费用：", highlight=False)
    else:
        span = ", ".join(why["periods"]) or "no months"
        console.print(f"{why['msisdn']} on {why['current_plan']}, each plan over {span}:", highlight=False)
    if why.get("skipped"):
        console.print(f"不为此号码提供建议：{why['skipped']['zh']}" if zh
                      else f"no advice for this line: {why['skipped']['en']}", highlight=False)
    for p in why["plans"]:
        cost = ("未计算" if zh else "not priced") if p["total"] is None else f"{p['total']} {cur}"
        if p["current"]:
            cheapest = why["best_plan"] == p["plan_id"]
            if zh:
                state = "当前套餐，已是可办理套餐中最省钱的" if cheapest else "当前套餐"
            else:
                state = "current plan, the cheapest it could order" if cheapest else "current plan"
        elif p["advised"]:
            state = "建议更换" if zh else "advised"
        elif p["reasons"]:
            state = ("不建议：" + "；".join(r["zh"] for r in p["reasons"]) if zh
                     else "not advised: " + "; ".join(r["en"] for r in p["reasons"]))
        else:
            state = "费用更高" if zh else "costs more"
        console.print(f"  {p['plan_id']}：{cost}；{state}" if zh else f"  {p['plan_id']}: {cost}; {state}",
                      highlight=False, soft_wrap=True)


# -- churn warn / retention ---------------------------------------------------------------------------------
def warn_command(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Option("--dir", help="An operator directory (canonical Parquet usage) instead of the home.")] = None,
    catalog_file: Annotated[Path | None, typer.Option("--catalog", help="Catalog file (default: the home's or the directory's).")] = None,
    observation_days: Annotated[int, typer.Option(help="Days of behaviour the features describe (multiple of 7).")] = 28,
    lead_days: Annotated[int, typer.Option(help="Days between the end of observation and the label window.")] = 14,
    label_days: Annotated[int, typer.Option(help="Days of the label window.")] = 14,
    drop: Annotated[float, typer.Option(help="Churned: label-window activity below this share of the observed.")] = 0.5,
    out: Annotated[Path | None, typer.Option("--out", help="Retention list CSV (default <home>/outbox/retention.csv).")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the retention list to show.")] = 10,
    home: Home = None,
    as_json: Json = False,
) -> None:
    """Train on earlier cuts, validate on the latest labelled one, score everyone now; write the retention list."""
    from fairtel.insight import ChurnWindow, churn_early_warning, retention_csv

    notes: list[str] = []
    try:
        window = ChurnWindow(observation_days=observation_days, lead_days=lead_days, label_days=label_days, drop=drop)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        app = app_for(ctx, home)
        with reporter(quiet=as_json) as rep:
            if directory is not None:
                from fairtel.catalog import load_catalog

                data = _dir_data(directory, load_catalog(catalog_file) if catalog_file else None)
            else:
                data = _home_data(app, _home_catalog(app, catalog_file, notes))
            try:
                warning = churn_early_warning(data, window=window, progress=rep)
            except InvalidInputError as exc:
                raise _explain_usage_gap(exc, data, window) from None
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    scored = warning.retention_list()  # every line scored: the lake keeps them all (the dashboard's churn figures)
    from fairtel.cli._churn import home_marketing_refusals, refusals_note, without_refusals

    # the list handed out for calls leaves out the lines that refuse marketing (PIPL Art. 24)
    ranked, do_not_contact = without_refusals(scored, home_marketing_refusals(app))
    target = out or app.settings.home / "outbox" / RETENTION_FILE
    from fairtel.cli._audit import audit_shown, plural

    try:
        audit_shown(ctx, app, action="retention.export", subjects=ranked["msisdn"].to_list(),
                    what=plural(ranked.height, "subscriber") + " on the retention list", to=target)
        audit_shown(ctx, app, action="retention.list", subjects=ranked.head(top)["msisdn"].to_list(),
                    what="the top of the retention list")
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    retention_csv(ranked).write_csv(tmp)
    tmp.replace(target)
    model_dir = warning.model.save(app.settings.home / "models" / MODEL_DIR)
    lake_part = _publish_retention(app, scored, warning.cuts.scoring)
    summary = warning.summary() | {"retention_csv": str(target), "retention_lake": str(lake_part), "model": str(model_dir),
                                   "notes": notes, "do_not_contact": do_not_contact}
    if as_json:
        summary["top"] = retention_csv(ranked.head(top)).to_dicts()
        print_json(summary)
        return
    v = warning.validation
    console.print(
        f"validation cut {warning.cuts.validation} (trained on {', '.join(c.isoformat() for c in warning.cuts.train)}): "
        f"ROC-AUC {v.roc_auc:.3f}, PR-AUC {v.pr_auc:.3f}, top-decile lift {v.top_decile_lift:.2f} "
        f"({v.positives} churners of {v.n}); at the threshold {v.threshold:.4f}: F1 {v.f1:.3f}, precision "
        f"{v.precision:.3f}, recall {v.recall:.3f}", highlight=False)
    console.print(f"scored {warning.scores.height} subscribers at {warning.cuts.scoring}; retention list: {target}",
                  highlight=False)
    skipped = warning.counts.get("skipped") or {}
    if any(skipped.values()):
        console.print("left out of the list / 未列入名单: " + ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in skipped.items() if n)
                      + f" (closed or suspended at {warning.status_as_of:%Y-%m-%d %H:%M} UTC, the end of the scored "
                      f"period, by the {warning.status_from}; or under an open or confirmed fraud case / "
                      f"在评分期末（UTC {warning.status_as_of:%Y-%m-%d %H:%M}）已销户或停机，或有未结或已确认的欺诈案件)",
                      highlight=False)
    if do_not_contact:
        console.print(refusals_note(do_not_contact), highlight=False, soft_wrap=True)
    _show(ranked.head(top), warning.currency)


def _usage_days(data: ChurnData) -> list[date]:
    """The operator's local days that have any usage, in order."""
    tz = data.catalog.operator.timezone
    days = (data.usage.lazy().select(pl.col("started_at").dt.convert_time_zone(tz).dt.date().alias("day"))
            .unique().collect().get_column("day").sort())
    return list(days.to_list())


def _explain_usage_gap(exc: InvalidInputError, data: ChurnData, window: ChurnWindow) -> FairtelError:
    """A warning that failed on its data (typically: ``label must have exactly two classes, found 1``) because
    days without any usage lie inside the span (a month not loaded): a label window there makes every
    subscriber look churned. Says which days and months, which cuts they spoil and what the warning needs;
    any other failure is returned as it was."""
    from datetime import timedelta
    from itertools import pairwise

    from fairtel.insight import Activity, ChurnWarningError, plan_cuts

    if isinstance(exc, ChurnWarningError):  # already says what the data lacks
        return exc
    try:
        days = _usage_days(data)
    except (FairtelError, pl.exceptions.PolarsError):
        return exc
    gaps = [(a + timedelta(days=1), b - timedelta(days=1)) for a, b in pairwise(days) if (b - a).days > 1]
    if not gaps:
        return exc
    first, last = days[0], days[-1]

    def span(a: date, b: date) -> str:
        return a.isoformat() if a == b else f"{a.isoformat()} to {b.isoformat()}"

    missing = ", ".join(f"{span(a, b)} ({(b - a).days + 1} days)" for a, b in gaps)
    seen = {f"{d:%Y-%m}" for d in days}
    months, d = [], first.replace(day=1)
    while d <= last:
        if f"{d:%Y-%m}" not in seen:
            months.append(f"{d:%Y-%m}")
        d = (d + timedelta(days=32)).replace(day=1)
    spoiled: list[str] = []
    try:
        empty = pl.DataFrame()
        cuts = plan_cuts(Activity(empty, empty, first, last, data.catalog.operator.timezone), window)
        for cut in (*cuts.train, cuts.validation):
            lab0 = cut + timedelta(days=window.lead_days)
            lab1 = lab0 + timedelta(days=window.label_days - 1)
            obs0 = cut - timedelta(days=window.observation_days)
            hit = [f"{w} {span(a, b)}" for w, (a, b) in (("observed weeks", (obs0, cut - timedelta(days=1))),
                                                          ("label window", (lab0, lab1)))
                   if any(g0 <= b and a <= g1 for g0, g1 in gaps)]
            if hit:
                spoiled.append(f"cut {cut.isoformat()}: {' and '.join(hit)}")
    except FairtelError:
        pass
    need = window.observation_days + 2 * window.horizon
    since_gap = (last - gaps[-1][1]).days
    months_text = f"; no usage at all in {', '.join(months)}" if months else ""
    spoiled_text = f" Windows with missing days here: {'; '.join(spoiled)}." if spoiled else ""
    told = "; ".join(p.message for p in exc.problems) or str(exc)
    message = (
        f"usage has days without a single record: {missing}, between {first.isoformat()} and {last.isoformat()}"
        f"{months_text}. The warning compares each subscriber's use in the observed weeks before a cut with the "
        f"label window after it, so a window in a gap makes every subscriber look churned (or none), and the "
        f"model cannot learn ({told}).{spoiled_text} It needs usage without gaps over at least {need} days "
        f"({window.observation_days} observed + 2 × ({window.lead_days} lead + {window.label_days} label)) up to "
        f"the last day; since the last gap there {'is 1 day' if since_gap == 1 else f'are {since_gap} days'}. Load the missing usage (fairtel ingest / fairtel "
        f"load), or warn on a span without gaps."
    )
    return ChurnWarningError([Problem("usage", None, "started_at", message)], what="churn data")


def _show(ranked: pl.DataFrame, currency: str) -> None:
    rows = [[r["rank"], r["msisdn"], f"{r['probability']:.2f}", _money(r["expected_value_minor"], currency), r["reason_1_en"] or "",
             r["reason_2_en"] or "", r["reason_3_en"] or ""] for r in ranked.iter_rows(named=True)]
    console.print(table("retention list (probability × monthly revenue)",
                        ["rank", "msisdn", "p", "expected value", "reason 1", "reason 2", "reason 3"], rows))


def retention_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option("--file", help="Retention CSV (default <home>/outbox/retention.csv).")] = None,
    top: Annotated[int, typer.Option("--top")] = 20,
    language: Annotated[str, typer.Option("--language", help="Reasons in zh or en.")] = "en",
    home: Home = None,
    as_json: Json = False,
) -> None:
    """The retention list written by `fairtel churn warn`, highest expected value first."""
    from fairtel.cli._audit import audit_shown, plural

    fapp = app_for(ctx, home)
    path = file or fapp.settings.home / "outbox" / RETENTION_FILE
    if not path.is_file():
        raise fail(NotFoundError(f"{path}: no retention list; run `fairtel churn warn` first"), as_json=as_json)
    from fairtel.cli._churn import home_marketing_refusals, refusals_note, without_refusals

    # a line whose subscriber refused marketing since the list was written is left out as well (PIPL Art. 24)
    listed, do_not_contact = without_refusals(pl.read_csv(path, infer_schema=False), home_marketing_refusals(fapp))
    frame = listed.head(top)
    try:
        audit_shown(ctx, fapp, action="retention.list", subjects=frame["msisdn"].to_list() if "msisdn" in frame.columns else [],
                    what=plural(frame.height, "retention list row"))
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    if as_json:
        from fairtel.insight._churn_warning import retention_records

        try:
            print_json(retention_records(frame, source=str(path)))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        return
    if do_not_contact:
        console.print(refusals_note(do_not_contact), highlight=False, soft_wrap=True)
    lang = "zh" if language == "zh" else "en"
    rows: list[list[Any]] = [[r["rank"], r["msisdn"], r["probability"], f"{r['expected_value']} {r['currency']}",
                              *(r[f"reason_{k}_{lang}"] or "" for k in (1, 2, 3))] for r in frame.iter_rows(named=True)]
    console.print(table(f"retention list ({path})", ["rank", "msisdn", "p", "expected value", "reason 1", "reason 2", "reason 3"], rows))


def register_churn(sub: typer.Typer) -> None:
    sub.command("warn")(warn_command)
    sub.command("retention")(retention_command)


def register(app: typer.Typer, *, churn: typer.Typer | None = None) -> None:
    app.command("advise")(advise_command)
    if churn is not None:
        register_churn(churn)
        return
    sub = typer.Typer(help="Churn early warning on the operator's own data.", no_args_is_help=True)
    register_churn(sub)
    app.add_typer(sub, name="churn")


def _publish_retention(app: Any, ranked: pl.DataFrame, scored_at: Any) -> Path:
    """The retention list as the lake dataset ``retention`` (the console and the API read it): one part per
    scoring run's period, replaced by the next run of the same period."""
    from datetime import datetime

    from fairtel.core.time import Period
    from fairtel.insight import retention_csv

    at = scored_at if isinstance(scored_at, datetime) else datetime.combine(scored_at, datetime.min.time(), tzinfo=UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    period = Period.containing(at, app.settings.timezone)
    exported = retention_csv(ranked)
    reasons = [f"reason_{k + 1}_en" for k in range(3) if f"reason_{k + 1}_en" in exported.columns]
    table = exported.with_columns(
        pl.concat_str([pl.col(c).fill_null("") for c in reasons], separator="; ").str.strip_chars("; ").alias("reasons")
        if reasons else pl.lit("").alias("reasons"),
    ).to_arrow()
    path: Path = app.lake.write("retention", period, table, part="churn-warn")
    return path
