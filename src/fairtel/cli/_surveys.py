"""Importing NPS answers from an operator directory (``surveys.jsonl``), as ``import_complaints`` does for
complaints: every line stored, or refused with its file, line and field; an answer already stored is skipped, an
answer stored under its id with other content is a conflict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairtel.core.errors import FairtelError, InvalidInputError, Problem

if TYPE_CHECKING:
    from fairtel.bootstrap import App


def import_surveys(fapp: App, path: Path) -> dict[str, int]:
    """``surveys.jsonl``: survey_id, msisdn, answered_at (RFC 3339), score (0-10), channel (at most 16 characters;
    ``sms`` when absent), comment. An ID-card or bank-card number in a comment is never stored: its mark
    (``[身份证号 ID number]``) is. The whole file is stored or none of it: a bad line, a number that is not in the
    register (``unknown``, as ``care survey`` refuses it) or an id stored already with another answer (``conflict``:
    a stored answer is never replaced) is a problem naming its file, line and field. Counts: ``read`` lines (the
    same line again in the file included) = ``inserted`` + ``skipped`` (stored already, or read already)."""
    from sqlalchemy import select

    from fairtel.consent._ledger import jsonl_lines
    from fairtel.core.time import parse_rfc3339
    from fairtel.privacy import hide_identity_numbers
    from fairtel.store import Subscriber, Survey
    from fairtel.store._schema import table_of

    rows: list[dict[str, Any]] = []
    lines, problems = jsonl_lines(path.read_bytes(), str(path))  # a line not UTF-8 is a problem naming it
    seen = ImportedIds(str(path))
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), n, None, f"not JSON: {exc.msg}"))
            continue
        except RecursionError:
            problems.append(Problem(str(path), n, None, "not JSON: nested too deeply"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(str(path), n, None, "not a JSON object"))
            continue
        missing = [k for k in ("survey_id", "msisdn", "answered_at", "score") if obj.get(k) in (None, "")]
        if missing:
            problems.extend(Problem(str(path), n, k, "missing") for k in missing)
            continue
        score = obj["score"]
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10:
            problems.append(Problem(str(path), n, "score", f"an integer from 0 to 10, not {score!r}"))
            continue
        try:
            answered = parse_rfc3339(str(obj["answered_at"]))
        except FairtelError as exc:
            problems.append(Problem(str(path), n, "answered_at", exc.message))
            continue
        channel = obj.get("channel") or "sms"
        if not isinstance(channel, str) or len(channel) > CHANNEL_MAX:
            problems.append(Problem(str(path), n, "channel", f"a name of at most {CHANNEL_MAX} characters, not {channel!r}"))
            continue
        comment = obj.get("comment")
        if isinstance(comment, list | dict):
            problems.append(Problem(str(path), n, "comment", "text, not a JSON array or object"))
            continue
        row = {"survey_id": str(obj["survey_id"]), "msisdn": str(obj["msisdn"]), "score": score,
               "answered_at": answered, "channel": channel,
               "comment": None if comment is None else hide_identity_numbers(str(comment))}
        if not seen.check(n, row, "survey_id"):
            continue
        rows.append(row)
    problems += seen.problems
    if problems:  # the file's own problems first: the register and what is stored are read for a file that parses
        raise InvalidInputError(sorted(problems, key=lambda p: p.line or 0), what=str(path))
    s, sub = table_of(Survey), table_of(Subscriber)
    line_of = {sid: n for sid, (n, _) in seen.first.items()}
    new: list[dict[str, Any]] = []
    with fapp.db.begin() as conn:
        for lo in range(0, len(rows), 500):
            chunk = rows[lo:lo + 500]
            known = {r[0] for r in conn.execute(select(sub.c.msisdn).where(sub.c.msisdn.in_(sorted({r["msisdn"] for r in chunk}))))}
            have = {r.survey_id: r for r in conn.execute(select(s).where(s.c.survey_id.in_([r["survey_id"] for r in chunk])))}
            for r in chunk:
                n = line_of[r["survey_id"]]
                if r["msisdn"] not in known:
                    problems.append(Problem(str(path), n, "msisdn", f"no subscriber {r['msisdn']} in the register", "unknown"))
                held = have.get(r["survey_id"])
                if held is None:
                    new.append(r)
                elif _stored(dict(held._mapping)) != _stored(r):
                    problems.append(Problem(str(path), n, "survey_id", f"answer {r['survey_id']} is stored with other content "
                                            "(a stored answer is not replaced)", "conflict"))
        if problems:  # nothing stored: the transaction ends without a write
            raise InvalidInputError(problems, what=str(path))
        for lo in range(0, len(new), 500):
            conn.execute(s.insert(), new[lo:lo + 500])
    return {"read": len(rows) + seen.duplicate, "inserted": len(new), "skipped": len(rows) + seen.duplicate - len(new)}


CHANNEL_MAX = 16  # the ``surveys.channel`` column's width


def _stored(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a stored answer and an imported one must share to be the same answer (the instant in UTC: SQLite gives
    it back without its offset)."""
    at: datetime = row["answered_at"]
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return row["msisdn"], row["score"], at, row["channel"], row["comment"]


class ImportedIds:
    """The rows of one file by id, checked as they are read: an id or number the database would refuse or cut
    (too long, not E.164, a NUL) is a problem naming its line and field; the same row again is a duplicate;
    another row under an id already read is a problem naming the first line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.first: dict[str, tuple[int, dict[str, Any]]] = {}
        self.problems: list[Problem] = []
        self.duplicate = 0

    def check(self, line: int, row: dict[str, Any], id_field: str) -> bool:
        """Whether ``row`` is new and storable (else it is counted or its problems recorded)."""
        from fairtel.privacy._numbers import msisdn_problem
        from fairtel.store._report import text_problem

        found = []
        if len(row[id_field]) > 40:
            found.append(Problem(self.file, line, id_field, "longer than 40 characters"))
        if (why := msisdn_problem(row["msisdn"])) is not None:
            found.append(Problem(self.file, line, "msisdn", why))
        found += [Problem(self.file, line, k, why) for k, v in row.items() if isinstance(v, str) and (why := text_problem(v))]
        if found:
            self.problems += found
            return False
        first = self.first.get(row[id_field])
        if first is None:
            self.first[row[id_field]] = (line, row)
            return True
        if first[1] == row:
            self.duplicate += 1
        else:
            self.problems.append(Problem(self.file, line, id_field, f"{row[id_field]!r} appears again (first on line {first[0]})"))
        return False


# -- following up: detractors to call back, complainants to ask ---------------------------------------------
DETRACTOR_COLUMNS = ("msisdn", "line_status", "marketing_refused", "score", "channel", "answered_at", "survey_id",
                     "open_complaints", "open_tickets", "comment")
OPEN_COMPLAINT = ("open", "in_progress")  # the coarse statuses of a complaint not settled
OPEN_TICKET = ("open", "in_progress")
HomeOpt = Annotated[Path | None, typer.Option("--home", help="fairtel home (default: FAIRTEL_HOME or ./var).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def detractor_rows(fapp: App, period_key: str) -> dict[str, Any]:
    """The detractors of a month (``YYYY-MM`` on the operator's clock) to call back: each respondent whose answer
    that counts in the month's NPS (their latest) scored 0–6, the lowest score first, then the earliest answer.
    Each row gives the answer (its comment as the command line shows a complaint's words: the line's own number as
    written, any other number masked, ID-card and bank-card numbers hidden), the line's complaints and trouble
    tickets not settled, whether the line refuses marketing (``marketing_refused``: call to recover the service,
    make no offer) and its status in the register. ``detractors`` are the lines in service; ``apart`` the lines
    closed since, or not in the register (no one to call on them)."""
    from sqlalchemy import func, select

    from fairtel.api._marketing import opted_out_lines
    from fairtel.care._surveys import SurveyAnswer, detractor_answers, latest_answers
    from fairtel.cli._care import _note_shown
    from fairtel.core.time import Period, zone
    from fairtel.store import Complaint, Subscriber, Survey, TroubleTicket
    from fairtel.store._schema import table_of

    period = Period.parse(period_key, fapp.settings.timezone)
    v, sub = table_of(Survey), table_of(Subscriber)
    c, t = table_of(Complaint), table_of(TroubleTicket)
    with fapp.db.connect() as conn:
        answers = [SurveyAnswer(r.survey_id, r.msisdn, r.score, _aware(r.answered_at), r.channel, r.comment)
                   for r in conn.execute(select(v).where((v.c.answered_at >= period.start) & (v.c.answered_at < period.end)))]
        found = detractor_answers(answers)
        lines = sorted({a.msisdn for a in found})
        status: dict[str, str] = {}
        complaints: dict[str, int] = {}
        tickets: dict[str, int] = {}
        for lo in range(0, len(lines), 500):
            chunk = lines[lo:lo + 500]
            status.update((r.msisdn, r.status) for r in conn.execute(select(sub.c.msisdn, sub.c.status).where(sub.c.msisdn.in_(chunk))))
            complaints.update((m, n) for m, n in conn.execute(
                select(c.c.msisdn, func.count()).where(c.c.msisdn.in_(chunk) & c.c.status.in_(OPEN_COMPLAINT)).group_by(c.c.msisdn)))
            tickets.update((m, n) for m, n in conn.execute(
                select(t.c.msisdn, func.count()).where(t.c.msisdn.in_(chunk) & t.c.status.in_(OPEN_TICKET)).group_by(t.c.msisdn)))
        refused = opted_out_lines(conn, lines)
    home, tz = fapp.settings.home_country, zone(fapp.settings.timezone)
    rows = [{"msisdn": a.msisdn, "line_status": status.get(a.msisdn), "marketing_refused": a.msisdn in refused,
             "score": a.score, "channel": a.channel, "answered_at": a.answered_at.astimezone(tz), "survey_id": a.survey_id,
             "open_complaints": complaints.get(a.msisdn, 0), "open_tickets": tickets.get(a.msisdn, 0),
             "comment": _note_shown(a.comment, a.msisdn, home)} for a in found]
    in_service = [r for r in rows if r["line_status"] in ("active", "suspended")]
    return {"period": period.key, "respondents": len(latest_answers(answers)), "detractors": in_service,
            "apart": [r for r in rows if r["line_status"] not in ("active", "suspended")]}


def _aware(at: datetime) -> datetime:
    """An instant read back from the database (SQLite gives it back without its offset: UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def write_detractors_csv(rows: list[dict[str, Any]], target: Path) -> None:
    """The rows as CSV (UTF-8 with a byte-order mark, as spreadsheets read Chinese comments), the columns of
    ``DETRACTOR_COLUMNS``; instants in RFC 3339."""
    import csv

    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(DETRACTOR_COLUMNS)
        for r in rows:
            out.writerow(["" if r[k] is None else r[k].isoformat() if isinstance(r[k], datetime)
                          else str(r[k]).lower() if isinstance(r[k], bool) else r[k] for k in DETRACTOR_COLUMNS])


def due_rows(fapp: App, since: datetime) -> list[dict[str, Any]]:
    """``care.surveys_due`` over the store: the complaints settled (resolved, or closed) since ``since``, and not
    reopened after, whose subscriber has answered no survey since ``since``, the earliest settled first."""
    from sqlalchemy import select

    from fairtel.care._surveys import surveys_due
    from fairtel.cli._care import sla_of
    from fairtel.store import Complaint, Survey
    from fairtel.store._complaints import _record, _stored_events
    from fairtel.store._schema import table_of

    c, v = table_of(Complaint), table_of(Survey)
    policy = sla_of(fapp)
    with fapp.db.connect() as conn:
        chosen = c.c.closed_at >= since
        rows = conn.execute(select(c).where(chosen).order_by(c.c.closed_at, c.c.complaint_id)).all()
        events = _stored_events(conn, select(c.c.complaint_id).where(chosen))
        complaints = [_record(r, events.get(r.complaint_id, []), policy).lifecycle() for r in rows]
        answered = {m for (m,) in conn.execute(select(v.c.msisdn).where(v.c.answered_at >= since).distinct())}
    return [{"complaint_id": x.complaint_id, "msisdn": x.msisdn, "category": x.category.value, "channel": x.channel,
             "resolved_at": x.resolved_at} for x in surveys_due(complaints, answered, since=since)]


def register_followup(sub: typer.Typer) -> None:
    """``care detractors`` and ``care surveys-due``."""
    from fairtel.cli._context import app_for
    from fairtel.cli._ui import console, fail, print_json, table

    @sub.command("detractors")
    def detractors_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="The month, YYYY-MM (operator's clock).")],
        csv: Annotated[Path | None, typer.Option("--csv", help="Write the list to this CSV file instead.")] = None,
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """The month's detractors to call back (latest answer 0-6, as NPS counts them), lowest score first, with
        their open complaints and tickets; marketing_refused: recover the service, make no offer. Closed lines
        apart. Numbers in clear: recorded in the access audit."""
        from fairtel.cli._audit import audit_shown, plural

        try:
            fapp = app_for(ctx, home)
            found = detractor_rows(fapp, period)
            rows = found["detractors"] + found["apart"]
            what = plural(len(rows), "detractor") + " of " + found["period"]
            audit_shown(ctx, fapp, action="survey.detractors", subjects=(r["msisdn"] for r in rows), what=what, to=csv)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if csv is not None:
            write_detractors_csv(rows, csv)
            summary = {"period": found["period"], "respondents": found["respondents"], "detractors": len(found["detractors"]),
                       "apart": len(found["apart"]), "file": str(csv)}
            if as_json:
                print_json(summary)
            else:
                console.print(f"{summary['detractors']} detractors ({summary['apart']} more on closed lines) of "
                              f"{summary['respondents']} respondents written to {csv}", highlight=False)
            return
        if as_json:
            print_json(found)
            return

        def shown(rs: list[dict[str, Any]]) -> list[list[Any]]:
            return [[r["msisdn"], r["score"], r["channel"], r["answered_at"].isoformat(timespec="minutes"),
                     r["open_complaints"], r["open_tickets"], "yes" if r["marketing_refused"] else "",
                     r["comment"] or ""] for r in rs]

        cols = ["msisdn", "score", "channel", "answered", "complaints", "tickets", "no marketing", "comment"]
        console.print(table(f"Detractors {found['period']}: {len(found['detractors'])} of {found['respondents']} respondents",
                            cols, shown(found["detractors"])))
        if found["apart"]:
            console.print(table("Closed lines, or not in the register", cols, shown(found["apart"])))

    @sub.command("surveys-due")
    def surveys_due_cmd(
        ctx: typer.Context,
        since: Annotated[str, typer.Option("--since", help="Complaints settled since this instant (RFC 3339).")],
        as_json: JsonOpt = False,
        home: HomeOpt = None,
    ) -> None:
        """Whom to ask for an NPS answer: complaints resolved or closed since --since whose subscriber has not
        answered a survey since then. Numbers in clear: recorded in the access audit."""
        from fairtel.cli._audit import audit_shown, plural
        from fairtel.cli._care import _parse_instant

        try:
            at = _parse_instant(since, "--since")
            fapp = app_for(ctx, home)
            rows = due_rows(fapp, at)
            audit_shown(ctx, fapp, action="survey.due", subjects=(r["msisdn"] for r in rows),
                        what=plural(len(rows), "complaint") + " due a survey")
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"since": at, "due": rows})
            return
        console.print(table(f"Surveys due: {len(rows)}", ["complaint", "msisdn", "category", "channel", "resolved"], [
            [r["complaint_id"], r["msisdn"], r["category"], r["channel"],
             r["resolved_at"].isoformat(timespec="minutes") if r["resolved_at"] else ""] for r in rows]))
