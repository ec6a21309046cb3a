"""Service indicators for the dashboard, the retention list and NPS answers."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from fairtel.api._access import OWN_DATA, Access
from fairtel.api._marketing import opted_out_lines
from fairtel.api._paging import Page, money_text, slice_page
from fairtel.care import SurveyAnswer
from fairtel.care import nps as nps_of
from fairtel.care._surveys import respondent_scores
from fairtel.core.ids import new_id
from fairtel.core.time import Period, utc_now, zone
from fairtel.kpi import (
    FindingFact,
    LineFact,
    amount_at_risk,
    charge_figures,
    complaint_rates,
    complaint_terms,
    lines_in_service_by_period,
    sla_attainment,
)
from fairtel.privacy import Permission, hide_identity_numbers
from fairtel.store import (
    Adjustment,
    FraudCase,
    Lake,
    Subscriber,
    Survey,
    catalog_currency,
    complaint_facts,
    register_version,
)
from fairtel.store import Finding as FindingRow
from fairtel.store._report import text_problem
from fairtel.store._schema import table_of

RETENTION_DATASETS = ("retention", "churn_scores", "churn")


class Point(BaseModel):
    label: str
    value: float


class Series(BaseModel):
    title: str
    unit: str
    available: bool = True
    note: str | None = None
    points: list[Point] = Field(default_factory=list)


class MoneyPoint(BaseModel):
    label: str
    value: str = Field(description="An amount as a decimal string in the series' currency (its `unit`), never a float.")


class MoneySeries(BaseModel):
    title: str
    unit: str = Field(description="The currency of the points' amounts.")
    available: bool = True
    note: str | None = None
    points: list[MoneyPoint] = Field(default_factory=list)


class Kpis(BaseModel):
    subscribers: int = Field(description="Lines in service at some time this month, as `fairtel kpi` counts them.")
    currency: str
    revenue_at_risk: str = Field(description="Unexplained-charge findings (the charge kinds `fairtel kpi` counts) still open "
                                             "or confirmed: their amounts, in the operator's currency.")
    refunded: str
    complaints_per_million: Series
    findings_by_kind: Series = Field(description="Unexplained-charge findings by kind (the charge kinds), whatever their status.")
    refunds_by_month: MoneySeries = Field(description="Refunds by month they were made, in `currency`: each amount a decimal string.")
    fraud_cases: Series
    churn_risk: Series
    rating_timeliness: Series
    nps: Series
    sla_attainment: Series = Field(description="Resolution terms (a complaint's opening, each reopening) settled by their "
                                               "deadline, of those settled or past their deadline, by month the term began.")


def _month(at: datetime, tz: str) -> str:
    local = at.astimezone(zone(tz))
    return f"{local.year:04d}-{local.month:02d}"


def _months_between(first: str, last: str, tz: str) -> list[Period]:
    """The periods ``first`` to ``last`` (keys YYYY-MM, both included), one by one."""
    out = [Period.parse(first, tz)]
    while out[-1].key < last:
        out.append(out[-1].next())
    return out


# ``fairtel assure`` records each run that writes (findings or none) in this lake dataset: one row per run,
# ``ran_at`` (UTC) and ``findings`` (how many it found), the period being the month of the run. It is what tells
# "ran, found nothing" from "never ran": the findings themselves are written only when there are some.
ASSURE_RUNS = "assure_runs"


def last_assure_run(lake: Lake) -> tuple[datetime, int] | None:
    """When charge assurance last ran (and wrote), and how many findings it recorded; None when it never did."""
    last: tuple[datetime, int] | None = None
    for period in reversed(lake.periods(ASSURE_RUNS)):
        for path in lake.files(ASSURE_RUNS, periods=[period]):
            try:
                rows = pq.read_table(path, columns=["ran_at", "findings"]).to_pylist()
            except (OSError, pa.ArrowException, KeyError):  # an unreadable record says nothing of the run
                continue
            for row in rows:
                at = row["ran_at"]
                if isinstance(at, datetime) and (last is None or at > last[0]):
                    last = (at, int(row["findings"] or 0))
        if last is not None:
            return last
    return last


def _when(at: datetime, tz: str) -> str:
    """A moment as the dashboard shows it: the operator's local date and time, to the minute."""
    return at.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


# the lines in service per month, by the database and the register's version (``store.register_version``: every
# import or line suspension moves it): reading the whole register took seconds a request at a few hundred
# thousand lines, for figures that change only when the register does
_IN_SERVICE: dict[tuple[str, int, int, str, tuple[tuple[datetime, datetime], ...]], list[int]] = {}
_IN_SERVICE_LOCK = threading.Lock()


def _lines_in_service(conn: Any, bounds: list[tuple[datetime, datetime]], until: datetime) -> list[int]:
    """``kpi.lines_in_service_by_period`` over the register for ``bounds`` (lines activated before ``until``),
    remembered until the register changes."""
    s = table_of(Subscriber)
    # the register's change log, and its size and latest change besides (a row written by other means than the
    # register import or a suspension, as a migration or a repair might)
    count, latest = conn.execute(select(func.count(), func.max(s.c.updated_at))).one()
    key = (conn.engine.url.render_as_string(hide_password=True), register_version(conn), int(count), str(latest),
           tuple(bounds))
    with _IN_SERVICE_LOCK:
        known = _IN_SERVICE.get(key)
    if known is not None:
        return list(known)
    counts = list(lines_in_service_by_period(
        (LineFact(r.activated_at, r.status, r.closed_at)
         for r in conn.execute(select(s.c.activated_at, s.c.status, s.c.closed_at).where(s.c.activated_at < until))),
        bounds))
    with _IN_SERVICE_LOCK:
        if len(_IN_SERVICE) > 64:
            _IN_SERVICE.clear()
        _IN_SERVICE[key] = counts
    return list(counts)


def kpis(acc: Access, lake: Lake, *, tz: str, currency: str) -> Kpis:
    acc.require(Permission.AGGREGATE_READ)
    conn = acc.conn
    # the money is the catalog's currency (the one rating, bills and refunds are in); the setting when none is loaded
    currency = catalog_currency(conn) or currency

    # as `fairtel kpi` counts and judges them, month by month: the complaints opened in the month (each once,
    # however often reopened) over the lines in service at some time in it; the resolution terms begun in the
    # month (an opening or a reopening) against the deadline each recorded, else the operator's SLA setting
    facts = complaint_facts(conn, policy=acc.sla)
    opened_in = sorted({_month(f.opened_at, tz) for f in facts})
    begun_in = sorted({_month(term.started_at, tz) for f in facts for term in complaint_terms(f, acc.sla)})
    now = utc_now()
    sla = Series(title="complaints resolved in time", unit="share")
    for m in begun_in:
        p = Period.parse(m, tz)
        share = sla_attainment(facts, now, acc.sla, start=p.start, end=p.end)["attainment"]
        if share is not None:
            sla.points.append(Point(label=m, value=float(share)))
    if not sla.points:
        sla.available, sla.note = False, "no complaint due yet"
    cpm = Series(title="complaints per million subscribers", unit="per million")
    # every month from the first complaint's to the last one's, a month without a complaint at 0 (when lines
    # were in service in it): the series must not join the months on either side of a quiet one
    months = _months_between(opened_in[0], opened_in[-1], tz) if opened_in else []
    # the headline subscribers are `fairtel kpi`'s of this month: lines in service at some time in it
    this_month = Period.containing(now, tz)
    until = max(p.end for p in [*months, this_month])
    *lines, subscribers = _lines_in_service(conn, [(p.start, p.end) for p in [*months, this_month]], until)
    for p, in_service in zip(months, lines, strict=True):
        rate = complaint_rates(facts, in_service, start=p.start, end=p.end)["per_million"]
        if rate is not None:
            cpm.points.append(Point(label=p.key, value=float(rate)))
    if not cpm.points:
        cpm.available, cpm.note = False, "no complaints or no active subscribers yet"

    # the findings as `fairtel kpi` counts them (fairtel.kpi decides which kinds and statuses), read as totals
    f = table_of(FindingRow)
    groups = [FindingFact(r.kind, int(r.amount), r.currency, r.status, int(r.n)) for r in conn.execute(
        select(f.c.kind, f.c.currency, f.c.status, func.count().label("n"),
               func.coalesce(func.sum(f.c.amount_minor), 0).label("amount")).group_by(f.c.kind, f.c.currency, f.c.status))]
    by_kind = charge_figures(groups, (), currency)["by_kind"]
    findings = Series(title="unexplained-charge findings", unit="findings", points=[Point(label=k, value=n) for k, n in by_kind.items()])
    if not by_kind:  # no charge finding recorded: assurance never ran, or ran and found none of them
        last = last_assure_run(lake)
        if last is not None:  # a clean run is the good outcome: say so, with when it ran
            findings.note = f"0 findings (last run {_when(last[0], tz)})"
        elif not groups:  # assurance that found only other kinds leaves the series available and empty
            findings.available, findings.note = False, "charge assurance has not run yet (fairtel assure)"
    at_risk = amount_at_risk(groups, currency)

    a = table_of(Adjustment)
    refunds: defaultdict[str, int] = defaultdict(int)
    for r in conn.execute(select(a.c.created_at, a.c.amount_minor).where(a.c.kind == "refund", a.c.currency == currency)):
        refunds[_month(r.created_at, tz)] += int(r.amount_minor)
    refund_series = MoneySeries(
        title="refunds", unit=currency, points=[MoneyPoint(label=m, value=money_text(v, currency) or "0") for m, v in sorted(refunds.items())]
    )
    if not refunds:
        refund_series.available, refund_series.note = False, "no refunds yet"

    fc = table_of(FraudCase)
    cases = conn.execute(select(fc.c.detector, fc.c.status, func.count()).group_by(fc.c.detector, fc.c.status).order_by(fc.c.detector)).all()
    fraud = Series(title="fraud cases", unit="cases", points=[Point(label=f"{d} ({st})", value=n) for d, st, n in cases])
    if not cases:
        fraud.available, fraud.note = False, "fraud detection has not raised cases yet"

    # once per respondent a month, as `fairtel kpi` counts it: each subscriber's latest answer of the month (the
    # numbers only tell respondents apart here: nothing of them leaves this function, and the read is the
    # dashboard's aggregate one audited below)
    sv = table_of(Survey)
    answers: defaultdict[str, list[SurveyAnswer]] = defaultdict(list)
    for ans in conn.execute(select(sv.c.survey_id, sv.c.msisdn, sv.c.score, sv.c.answered_at, sv.c.channel)):
        answers[_month(ans.answered_at, tz)].append(SurveyAnswer(ans.survey_id, ans.msisdn, int(ans.score), ans.answered_at, ans.channel))
    nps = Series(title="net promoter score", unit="NPS",
                 points=[Point(label=m, value=float(nps_of(respondent_scores(v)).score or 0)) for m, v in sorted(answers.items())])
    if not answers:
        nps.available, nps.note = False, "no survey answers yet"

    acc.audit("kpi.read", "kpis", reason="dashboard (aggregates)")
    return Kpis(
        subscribers=subscribers, currency=currency, revenue_at_risk=money_text(at_risk, currency) or "0",
        refunded=money_text(sum(refunds.values()), currency) or "0", complaints_per_million=cpm, findings_by_kind=findings,
        refunds_by_month=refund_series, fraud_cases=fraud, churn_risk=_churn_distribution(lake), rating_timeliness=_timeliness(lake), nps=nps,
        sla_attainment=sla,
    )


def _retention_table(lake: Lake) -> pa.Table | None:
    """The latest scoring run's list: the parts of the dataset's last period. Every run writes the period its
    scoring day falls in, so older periods hold earlier runs' scores of the same subscribers (read together,
    each subscriber would be listed once per run)."""
    for name in RETENTION_DATASETS:
        periods = lake.periods(name)
        files = lake.files(name, periods=periods[-1:]) if periods else []
        if files:
            return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    return None


def _risk_column(table: pa.Table) -> str | None:
    return next((c for c in ("probability", "churn_risk", "risk", "score") if c in table.column_names), None)


def _churn_distribution(lake: Lake) -> Series:
    s = Series(title="churn risk", unit="subscribers")
    table = _retention_table(lake)
    col = None if table is None else _risk_column(table)
    if table is None or col is None:
        s.available, s.note = False, "churn scoring has not run yet"
        return s
    buckets = Counter(min(int(float(v) * 10), 9) for v in table.column(col).to_pylist() if v is not None)
    s.points = [Point(label=f"{b / 10:.1f}-{(b + 1) / 10:.1f}", value=buckets.get(b, 0)) for b in range(10)]
    return s


def _timeliness(lake: Lake) -> Series:
    """Share of records rated within 15 minutes of their file's arrival, per period (files rated online)."""
    from fairtel.engines import timeliness

    s = Series(title="rating timeliness (% of records rated within 15 min of arrival)", unit="%")
    by_period: dict[str, list[int]] = {}
    for p in lake.periods("rated"):
        for arrived, rated, n in timeliness(lake.root, p):
            acc = by_period.setdefault(p, [0, 0])
            acc[0] += n
            acc[1] += n if (rated - arrived).total_seconds() <= 15 * 60 else 0
    for p, (total, on_time) in sorted(by_period.items()):
        if total:
            s.points.append(Point(label=p, value=round(100 * on_time / total, 2)))
    if not s.points:
        s.available, s.note = False, "no file was rated online yet (fairtel watch --rate)"
    return s


# ---- retention list ------------------------------------------------------------------------------------
class RetentionOut(BaseModel):
    rank: int = Field(description="Place in the list, ranked as `fairtel churn warn` ranks it: the highest expected value "
                                  "first, equal values the higher risk first (among rows equal in both, by pseudonym).")
    msisdn: str
    risk: float = Field(description="Probability of leaving (0-1).")
    flagged: bool | None = Field(None, description="At or above the model's threshold.")
    monthly_revenue: str | None = Field(None, description="The plan's monthly fee plus usage charges a month, in `currency`.")
    expected_value: str | None = Field(None, description="risk × monthly_revenue, in `currency`: what the operator stands to "
                                                         "lose a month; null in a list scored without it.")
    currency: str | None = None
    reasons: list[str] = Field(description="Why the model rates the risk so, in English.")
    reasons_zh: list[str] = Field(default_factory=list, description="The same reasons in Chinese.")
    plan_id: str | None


class RetentionPage(Page[RetentionOut]):
    do_not_contact: int = Field(0, description="Lines of the list (at `min_risk` or above) left out because their "
                                               "subscriber refused marketing based on automated profiling: no offer "
                                               "goes to them. The list's ranks stay as scored: such a line leaves a gap.")


NO_EXPECTED_VALUE = ("this retention list has no expected values (it was scored without monthly revenue): ranked by "
                     "churn risk alone; `fairtel churn warn` writes one ranked by expected value")


def _reasons(r: dict[str, Any], lang: str) -> list[str]:
    """A row's reasons in ``lang``: the list's ``reason_1_en`` … columns, else one text of reasons split at ``;``."""
    numbered = [str(r[c]) for k in (1, 2, 3) if (c := f"reason_{k}_{lang}") in r and r[c]]
    if numbered or lang != "en":
        return numbered
    given = r.get("reasons") or r.get("reason") or []
    if isinstance(given, str):
        given = [x.strip() for x in given.split(";") if x.strip()]
    return [str(x) for x in given]


def retention_list(acc: Access, lake: Lake, *, min_risk: float = 0.0, limit: int = 50, cursor: str | None = None) -> RetentionPage:
    """The list `fairtel churn warn` wrote, in its order (``fairtel.insight``'s one definition: expected value, then
    risk), numbers shown as the role may see them; ``min_risk`` leaves out lower risks (ranks stay the list's).

    A line whose subscriber refuses marketing now (``marketing_preferences``, read at each call: a refusal made
    after the list was scored counts) is left out, ranks staying the list's, and counted (``do_not_contact``).
    The churn figures of the dashboard still count every scored line: only the offers are refused."""
    acc.require(Permission.RETENTION_READ)
    table = _retention_table(lake)
    col = None if table is None else _risk_column(table)
    reason = "retention list (pseudonymised)"
    if table is None or col is None or "msisdn" not in table.column_names:
        acc.audit("retention.list", "retention", reason=reason)
        return RetentionPage(items=[], available=False, note="churn scoring has not run yet: no retention list")
    from fairtel.insight._churn_warning import rank_retention, retention_from_export  # loads the model tools: only here

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if col != "probability":  # a list written before the churn warning named it so
        frame = frame.drop("probability", strict=False).rename({col: "probability"})
    frame = retention_from_export(frame.with_columns(pl.col("msisdn").cast(pl.String))).filter(
        pl.col("msisdn").is_not_null() & pl.col("probability").is_not_null())
    # equal figures are ordered by pseudonym: the list's own order among them (by number) would show through
    order = pl.Series("_order", [acc.pseudonyms.msisdn_digest(m) for m in frame["msisdn"].to_list()], dtype=pl.Binary)
    ranked = rank_retention(frame.with_columns(order), tie_break="_order").filter(pl.col("probability") >= min_risk)
    refused = sorted(opted_out_lines(acc.conn))  # every refusal (a list may hold more lines than a query may name)
    do_not_contact = 0
    if refused:
        contactable = ~pl.col("msisdn").is_in(refused)
        do_not_contact = ranked.height - ranked.filter(contactable).height
        ranked = ranked.filter(contactable)
    shown, nxt = slice_page(range(ranked.height), limit=limit, cursor=cursor)
    part = ranked.slice(shown[0], len(shown)).to_dicts() if shown else []
    acc.audit_list("retention.list", "retention", (str(r["msisdn"]) for r in part), reason=reason)
    items = [
        RetentionOut(
            rank=int(r["rank"]), msisdn=acc.show(str(r["msisdn"])) or "", risk=round(float(r["probability"]), 4),
            flagged=None if r.get("flagged") is None else bool(r["flagged"]),
            monthly_revenue=money_text(r["monthly_revenue_minor"], r.get("currency")),
            expected_value=money_text(r["expected_value_minor"], r.get("currency")), currency=r.get("currency"),
            reasons=_reasons(r, "en"), reasons_zh=_reasons(r, "zh"), plan_id=r.get("plan_id"),
        )
        for r in part
    ]
    note = NO_EXPECTED_VALUE if ranked.height and ranked["expected_value_minor"].null_count() == ranked.height else None
    return RetentionPage(items=items, next_cursor=nxt, note=note, do_not_contact=do_not_contact)


# ---- surveys -------------------------------------------------------------------------------------------
class SurveyIn(BaseModel):
    score: int = Field(ge=0, le=10, strict=True)  # a whole number as JSON writes it: not true, 7.0 or "7"
    comment: str | None = Field(None, max_length=2000)
    channel: str = Field("web", pattern=r"^(web|app|sms|ivr|chat)$")

    @field_validator("comment")
    @classmethod
    def _storable(cls, comment: str | None) -> str | None:
        """Text both databases store alike: PostgreSQL refuses a NUL that SQLite keeps (a 500, not a 422)."""
        if comment is not None and (why := text_problem(comment)) is not None:
            raise ValueError(why)
        return comment


class SurveyOut(BaseModel):
    survey_id: str
    score: int
    answered_at: datetime


def answer_survey(acc: Access, body: SurveyIn) -> SurveyOut:
    """Record the subscriber's answer. Every answer is kept; NPS counts each subscriber's latest of a month
    (``care.respondent_scores``), so answering again changes the subscriber's say instead of adding to it."""
    msisdn = acc.own_msisdn()
    sid = new_id("srv")
    # recorded before the write, as a chat message is: an answer that fails to be stored still leaves its
    # attempt in the audit (marked failed)
    acc.audit("survey.answer", f"survey/{sid}", msisdn=msisdn, reason=OWN_DATA)
    acc.conn.execute(
        table_of(Survey).insert().values(survey_id=sid, msisdn=msisdn, score=body.score, answered_at=acc.now, channel=body.channel, comment=None if body.comment is None else hide_identity_numbers(body.comment))
    )
    return SurveyOut(survey_id=sid, score=body.score, answered_at=acc.now)
