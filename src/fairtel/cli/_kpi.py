"""``fairtel kpi``: the month's service indicators (gathered in ``_care``, computed by ``fairtel.kpi``), and
``fairtel kpi complaints``: the complaints report an operator files, per category and per million subscribers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, table
from fairtel.core.errors import FairtelError, InvalidInputError, Problem

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.kpi import KpiReport
    from fairtel.kpi._complaint_report import ComplaintReport

NO_DATA = "n/a"  # a figure with nothing to compute it from (no complaint due, no survey answer): never Python's None


def _v(value: Any) -> Any:
    return NO_DATA if value is None else value


def print_kpis(report: KpiReport) -> None:
    """The month's KPIs as a table; a figure that has no data yet reads "n/a", its counts beside it say why."""
    from fairtel.care import category_label

    d = report.to_dict()
    c, a, n, s, ch, r = d["complaints"], d["assistant"], d["nps"], d["sla"], d["charges"], d["resolution"]
    rows: list[list[Any]] = [
        ["subscribers", d["subscribers"]],
        ["complaints", f"{c['total']} ({_v(c['per_million'])} per million)"],
        # complaints through every channel in the month: the published 0.78 per million is a yearly appeal rate,
        # judged by `fairtel kpi complaints`, not a target for these
        ["unexplained-charge complaints", f"{c['unexplained_charge']} ({_v(c['unexplained_charge_per_million'])} per million)"],
        *[[f"  {category_label(cat, 'en')}", f"{v['count']} ({_v(v['per_million'])} per million)"]
          for cat, v in c["by_category"].items()],
        [
            "SLA attainment",
            f"{_v(s['attainment'])} ({s['resolved_in_time']} of {s['resolved']} resolved; "
            f"{s['open_overdue']} open past deadline"
            + (f"; {s['outcome_unknown']} without a known outcome, not judged" if s.get("outcome_unknown") else "")
            + ")",
        ],
        ["time to resolve", "-" if r["median_hours"] is None else
         f"median {r['median_hours']} h, 90 % within {r['p90_hours']} h ({r['settled']} settled; "
         f"{r['reopened']} of {r['terms']} terms begun by a reopening)"],
        ["NPS", f"{_v(n['nps'])} ({n['responses']} answers: {n['promoters']} promoters, {n['detractors']} detractors)"],
        *[[f"  NPS {channel}", f"{_v(v['nps'])} ({v['responses']} answers)"] for channel, v in n.get("by_channel", {}).items()],
        ["intent recognition", f"{_v(a['recognition_rate'])} ({a['recognised']} of {a['classified']} messages)"],
        [
            "containment",
            f"{_v(a['containment_rate'])} ({a['conversations'] - a['handed_off']} of {a['conversations']} "
            f"conversations; hand-off {_v(a['handoff_rate'])})",
        ],
        [
            "unexplained-charge findings",
            f"{ch['unexplained_findings']} ({_amounts(ch['amounts_at_stake'])} at stake)",
        ],
        # what became of those charges: paid on an issued bill without consent, or refused by the gate and never billed
        *[[f"  {label}", f"{ch[key]['findings']} ({_amounts(ch[key]['amounts'])})"]
          for key, label in (("billed", "billed unconsented"), ("blocked", "blocked, never billed"),
                             ("not_billed_yet", "not billed yet"))],
        ["refunds", f"{ch['refunds']} ({_v(ch['refunded'])} {ch['currency']})"],
    ]
    t = d["rating_timeliness"]
    rows.append(
        [
            "rating timeliness",
            "not measured"
            if t is None
            else f"{_v(t['share'])} within {t['window_minutes']} min ({t['within_window']} of {t['records']})",
        ]
    )
    console.print(table(f"Service KPIs {d['period']}", ["indicator", "value"], rows))
    for note in d["notes"]:
        err_console.print(f"note: {note}", highlight=False)


def _amounts(by_currency: dict[str, str]) -> str:
    """Amounts in several currencies, never added together: ``213.00 CNY + 10.00 USD``."""
    return " + ".join(f"{_v(v)} {c}" for c, v in by_currency.items())


HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")]


def register(app: typer.Typer) -> None:
    kpi_app = typer.Typer(help="Service KPIs, and the complaints report per category.", invoke_without_command=True)

    @kpi_app.callback()
    def kpi(
        ctx: typer.Context,
        period: Annotated[str | None, typer.Option("--period", help="YYYY-MM or YYYYMM (default: this month).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the indicators as JSON.")] = False,
        home: HomeOpt = None,
    ) -> None:
        """Service KPIs: complaints per million, SLA, NPS, assistant recognition and containment, refunds."""
        if ctx.invoked_subcommand is not None:
            return
        from fairtel.cli._care import gather_kpis

        try:
            report = gather_kpis(app_for(ctx, home), period)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(report.to_dict())
        else:
            print_kpis(report)

    @kpi_app.command("complaints")
    def complaints(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="The month, YYYY-MM (or YYYYMM).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        lang: Annotated[str, typer.Option("--lang", help="zh or en: the categories' and the table's language.")] = "zh",
        home: HomeOpt = None,
    ) -> None:
        """Complaints (投诉) and appeals to the regulator (申诉) per million subscribers, by category, with the
        operators' published appeal rates as targets (judged on the year to date)."""
        try:
            report = gather_complaint_report(app_for(ctx, home), period, lang)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(report.to_dict())
        else:
            print_complaint_report(report)

    app.add_typer(kpi_app, name="kpi")


def gather_complaint_report(fapp: App, period_text: str, lang: str) -> ComplaintReport:
    """The month's complaints, and those of its year before it, with the lines in service at some time in the
    month (the month's per-million denominator, ``fairtel kpi``'s) and those in service at its end (the user base
    of the year-to-date appeal rates, as operators publish them), then ``complaint_report``."""
    from sqlalchemy import select

    from fairtel.cli._care import sla_of
    from fairtel.core.time import Period
    from fairtel.kpi import LineFact, lines_in_service, lines_in_service_at, parse_month
    from fairtel.kpi._complaint_report import LANGUAGES, complaint_report
    from fairtel.store import Subscriber, complaint_facts
    from fairtel.store._schema import table_of

    if lang not in LANGUAGES:
        raise InvalidInputError(
            [Problem("options", None, "--lang", f"one of {', '.join(LANGUAGES)}, not {lang!r}")], what="options"
        )
    tz = fapp.settings.timezone
    period = parse_month(period_text, tz)
    start, end = period.start, period.end
    year_start = Period(period.year, 1, tz).start
    with fapp.db.connect() as conn:
        # the lines in service at some time in the month (a line closed since counts), and at its end
        s = table_of(Subscriber)
        lines = [
            LineFact(r.activated_at, r.status, r.closed_at)
            for r in conn.execute(select(s.c.activated_at, s.c.status, s.c.closed_at).where(s.c.activated_at < end))
        ]
        subscribers, year_subscribers = lines_in_service(lines, start, end), lines_in_service_at(lines, end)
        complaints = complaint_facts(conn, start=year_start, end=end, policy=sla_of(fapp))
    return complaint_report(
        complaints,
        period=period.key,
        subscribers=subscribers,
        year_subscribers=year_subscribers,
        start=start,
        end=end,
        year_start=year_start,
        lang=lang,
    )


def print_complaint_report(report: ComplaintReport) -> None:
    if report.lang == "zh":
        title = (
            f"{report.period} 用户申诉统计（月内曾在网用户 {report.subscribers}，月末在网用户 {report.year_subscribers}"
            "（年累计申诉率的分母）；申诉：向电信管理部门提出的投诉）"
        )
    else:
        title = (
            f"Complaints {report.period} (lines in service during the month {report.subscribers}, at its end "
            f"{report.year_subscribers}, the year-to-date rates' base; appeals: complaints lodged with the regulator)"
        )
    console.print(table(title, list(report.headers()), [list(r) for r in report.rows()]))
    for note in report.notes:
        err_console.print(f"note: {note}", highlight=False)
