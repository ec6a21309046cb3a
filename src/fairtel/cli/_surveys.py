"""Importing NPS answers from an operator directory (``surveys.jsonl``), as ``import_complaints`` does for
complaints: every line stored, or refused with its file, line and field; an answer already stored is skipped, an
answer stored under its id with other content is a conflict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    from fairtel.core.time import parse_rfc3339
    from fairtel.privacy import hide_identity_numbers
    from fairtel.store import Subscriber, Survey
    from fairtel.store._schema import table_of

    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen = ImportedIds(str(path))
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), n, None, f"not JSON: {exc.msg}"))
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
        row = {"survey_id": str(obj["survey_id"]), "msisdn": str(obj["msisdn"]), "score": score,
               "answered_at": answered, "channel": channel,
               "comment": None if comment is None else hide_identity_numbers(str(comment))}
        if not seen.check(n, row, "survey_id"):
            continue
        rows.append(row)
    problems += seen.problems
    if problems:  # the file's own problems first: the register and what is stored are read for a file that parses
        raise InvalidInputError(problems, what=str(path))
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
