"""``fairtel assistant chat``, ``fairtel care complaints|complain|close|survey|import-complaints``, the
complaint lifecycle (``care complaint-ack|complaint-resolve|complaint-close|complaint-reopen|complaint-history``,
``care escalate``) and what ``fairtel kpi`` gathers: the care package's assistant, complaints and surveys over one home."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem

if TYPE_CHECKING:
    import polars as pl

    from fairtel.bootstrap import App
    from fairtel.care import Assistant, Reply, SlaPolicy
    from fairtel.kpi import FindingFact, KpiReport
    from fairtel.store import AuditAs, ComplaintRecord

HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
CARE_DIR = "care"
EXIT_WORDS = frozenset({"quit", "exit", "bye", "再见", "退出", ":q"})


# -- the assistant ------------------------------------------------------------------------------------------
def fixed_clock(today: date, tz: str) -> Callable[[], datetime]:
    """A clock standing at noon of ``today`` on the operator's clock (for scripts over past data)."""
    from fairtel.core.time import zone

    instant = datetime.combine(today, time(12, 0), tzinfo=zone(tz))
    return lambda: instant


def sla_of(fapp: App) -> SlaPolicy:
    """The home's complaint deadlines (settings ``sla`` over the built-in policy): what the assistant
    promises, what a complaint is stored due by, what escalation and ``fairtel kpi`` judge by."""
    from fairtel.care import sla_policy

    return sla_policy(fapp.settings.sla)


def build_assistant(fapp: App, *, today: date | None = None, report: Any = None, log: bool = True) -> Assistant:
    """The assistant over a home: its intent model (trained into ``<home>/models`` on first use), the
    store's data port, and the conversation log under ``<home>/care``; both under the home's SLA policy."""
    from fairtel.care import Assistant, ConversationLog, load_intent_model
    from fairtel.cli._home import home_catalog
    from fairtel.store import StoreCareData

    notes: list[str] = []
    catalog = home_catalog(fapp, None, notes)
    for n in notes:
        if report is not None:
            report.note(n)
    kwargs: dict[str, Any] = {}
    if today is not None:
        kwargs["clock"] = fixed_clock(today, catalog.operator.timezone)
    sla = sla_of(fapp)
    data = StoreCareData(fapp.db, fapp.settings.lake_dir, catalog, pseudonymize=_audit_as(fapp, "assistant", "system").pseudonym,
                         sla=sla, tax_rates=fapp.settings.tax_rates, **kwargs)
    model = load_intent_model(fapp.settings.models_dir, progress=report)
    sink = ConversationLog(fapp.settings.home / CARE_DIR) if log else None
    return Assistant(model, data, log=sink, sla=sla, home_country=fapp.settings.home_country)


def _script_lines(lines: Iterable[str]) -> list[str]:
    """Messages of a script: one per line; blank lines and lines starting with ``#`` are skipped."""
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def _print_turn(message: str, reply: Reply) -> None:
    console.print(f"> {message}", highlight=False, markup=False, soft_wrap=True)
    tag = reply.intent or "-"
    if reply.confidence is not None:
        tag += f" {reply.confidence:.2f}"
    console.print(f"[{reply.language}|{tag}] {reply.text}", highlight=False, markup=False, soft_wrap=True)
    console.print()


def chat(
    ctx: typer.Context, *, msisdn: str | None, lang: str, script: Path | None, today: str | None, as_json: bool,
    home: Path | None,
) -> None:
    from fairtel.cli._audit import audit_shown

    audited: set[str] = set()

    def audit_line(conv: Any) -> None:
        """The line the conversation speaks for, once known, and another line of the same customer a turn
        reads, each recorded before its data is shown: the replies read its bills, usage and subscriptions to
        whoever runs the command."""
        new = [n for n in dict.fromkeys((conv.msisdn, getattr(conv, "line", None))) if n and n not in audited]
        if new:
            audit_shown(ctx, fapp, action="chat.session", resource=f"conversation/{conv.conversation_id}",
                        subjects=new, what="a subscriber's conversation with the assistant")
            audited.update(new)

    try:
        day = _parse_day(today)
        fapp = app_for(ctx, home)
        with reporter(quiet=as_json) as rep:
            assistant = build_assistant(fapp, today=day, report=rep)
        conv = assistant.start(msisdn, language=lang)
        audit_line(conv)
        interactive = script is None and sys.stdin.isatty() and not as_json
        if interactive:
            _interactive(assistant, conv, lang, audit_line)
            return
        if script is None or str(script) == "-":
            messages = _script_lines(sys.stdin)
        else:
            if not script.is_file():
                raise InvalidInputError([Problem(str(script), None, None, "file not found")], what="--script")
            messages = _script_lines(script.read_text(encoding="utf-8-sig").splitlines())
        turns = []
        for message in messages:
            reply = assistant.say(conv, message)
            audit_line(conv)
            turns.append({"message": message, **reply.to_dict()})
            if not as_json:
                _print_turn(message, reply)
    except FairtelError as exc:
        raise fail(exc, as_json=as_json) from None
    if as_json:
        print_json({"conversation_id": conv.conversation_id, "msisdn": conv.msisdn, "turns": turns})


def _interactive(assistant: Assistant, conv: Any, lang: str, audit_line: Callable[[Any], None]) -> None:
    hello = "你好 / Hello" if lang == "auto" else ("你好" if lang == "zh" else "Hello")
    console.print(f"{hello}: type a message, or quit to leave.", highlight=False)
    while True:
        try:
            message = console.input("[bold]> [/bold]")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not message.strip():
            continue
        if message.strip().lower() in EXIT_WORDS:
            return
        try:
            reply = assistant.say(conv, message)
            audit_line(conv)
        except FairtelError as exc:
            err_console.print(f"{exc.code}: {exc}", highlight=False, markup=False)
            continue
        console.print(reply.text, highlight=False, markup=False, soft_wrap=True)


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError([Problem("--today", None, "today", f"a date YYYY-MM-DD, not {text!r}")],
                                what="options") from None


# -- KPIs -----------------------------------------------------------------------------------------------
def gather_kpis(fapp: App, period_key: str | None) -> KpiReport:
    """The month's facts from the home (database, lake, conversation log), then ``kpi.compute_kpis``."""
    import polars as pl
    from sqlalchemy import select

    from fairtel.care import ConversationLog, SurveyAnswer
    from fairtel.core.time import Period, utc_now
    from fairtel.kpi import (
        KpiInputs,
        LineFact,
        RefundFact,
        compute_kpis,
        lines_in_service,
        parse_month,
    )
    from fairtel.store import Adjustment, Subscriber, Survey, catalog_currency, complaint_facts
    from fairtel.store._schema import table_of

    settings = fapp.settings
    tz = settings.timezone
    now = utc_now()
    sla = sla_of(fapp)
    period = parse_month(period_key, tz) if period_key else Period.containing(now, tz)
    start, end = period.start, period.end
    with fapp.db.connect() as conn:
        # money in the currency the home's catalog charges in (without a catalog: the refunds' or findings')
        currency = catalog_currency(conn)
        # the lines in service at some time in the month (a line closed since still counts in it)
        s = table_of(Subscriber)
        subscribers = lines_in_service([
            LineFact(r.activated_at, r.status, r.closed_at)
            for r in conn.execute(select(s.c.activated_at, s.c.status, s.c.closed_at).where(s.c.activated_at < end))
        ], start, end)
        # the complaints opened in the month, and those reopened in it, each with its resolution terms
        complaints = complaint_facts(conn, start=start, end=end, policy=sla)
        v = table_of(Survey)
        # each respondent's answers (the latest in the month counts once): numbers only tell respondents apart
        answers = [SurveyAnswer(r.survey_id, r.msisdn, r.score, r.answered_at, r.channel) for r in conn.execute(
            select(v.c.survey_id, v.c.msisdn, v.c.score, v.c.answered_at, v.c.channel)
            .where((v.c.answered_at >= start) & (v.c.answered_at < end)))]
        a = table_of(Adjustment)
        refunds = [
            RefundFact(r.amount_minor, r.currency, r.finding_id)
            for r in conn.execute(select(a).where((a.c.kind == "refund") & (a.c.created_at >= start) & (a.c.created_at < end)))
        ]
    findings: list[FindingFact] = []
    files = sorted((settings.lake_dir / "findings" / f"period={period.key}").glob("*.parquet"))
    if files:
        frame = pl.scan_parquet(files).select("kind", "amount_minor", "currency", "msisdn", "record_ids", "evidence").collect()
        findings = _with_outcomes(fapp, frame)
    from fairtel.engines import timeliness as online_timeliness

    # files rated online (``watch --rate``) log when they arrived and when they were rated; a batch-only home
    # has no such instants, and the KPI says so rather than guess
    timeliness = online_timeliness(settings.lake_dir, period.key) or None
    turns = ConversationLog(settings.home / CARE_DIR).read(period.key)
    inputs = KpiInputs(period=period.key, subscribers=subscribers, now=now, complaints=complaints, survey_answers=answers,
                       turns=turns, findings=findings, refunds=refunds, timeliness=timeliness, start=start, end=end,
                       currency=currency)
    return compute_kpis(inputs, sla=sla)


def _with_outcomes(fapp: App, frame: pl.DataFrame) -> list[FindingFact]:
    """The findings of ``frame`` (the lake's ``findings`` rows) as KPI facts, each charge finding with what became of
    its charge (``FindingFact.billed``), as ``fairtel assure --refund`` reads it (``charge_evidence``): an issued bill
    charged one of its records (billed), or the consent gate refused them all and no bill took one (blocked)."""
    from fairtel.cli._assure_refunds import charge_evidence
    from fairtel.kpi import FindingFact
    from fairtel.kpi._service import UNEXPLAINED_FINDINGS

    keyed: list[list[tuple[str, str, str]]] = []
    for kind, msisdn, records, evidence in frame.select("kind", "msisdn", "record_ids", "evidence").iter_rows():
        source = str(json.loads(evidence or "{}").get("source") or "") if kind in UNEXPLAINED_FINDINGS else ""
        keyed.append([(msisdn or "", source, r) for r in (records or [])] if kind in UNEXPLAINED_FINDINGS else [])
    seen = charge_evidence(fapp, {k for keys in keyed for k in keys}, outside_billing=False)
    out = []
    for (kind, minor, cur), keys in zip(frame.select("kind", "amount_minor", "currency").iter_rows(), keyed, strict=True):
        billed = (None if not keys else True if seen.bill_of(keys) is not None
                  else False if all(k in seen.refused for k in keys) else None)
        out.append(FindingFact(kind, minor, cur, billed=billed))
    return out


# -- complaints and surveys ---------------------------------------------------------------------------------
def _complaint_rows(fapp: App, status: str | None, limit: int) -> list[dict[str, Any]]:
    """The complaints as ``care complaints`` shows them: the subscriber's words with any ID-card or bank-card
    number in them hidden (``[身份证号 ID number]``), as the API shows them, also in a complaint stored before
    those were hidden on the way in."""
    from sqlalchemy import select

    from fairtel.privacy import hide_identity_numbers
    from fairtel.store import Complaint
    from fairtel.store._schema import table_of

    c = table_of(Complaint)
    q = select(c).order_by(c.c.opened_at.desc(), c.c.complaint_id).limit(limit)
    if status is not None:
        q = q.where(c.c.status == status)
    with fapp.db.connect() as conn:
        return [
            {"complaint_id": r.complaint_id, "msisdn": r.msisdn, "category": r.category, "channel": r.channel,
             "status": r.status, "opened_at": r.opened_at, "closed_at": r.closed_at,
             "text": hide_identity_numbers(r.text) if r.text else r.text,
             "lifecycle": r.lifecycle, "due_at": r.due_at, "escalation_level": r.escalation_level}
            for r in conn.execute(q)
        ]


# The history names the operator's file ``IMPORT_ACTOR``. A complaint not settled whose every event is the
# import's has no known outcome: the file, written at a time not known here, did not say it was settled, and the
# desk has not moved it since (``fairtel kpi`` leaves it out of SLA attainment rather than judge it missed).
# An outcome an operator's file may give a complaint (``status``), with the instant field it is read from.
IMPORTED_OUTCOMES = {"open": None, "acknowledged": None, "resolved": "resolved_at", "closed": "closed_at"}


def _imported_outcome(obj: dict[str, Any], opened_at: datetime, path: Path, n: int) -> tuple[str, datetime | None] | None:
    """The lifecycle status and settling instant a line of ``complaints.jsonl`` gives (``status``, ``resolved_at``,
    ``closed_at``, all optional); None when it gives none. An instant alone says the status
    (``resolved_at``: resolved, ``closed_at``: closed); a settled status needs its instant, at or after ``at``."""
    from fairtel.core.time import parse_rfc3339

    given = obj.get("status")
    instants = {k: obj.get(k) for k in ("resolved_at", "closed_at") if obj.get(k) not in (None, "")}
    if given in (None, ""):
        if not instants:
            return None
        given = "resolved" if "resolved_at" in instants else "closed"
    status = str(given)
    if status not in IMPORTED_OUTCOMES:
        raise InvalidInputError([Problem(str(path), n, "status", f"one of {', '.join(IMPORTED_OUTCOMES)}, not {status!r}")],
                                what=str(path))
    field = IMPORTED_OUTCOMES[status]
    if field is None:
        if instants:
            name = next(iter(instants))
            raise InvalidInputError([Problem(str(path), n, name, f"a complaint still {status} has no {name}")], what=str(path))
        return ("opened" if status == "open" else status), None
    text = instants.get(field) or instants.get("closed_at" if field == "resolved_at" else "resolved_at")
    if text is None:
        raise InvalidInputError([Problem(str(path), n, field, f"a {status} complaint needs {field} (RFC 3339)")], what=str(path))
    try:
        settled = parse_rfc3339(str(text))
    except (ValueError, FairtelError) as exc:
        raise InvalidInputError([Problem(str(path), n, field, f"not an RFC 3339 instant: {text!r}")], what=str(path)) from exc
    if settled < opened_at:
        raise InvalidInputError([Problem(str(path), n, field, f"{text} is before the complaint was made ({obj.get('at')})")],
                                what=str(path))
    return status, settled


COMPLAINT_REQUIRED = ("complaint_id", "msisdn", "at", "category")
COMPLAINT_TEXT = ("channel", "text", "status", "resolved_at", "closed_at")  # optional: text, never an array or object


def _complaint_line(raw: str, file: str, n: int) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The JSON object of one line of ``complaints.jsonl`` with its required fields present, each a string (a
    whole number is taken as its digits for ``complaint_id`` and ``msisdn``), and no field it reads an array or
    object; else the problems naming the line and field: a field left out or null is missing (never the text
    ``None``)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [Problem(file, n, None, f"not a complaint: not valid JSON: {exc.msg} at column {exc.colno}", "bad_json")]
    except RecursionError:
        return None, [Problem(file, n, None, "not a complaint: JSON nested too deeply", "bad_json")]
    if not isinstance(obj, dict):
        return None, [Problem(file, n, None, f"not a complaint: a JSON object, not {type(obj).__name__}", "bad_json")]
    problems = [Problem(file, n, k, "required field is missing", "missing_field")
                for k in COMPLAINT_REQUIRED if obj.get(k) in (None, "")]
    for k in (*COMPLAINT_REQUIRED, *COMPLAINT_TEXT):
        value = obj.get(k)
        if value is None or isinstance(value, str):
            continue
        if k in ("complaint_id", "msisdn") and isinstance(value, int) and not isinstance(value, bool):
            obj[k] = str(value)
        elif k in COMPLAINT_REQUIRED or isinstance(value, list | dict):  # an optional number is kept as its text
            problems.append(Problem(file, n, k, f"a string, not a JSON {_json_kind(value)}", "bad_value"))
    return (None, problems) if problems else (obj, [])


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object"


def import_complaints(fapp: App, path: Path) -> dict[str, int]:
    """Complaints of an operator directory (``complaints.jsonl``: complaint_id, msisdn, at, category,
    channel, text, and optionally their outcome: ``status`` (open, acknowledged, resolved, closed) with
    ``resolved_at`` or ``closed_at``, when it was settled); a complaint already stored is skipped. A complaint
    the file does not say settled is stored open (or acknowledged), its history the import's alone: whether it was
    settled since, and when, is not known here (``IMPORT_ACTOR``). ID-card
    and bank-card numbers in the text are never stored: each is replaced by its mark (``[身份证号 ID number]``)."""
    from sqlalchemy import select

    from fairtel.care import ComplaintStatus, parse_category, resolve_due, store_status
    from fairtel.cli._surveys import ImportedIds
    from fairtel.consent._ledger import jsonl_lines
    from fairtel.core.time import parse_rfc3339
    from fairtel.privacy import hide_identity_numbers
    from fairtel.store import Complaint, ComplaintEvent
    from fairtel.store._complaints import IMPORT_ACTOR
    from fairtel.store._schema import table_of

    rows: list[dict[str, Any]] = []
    file = str(path)
    lines, problems = jsonl_lines(path.read_bytes(), file)  # a line not UTF-8 is a problem naming it
    seen = ImportedIds(file)
    sla = sla_of(fapp)
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        obj, found = _complaint_line(raw, file, n)
        if obj is None:
            problems += found
            continue
        try:
            category = parse_category(obj["category"]).value
        except InvalidInputError as exc:  # its problem names the field: here with the file and line
            problems += [Problem(file, n, p.field or "category", p.message, p.code) for p in exc.problems]
            continue
        try:
            opened_at = parse_rfc3339(obj["at"])
        except FairtelError as exc:
            problems.append(Problem(file, n, "at", exc.message, "bad_timestamp"))
            continue
        try:
            outcome = _imported_outcome(obj, opened_at, path, n)
            lifecycle, settled_at = outcome or ("opened", None)
            row = {
                "complaint_id": obj["complaint_id"], "msisdn": obj["msisdn"], "category": category,
                "opened_at": opened_at, "closed_at": settled_at, "status": store_status(ComplaintStatus(lifecycle)),
                "channel": str(obj.get("channel") or "hotline")[:16],
                "text": hide_identity_numbers(str(obj.get("text") or "")), "lifecycle": lifecycle,
                "due_at": resolve_due(category, opened_at, sla), "escalation_level": 0,
            }
        except InvalidInputError as exc:
            problems.extend(exc.problems)
            continue
        except FairtelError as exc:
            problems.append(Problem(file, n, None, exc.message))
            continue
        if seen.check(n, row, "complaint_id"):
            rows.append(row)
    problems += seen.problems
    if problems:
        raise InvalidInputError(sorted(problems, key=lambda p: p.line or 0), what=file)
    c = table_of(Complaint)
    with fapp.db.begin() as conn:
        have = {r[0] for r in conn.execute(select(c.c.complaint_id).where(c.c.complaint_id.in_([r["complaint_id"] for r in rows])))}
        new = [r for r in rows if r["complaint_id"] not in have]
        if new:
            conn.execute(c.insert(), new)
            events: list[dict[str, Any]] = []
            for r in new:
                # the history the file tells: the opening, then the outcome it gives (at its instant)
                events.append({"complaint_id": r["complaint_id"], "seq": 1, "kind": "status", "status": "opened",
                               "at": r["opened_at"], "actor": IMPORT_ACTOR, "note": None, "due_at": r["due_at"]})
                if r["lifecycle"] != "opened":
                    events.append({"complaint_id": r["complaint_id"], "seq": 2, "kind": "status", "status": r["lifecycle"],
                                   "at": r["closed_at"] or r["opened_at"], "actor": IMPORT_ACTOR, "note": None,
                                   "due_at": None})
            conn.execute(table_of(ComplaintEvent).insert(), events)
    return {"read": len(rows) + seen.duplicate, "inserted": len(new), "duplicate": len(rows) + seen.duplicate - len(new)}


# -- the complaint lifecycle ---------------------------------------------------------------------------------
DESK_ACTOR = "care-desk"  # who moves complaints from the command line unless --by names someone
SLA_ACTOR = "sla"


def _audit_as(fapp: App, actor: str, role: str, ctx: typer.Context | None = None) -> AuditAs:
    """Who writes, as the complaint's history and the access audit name them: ``actor`` (``--by``), and in the
    audit's reason who ran the command (``--actor`` or the OS user), which ``--by`` does not prove."""
    from fairtel.cli._audit import run_by
    from fairtel.privacy import Pseudonymizer, pseudonymise_numbers
    from fairtel.store import AuditAs

    pseudonym = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")
    reason = pseudonymise_numbers(f"care desk (command line, run by {run_by(ctx)})", pseudonym,
                                  home_country=fapp.settings.home_country)
    return AuditAs(actor, role, pseudonym, reason=reason, home_country=fapp.settings.home_country)


def move(fapp: App, complaint_id: str, to: str, *, note: str | None, refund: str | None, by: str,
         ctx: typer.Context | None = None) -> ComplaintRecord:
    """One lifecycle move through the store (checked, recorded in the history and the access audit, which names
    the subscriber shown by the move's answer). An ID-card or bank-card number in ``note`` is not stored: its
    mark is."""
    from fairtel.core.time import utc_now
    from fairtel.privacy import hide_identity_numbers
    from fairtel.store import move_complaint

    note = None if note is None else hide_identity_numbers(note)
    with fapp.db.begin() as conn:
        return move_complaint(conn, complaint_id, to, at=utc_now(), audit=_audit_as(fapp, by, "agent", ctx), note=note,
                              refund=refund, policy=sla_of(fapp))


def _parse_instant(text: str | None, option: str) -> datetime:
    from fairtel.core.time import parse_rfc3339, utc_now

    if text is None:
        return utc_now()
    try:
        return parse_rfc3339(text)
    except (ValueError, FairtelError):
        raise InvalidInputError([Problem(option, None, option.lstrip("-"), f"an RFC 3339 instant with offset, not {text!r}")],
                                what="options") from None


NoteOpt = Annotated[str | None, typer.Option("--note", help="What was done or said.")]
ByOpt = Annotated[str, typer.Option("--by", help="Who does it (recorded in the history and the audit).")]
IdArg = Annotated[str, typer.Argument(help="The complaint id.")]


def _note_shown(note: str | None, msisdn: str, home_country: str | None = None) -> str | None:
    """A note of a complaint's history as the command line shows it, the way the API shows it to the agent
    handling the complaint: the subscriber's own number (however written, read by the numbering plan of the
    operator's ``home_country``: ``13800138000`` is ``8613800138000`` in China, ``0151 2345 6789`` is
    ``4915123456789`` in Germany) as written, every other number masked as the API masks it, from the number as the
    register keeps it (``86139****9000``, however written: a third party's, which the audit does not name), a mobile
    number an id holds or glued to letters (``abc13900139000``) too, ID-card and bank-card numbers hidden, the other
    digits of ids (``cmp-0000099``) left as they are."""
    from fairtel.privacy import e164_of, mask_msisdn, replace_numbers, replace_numbers_in_words

    if note is None:
        return None

    def shown(digits: str) -> str:
        e164 = e164_of(digits, home_country=home_country)
        return digits if e164 == msisdn else mask_msisdn(e164)

    text = replace_numbers(note, shown, standalone=True)
    return replace_numbers_in_words(text, lambda _written, e164: None if e164 == msisdn else mask_msisdn(e164),
                                    subject=msisdn, home_country=home_country)


def _record_shown(rec: ComplaintRecord, home_country: str | None = None) -> ComplaintRecord:
    """A complaint as the command line shows it, as the API shows it to the agent handling it: its words and its
    history's notes as ``_note_shown`` shows them (ID-card and bank-card numbers hidden, a third party's number masked)."""
    from dataclasses import replace


    return replace(rec, text=(_note_shown(rec.text, rec.msisdn, home_country) or "") if rec.text else rec.text,
                   history=tuple(replace(e, note=_note_shown(e.note, rec.msisdn, home_country)) for e in rec.history))


def _register_lifecycle(sub: typer.Typer) -> None:
    def _run(ctx: typer.Context, complaint_id: str, to: str, note: str | None, refund: str | None, by: str,
             as_json: bool, home: Path | None) -> None:
        try:
            fapp = app_for(ctx, home)
            rec = move(fapp, complaint_id, to, note=note, refund=refund, by=by, ctx=ctx)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:  # as complaint-history shows it: a third party's number masked, no ID-card number
            print_json(_record_shown(rec, fapp.settings.home_country).to_dict())
        else:
            console.print(f"complaint {complaint_id} {rec.status}", highlight=False)

    @sub.command("complaint-ack")
    def ack_cmd(ctx: typer.Context, complaint_id: IdArg, note: NoteOpt = None, by: ByOpt = DESK_ACTOR,
                as_json: JsonOpt = False, home: HomeOpt = None) -> None:
        """Acknowledge a complaint: someone has answered the subscriber."""
        _run(ctx, complaint_id, "acknowledged", note, None, by, as_json, home)

    @sub.command("complaint-resolve")
    def resolve_cmd(
        ctx: typer.Context, complaint_id: IdArg,
        note: Annotated[str, typer.Option("--note", help="The resolution, as told to the subscriber.")],
        refund: Annotated[str | None, typer.Option("--refund", help="The adjustment (refund) that settles it.")] = None,
        by: ByOpt = DESK_ACTOR, as_json: JsonOpt = False, home: HomeOpt = None,
    ) -> None:
        """Resolve a complaint, with the refund that settled it if there was one."""
        _run(ctx, complaint_id, "resolved", note, refund, by, as_json, home)

    @sub.command("complaint-close")
    def close_lifecycle_cmd(ctx: typer.Context, complaint_id: IdArg, note: NoteOpt = None, by: ByOpt = DESK_ACTOR,
                            as_json: JsonOpt = False, home: HomeOpt = None) -> None:
        """Close a complaint (after its resolution, or without one)."""
        _run(ctx, complaint_id, "closed", note, None, by, as_json, home)

    @sub.command("complaint-reopen")
    def reopen_cmd(ctx: typer.Context, complaint_id: IdArg, note: NoteOpt = None, by: ByOpt = DESK_ACTOR,
                   as_json: JsonOpt = False, home: HomeOpt = None) -> None:
        """Reopen a resolved or closed complaint."""
        _run(ctx, complaint_id, "reopened", note, None, by, as_json, home)

    @sub.command("complaint-history")
    def history_cmd(ctx: typer.Context, complaint_id: IdArg, as_json: JsonOpt = False, home: HomeOpt = None) -> None:
        """A complaint's history: every move and escalation, oldest first (events implied by a status set
        outside the lifecycle are marked unrecorded)."""
        from fairtel.cli._audit import audit_shown
        from fairtel.store import get_complaint

        try:
            fapp = app_for(ctx, home)
            with fapp.db.begin() as conn:
                rec = get_complaint(conn, complaint_id, policy=sla_of(fapp))
                audit_shown(ctx, fapp, action="complaint.history", resource=f"complaint/{complaint_id}",
                            subjects=[rec.msisdn], what=f"complaint {complaint_id} and its history", conn=conn)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        rec = _record_shown(rec, fapp.settings.home_country)
        if as_json:
            print_json(rec.to_dict())
            return
        console.print(f"complaint {rec.complaint_id} ({rec.category}, {rec.channel}): {rec.status}, resolution due "
                      f"{rec.due_at.isoformat(timespec='minutes')}, escalation level {rec.escalation_level}", highlight=False)
        links = ", ".join(f"{k}={v}" for k in ("finding_id", "adjustment_id", "conversation_id") if (v := getattr(rec, k)))
        if links:
            console.print(f"links: {links}", highlight=False)
        console.print(table("History", ["#", "at", "kind", "status", "by", "note"], [
            [e.seq if e.recorded else "-", e.at.isoformat(timespec="minutes"), e.kind, e.status, e.actor, e.note or ""]
            for e in rec.history]))

    @sub.command("escalate")
    def escalate_cmd(
        ctx: typer.Context,
        now: Annotated[str | None, typer.Option("--now", help="The instant to judge deadlines at (RFC 3339); default: now.")] = None,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Escalate complaints past their deadlines (supervisor, then manager); each level gained is an event."""
        from fairtel.store import escalate_overdue

        try:
            at = _parse_instant(now, "--now")
            fapp = app_for(ctx, home)
            with fapp.db.begin() as conn:
                done = escalate_overdue(conn, now=at, audit=_audit_as(fapp, SLA_ACTOR, "system", ctx), policy=sla_of(fapp))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"now": at, "escalated": [
                {"complaint_id": e.complaint_id, "status": e.status, "due_at": e.due_at, "from_level": e.from_level,
                 "to_level": e.to_level} for e in done]})
            return
        console.print(table(f"Escalated: {len(done)}", ["id", "status", "due", "level"], [
            [e.complaint_id, e.status, e.due_at.isoformat(timespec="minutes"), f"{e.from_level} → {e.to_level}"] for e in done]))


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Customer care: complaints and NPS surveys.", no_args_is_help=True)

    @sub.command("complaints")
    def complaints_cmd(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option("--status", help="open, in_progress or closed.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """List complaints, the newest first (numbers and words in clear: recorded in the access audit; ID-card
        and bank-card numbers in the words hidden)."""
        from fairtel.cli._audit import audit_shown, plural

        try:
            fapp = app_for(ctx, home)
            rows = _complaint_rows(fapp, status, limit)
            audit_shown(ctx, fapp, action="complaint.list", subjects=(r["msisdn"] for r in rows),
                        what=plural(len(rows), "complaint"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(rows)
            return
        console.print(table("Complaints", ["id", "msisdn", "category", "channel", "status", "opened"],
                            [[r["complaint_id"], r["msisdn"], r["category"], r["channel"], r["status"],
                              r["opened_at"].isoformat(timespec="minutes")] for r in rows]))

    @sub.command("complain")
    def complain_cmd(
        ctx: typer.Context,
        msisdn: Annotated[str, typer.Option("--msisdn", help="The subscriber's number.")],
        text: Annotated[str, typer.Option("--text", help="The complaint in the subscriber's words.")],
        category: Annotated[str | None, typer.Option("--category", help="Default: classified from the text.")] = None,
        channel: Annotated[str, typer.Option("--channel")] = "hotline",
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Record a complaint (an ID-card or bank-card number in the text is stored as its mark, never as written)."""
        from fairtel.care import ComplaintRequest, classify_complaint, parse_category
        from fairtel.cli._home import home_catalog
        from fairtel.privacy import hide_identity_numbers
        from fairtel.store import StoreCareData

        text = hide_identity_numbers(text)
        try:
            fapp = app_for(ctx, home)
            cat = parse_category(category) if category else classify_complaint(text)
            data = StoreCareData(fapp.db, fapp.settings.lake_dir, home_catalog(fapp, None, []), actor=DESK_ACTOR,
                                 pseudonymize=_audit_as(fapp, DESK_ACTOR, "agent").pseudonym, sla=sla_of(fapp))
            if data.line(msisdn) is None:
                raise NotFoundError(f"no subscriber {msisdn}")
            cid = data.record_complaint(msisdn, ComplaintRequest(category=cat.value, text=text, channel=channel))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"complaint_id": cid, "category": cat.value})
        else:
            console.print(f"complaint {cid} recorded ({cat.value})", highlight=False)

    @sub.command("close")
    def close_cmd(
        ctx: typer.Context,
        complaint_id: Annotated[str, typer.Argument()],
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Close a complaint (the same as complaint-close)."""
        try:
            rec = move(app_for(ctx, home), complaint_id, "closed", note=None, refund=None, by=DESK_ACTOR, ctx=ctx)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"complaint_id": complaint_id, "status": "closed", "closed_at": rec.closed_at})
        else:
            console.print(f"complaint {complaint_id} closed", highlight=False)

    @sub.command("survey")
    def survey_cmd(
        ctx: typer.Context,
        msisdn: Annotated[str, typer.Option("--msisdn")],
        score: Annotated[int, typer.Option("--score", help="0-10: how likely to recommend us.")],
        comment: Annotated[str | None, typer.Option("--comment")] = None,
        channel: Annotated[str, typer.Option("--channel")] = "sms",
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Record one NPS answer (an ID-card or bank-card number in the comment is stored as its mark)."""
        from fairtel.care import check_score, nps_group
        from fairtel.core.ids import new_id
        from fairtel.core.time import utc_now
        from fairtel.privacy import hide_identity_numbers
        from fairtel.store import Survey, get_subscriber
        from fairtel.store._schema import table_of

        comment = None if comment is None else hide_identity_numbers(comment)
        try:
            value = check_score(score)
            fapp = app_for(ctx, home)
            sid = new_id("srv")
            with fapp.db.begin() as conn:
                if get_subscriber(conn, msisdn) is None:
                    raise NotFoundError(f"no subscriber {msisdn}")
                conn.execute(table_of(Survey).insert().values(
                    survey_id=sid, msisdn=msisdn, score=value, answered_at=utc_now(), channel=channel[:16], comment=comment))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        result = {"survey_id": sid, "score": value, "group": nps_group(value).value}
        if as_json:
            print_json(result)
        else:
            console.print(f"survey {sid} recorded: {value} ({result['group']})", highlight=False)

    @sub.command("import-complaints")
    def import_cmd(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="complaints.jsonl of an operator directory.")],
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Import complaints from JSON Lines (the synthetic operator writes complaints.jsonl); a line may give the
        complaint's outcome (status, resolved_at, closed_at), else SLA attainment leaves it out."""
        try:
            if not path.is_file():
                raise InvalidInputError([Problem(str(path), None, None, "file not found")], what="complaints")
            counts = import_complaints(app_for(ctx, home), path)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(counts)
        else:
            console.print(f"{counts['read']} complaints read, {counts['inserted']} new, {counts['duplicate']} already stored",
                          highlight=False)

    @sub.command("import-surveys")
    def import_surveys_cmd(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="surveys.jsonl of an operator directory.")],
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Import NPS answers from JSON Lines (the synthetic operator writes surveys.jsonl)."""
        from fairtel.cli._surveys import import_surveys

        try:
            if not path.is_file():
                raise InvalidInputError([Problem(str(path), None, None, "file not found")], what="surveys")
            counts = import_surveys(app_for(ctx, home), path)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(counts)
        else:
            console.print(f"{counts['read']} answers read, {counts['inserted']} new, {counts['skipped']} already stored",
                          highlight=False)

    _register_lifecycle(sub)
    from fairtel.cli._surveys import register_followup

    register_followup(sub)
    app.add_typer(sub, name="care")

