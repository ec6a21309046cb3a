"""Fraud cases and their queue: open → confirmed | false_alarm, decided by someone, at some time, with a note.

A case's status is never stored on the case: it is the projection of an append-only list of decisions, so
the history of who decided what and when cannot be lost or rewritten. A decision taken elsewhere (through the
API, which writes it to the database first) joins the queue with ``CaseQueue.adopt`` under the same rules.
Case ids derive from the detector, the subject (a line, or an outside calling number) and the period, so
running the detectors again over the same period finds the same cases instead of adding copies. A confirmed SIM-box or scam line may be suspended:
the decision then carries a suspension request that the store or the API applies to the line. A confirmed IRSF line
may be suspended too, as a victim's: a stolen or cloned SIM is barred to protect its subscriber, who does not pay for
the fraudulent calls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from fairtel.core.errors import ConflictError, InvalidInputError, NotFoundError, Problem
from fairtel.core.ids import stable_id
from fairtel.core.time import parse_rfc3339, require_aware


class Detector(StrEnum):
    SIMBOX = "simbox"
    WANGIRI = "wangiri"
    IRSF = "irsf"
    SCAM = "scam"
    MODEL = "model"  # the supervised model's score (``fairtel fraud score``), not a rule


RULE_DETECTORS: tuple[Detector, ...] = (Detector.SIMBOX, Detector.WANGIRI, Detector.IRSF, Detector.SCAM)
"""The detectors configured by thresholds (``fraud detect``); the model is configured by its own threshold."""

SUSPENDABLE: frozenset[Detector] = frozenset({Detector.SIMBOX, Detector.SCAM, Detector.IRSF})
"""Detectors whose confirmed cases may suspend the line: the line is the instrument of the fraud (SIM-box, scam), or
the victim's line in the fraudster's hands (IRSF: a stolen or cloned SIM, barred to protect its subscriber)."""

VICTIM_LINES: frozenset[Detector] = frozenset({Detector.IRSF})
"""Detectors whose line, once the case is confirmed and the line suspended, is taken as its subscriber's: the
suspension bars it for their protection, and the case's fraudulent calls are not theirs to pay."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"


class InvalidTransitionError(ConflictError):
    code = "fraud_case_transition"


def case_id(detector: Detector | str, subject: str, period: str, key: bytes | None = None) -> str:
    """The case of a subject (a number) in a period; with the operator's ``key`` (``case_key``) nobody without it
    can recompute the id from a number, so the id shown beside a pseudonym does not give the number away."""
    return stable_id("fcs", str(detector), subject, period, key=key)


CASE_ID_PURPOSE = "fraud-case-ids"


def notice_id(case: str, record_id: str) -> str:
    return stable_id("fcn", case, record_id)


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_rfc3339(str(value))


@dataclass(frozen=True, slots=True)
class Reason:
    """One condition that held, in words: ``value`` measured against ``threshold``."""

    code: str
    value: float | None  # None: the value was missing (a model may find that telling)
    threshold: float | None
    en: str
    zh: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "value": self.value, "threshold": self.threshold, "en": self.en, "zh": self.zh}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reason:
        t, v = d.get("threshold"), d.get("value")
        return cls(str(d["code"]), None if v is None else float(v), None if t is None else float(t), str(d["en"]),
                   str(d["zh"]))


@dataclass(frozen=True, slots=True)
class Decision:
    """An entry of the append-only decision history."""

    decision_id: str
    case_id: str
    outcome: CaseStatus
    by: str
    at: datetime
    note: str | None = None
    suspend: bool = False

    def __post_init__(self) -> None:
        require_aware(self.at, "Decision.at")

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id, "case_id": self.case_id, "outcome": self.outcome.value, "by": self.by,
            "at": self.at.isoformat(), "note": self.note, "suspend": self.suspend,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decision:
        return cls(str(d["decision_id"]), str(d["case_id"]), CaseStatus(d["outcome"]), str(d["by"]), _time(d["at"]),
                   d.get("note"), bool(d.get("suspend", False)))

    def summary(self) -> str:
        """What was decided, in the words the access audit records for it (the command line and the API alike):
        ``confirmed, line suspension requested: <note>``."""
        said = self.outcome.value + (", line suspension requested" if self.suspend else "")
        return f"{said}: {self.note}" if self.note else said


def decision_id(case: str, outcome: CaseStatus | str, by: str, at: datetime) -> str:
    """The id of a decision: the same case, outcome, decider and time give the same id wherever it was taken."""
    return stable_id("fcd", case, CaseStatus(outcome).value, by, at.isoformat())


@dataclass(frozen=True, slots=True)
class Suspension:
    """A request to suspend a line, made by a confirmed case; the store or the API applies it."""

    action_id: str
    msisdn: str
    case_id: str
    detector: Detector
    requested_by: str
    requested_at: datetime
    reason_en: str
    reason_zh: str

    @property
    def victim(self) -> bool:
        """The line is its subscriber's, used by a fraudster (IRSF): barred for their protection."""
        return self.detector in VICTIM_LINES

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id, "action": "suspend_line", "msisdn": self.msisdn, "case_id": self.case_id,
            "detector": self.detector.value, "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(), "reason_en": self.reason_en, "reason_zh": self.reason_zh,
            "victim": self.victim,
        }

    def audit_reason(self, note: str | None = None) -> str:
        """Why the line is suspended, as the access audit's ``line.suspend`` row says it (the command line and the
        API alike): the case, and the deciding analyst's note."""
        said = f"{self.detector.value} case {self.case_id} confirmed"
        if self.victim:
            said += ", line barred to protect its subscriber (victim of a stolen or cloned SIM; fraudulent calls not charged)"
        return f"{said}: {note}" if note else said


@dataclass(frozen=True, slots=True)
class FraudCase:
    """What a detector found about one subject in one period. ``subject_kind`` is ``line`` (one of our
    subscribers) or ``caller`` (an outside number, e.g. a Wangiri caller); ``related`` lists other numbers
    concerned (the subscribers who called a Wangiri number back). ``history`` is filled by the queue."""

    case_id: str
    detector: Detector
    subject: str
    period: str
    score: float
    evidence: Mapping[str, Any]
    reasons: tuple[Reason, ...]
    opened_at: datetime
    subject_kind: str = "line"
    related: tuple[str, ...] = ()
    history: tuple[Decision, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        require_aware(self.opened_at, "FraudCase.opened_at")

    @property
    def status(self) -> CaseStatus:
        return self.history[-1].outcome if self.history else CaseStatus.OPEN

    @property
    def decided(self) -> Decision | None:
        return self.history[-1] if self.history else None

    def explain(self, language: str = "en") -> str:
        texts = [r.zh if language == "zh" else r.en for r in self.reasons]
        return ("；" if language == "zh" else "; ").join(texts)

    def to_dict(self, *, with_history: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case_id": self.case_id, "detector": self.detector.value, "subject": self.subject,
            "subject_kind": self.subject_kind, "period": self.period, "score": self.score,
            "status": self.status.value, "evidence": dict(self.evidence),
            "reasons": [r.to_dict() for r in self.reasons], "related": list(self.related),
            "opened_at": self.opened_at.isoformat(),
        }
        if with_history:
            d = self.decided
            out["decided_by"] = None if d is None else d.by
            out["decided_at"] = None if d is None else d.at.isoformat()
            out["history"] = [h.to_dict() for h in self.history]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FraudCase:
        return cls(
            case_id=str(d["case_id"]), detector=Detector(d["detector"]), subject=str(d["subject"]),
            period=str(d["period"]), score=float(d["score"]), evidence=dict(d.get("evidence") or {}),
            reasons=tuple(Reason.from_dict(r) for r in d.get("reasons") or ()), opened_at=_time(d["opened_at"]),
            subject_kind=str(d.get("subject_kind", "line")), related=tuple(d.get("related") or ()),
        )


@dataclass(frozen=True, slots=True)
class CallbackNotice:
    """A warning to a subscriber who called a Wangiri number back: they are the victim, not a suspect."""

    notice_id: str
    case_id: str
    msisdn: str
    caller: str
    record_id: str
    source: str | None
    called_back_at: datetime
    duration_s: int
    zone: str
    premium: bool
    text_en: str
    text_zh: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id, "case_id": self.case_id, "msisdn": self.msisdn, "caller": self.caller,
            "record_id": self.record_id, "source": self.source, "called_back_at": self.called_back_at.isoformat(),
            "duration_s": self.duration_s, "zone": self.zone, "premium": self.premium,
            "text_en": self.text_en, "text_zh": self.text_zh,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CallbackNotice:
        return cls(str(d["notice_id"]), str(d["case_id"]), str(d["msisdn"]), str(d["caller"]), str(d["record_id"]),
                   d.get("source"), _time(d["called_back_at"]), int(d["duration_s"]), str(d["zone"]),
                   bool(d["premium"]), str(d["text_en"]), str(d["text_zh"]))


@dataclass(frozen=True, slots=True)
class MergeReport:
    """``added``: new cases; ``refreshed``: open cases whose evidence was updated; ``kept``: decided cases
    found again, left as they were decided."""

    added: tuple[str, ...] = ()
    refreshed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, int]:
        return {"added": len(self.added), "refreshed": len(self.refreshed), "kept": len(self.kept)}


class CaseQueue:
    """The cases found so far and the decisions taken on them."""

    def __init__(self, cases: Iterable[FraudCase] = (), decisions: Iterable[Decision] = ()) -> None:
        self._found: dict[str, FraudCase] = {}
        self._history: dict[str, list[Decision]] = {}
        self._natural: dict[tuple[str, str, str], str] | None = None  # (detector, subject, period) -> id
        for c in cases:
            self._found[c.case_id] = replace(c, history=())
        seen: set[str] = set()
        for d in decisions:  # a decision written twice (two commands copying it from the database) counts once
            if d.decision_id not in seen:
                seen.add(d.decision_id)
                self._history.setdefault(d.case_id, []).append(d)

    def __len__(self) -> int:
        return len(self._found)

    def __contains__(self, case: object) -> bool:
        return case in self._found

    def __iter__(self) -> Iterator[FraudCase]:
        return iter(self.cases())

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(sorted((d for h in self._history.values() for d in h), key=lambda d: (d.at, d.decision_id)))

    def get(self, case: str) -> FraudCase:
        found = self._found.get(case)
        if found is None:
            raise NotFoundError(f"no fraud case {case!r}")
        return replace(found, history=tuple(self._history.get(case, ())))

    def cases(self, *, status: CaseStatus | str | None = None, detector: Detector | str | None = None,
              period: str | None = None) -> list[FraudCase]:
        """Newest period first, then by detector and highest score."""
        out = [self.get(k) for k in self._found]
        if status is not None:
            out = [c for c in out if c.status == CaseStatus(status)]
        if detector is not None:
            out = [c for c in out if c.detector == Detector(detector)]
        if period is not None:
            out = [c for c in out if c.period == period]
        out.sort(key=lambda c: (c.detector.value, -c.score, c.subject))
        out.sort(key=lambda c: c.period, reverse=True)
        return out

    def known_id(self, detector: Detector | str, subject: str, period: str) -> str | None:
        """The id under which the queue holds the case of ``subject`` by ``detector`` in ``period``, if it does
        (a case opened before its ids were keyed keeps its id)."""
        if self._natural is None:
            self._natural = {(c.detector.value, c.subject, c.period): k for k, c in self._found.items()}
        return self._natural.get((Detector(detector).value, subject, period))

    def held(self, case: FraudCase) -> FraudCase:
        """``case`` under the id the queue holds its detector, subject and period by (itself when new)."""
        known = self.known_id(case.detector, case.subject, case.period)
        return case if known is None or known == case.case_id else replace(case, case_id=known)

    def merge(self, found: Iterable[FraudCase]) -> MergeReport:
        """Add what a detector run found. A rerun finds the same cases (by detector, subject and period, under the
        id the queue already holds them by): an open case takes the new evidence (and keeps when it was first
        opened); a decided case is left exactly as it was decided."""
        added, refreshed, kept = [], [], []
        for c in map(self.held, found):
            old = self._found.get(c.case_id)
            if old is None:
                self._found[c.case_id] = replace(c, history=())
                assert self._natural is not None
                self._natural[(c.detector.value, c.subject, c.period)] = c.case_id
                added.append(c.case_id)
            elif self._history.get(c.case_id):
                kept.append(c.case_id)
            else:
                self._found[c.case_id] = replace(c, opened_at=old.opened_at, history=())
                refreshed.append(c.case_id)
        return MergeReport(tuple(added), tuple(refreshed), tuple(kept))

    def decide(
        self,
        case: str,
        outcome: CaseStatus | str,
        *,
        by: str,
        at: datetime,
        note: str | None = None,
        suspend: bool = False,
    ) -> tuple[Decision, Suspension | None]:
        """Decide an open case. Raises ``InvalidTransitionError`` for a case already decided, an outcome other
        than confirmed/false_alarm, or a suspension the case cannot justify."""
        self.get(case)
        if not by.strip():
            raise InvalidInputError([Problem("decision", None, "by", "who decided must be named")], what="decision")
        at = require_aware(at, "decision time")
        result = CaseStatus(outcome)
        decision = Decision(decision_id=decision_id(case, result, by, at), case_id=case, outcome=result, by=by.strip(), at=at,
                            note=note, suspend=suspend)
        return decision, self.adopt(decision)

    def adopt(self, decision: Decision) -> Suspension | None:
        """Record ``decision`` under the rules of ``decide``, and return the suspension request it makes, if any:
        a decision taken here, or one taken elsewhere (through the API) that the queue does not hold yet."""
        case = decision.case_id
        current = self.get(case)
        if not decision.by.strip():
            raise InvalidInputError([Problem("decision", None, "by", "who decided must be named")], what="decision")
        if decision.outcome is CaseStatus.OPEN:
            raise InvalidTransitionError(f"{case}: a decision confirms a case or marks it a false alarm")
        if current.status is not CaseStatus.OPEN:
            d = current.decided
            assert d is not None
            raise InvalidTransitionError(
                f"{case} was already decided {d.outcome.value} by {d.by} at {d.at.isoformat()}",
                details={"status": d.outcome.value, "decided_by": d.by, "decided_at": d.at.isoformat()},
            )
        if decision.suspend:
            if decision.outcome is not CaseStatus.CONFIRMED:
                raise InvalidTransitionError(f"{case}: only a confirmed case can suspend a line")
            if current.detector not in SUSPENDABLE or current.subject_kind != "line":
                raise InvalidTransitionError(
                    f"{case}: {_a_case(current.detector.value)} does not suspend the line "
                    f"(only {', '.join(sorted(d.value for d in SUSPENDABLE))} lines are suspended)"
                )
        self._history.setdefault(case, []).append(decision)
        return suspension_of(current, decision) if decision.suspend else None


def suspension_of(case: FraudCase, decision: Decision) -> Suspension:
    """The request to suspend ``case``'s line that ``decision`` makes (the same wherever it is made again)."""
    name_zh = _DETECTOR_ZH[case.detector]
    # a space between Chinese and a Latin word, as the reasons write it ("使用了 4 张 SIM 卡")
    confirmed_zh = f"已确认的 {name_zh}" if name_zh[:1].isascii() else f"已确认的{name_zh}"
    victim_en = victim_zh = ""
    if case.detector in VICTIM_LINES:
        victim_en = ("; the line's subscriber is the victim (a stolen or cloned SIM): the line is barred for their "
                     "protection and the fraudulent calls are not theirs to pay")
        victim_zh = "；本号码用户为受害方（SIM 卡被盗或被复制）：为保护用户停机，欺诈通话费用不由用户承担"
    return Suspension(
        action_id=stable_id("fsa", decision.decision_id),
        msisdn=case.subject,
        case_id=case.case_id,
        detector=case.detector,
        requested_by=decision.by,
        requested_at=decision.at,
        reason_en=f"confirmed {case.detector.value} case {case.case_id} ({case.period}): {case.explain('en')}{victim_en}",
        reason_zh=f"{confirmed_zh}案件 {case.case_id}（{case.period}）：{case.explain('zh')}{victim_zh}",
    )


_DETECTOR_ZH = {Detector.SIMBOX: "SIM 盒", Detector.WANGIRI: "响一声诈骗", Detector.IRSF: "国际话费分成欺诈",
                Detector.SCAM: "诈骗电话", Detector.MODEL: "模型评分"}


# ---------------------------------------------------------------------------------------------- files
def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, json.loads(line)


def _write_atomic(path: Path, lines: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _append(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class CaseFiles:
    """The queue at rest under one directory (``<home>/fraud``):

    - ``cases.jsonl``: the cases found (no status), rewritten whole and atomically after each run;
    - ``decisions.jsonl``: the decision history, append-only;
    - ``suspensions.jsonl``: suspension requests for the store or the API to apply, append-only;
    - ``notices.jsonl``: warnings for subscribers who called a Wangiri number back.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def cases_path(self) -> Path:
        return self.root / "cases.jsonl"

    @property
    def decisions_path(self) -> Path:
        return self.root / "decisions.jsonl"

    @property
    def suspensions_path(self) -> Path:
        return self.root / "suspensions.jsonl"

    @property
    def notices_path(self) -> Path:
        return self.root / "notices.jsonl"

    def load(self) -> CaseQueue:
        problems: list[Problem] = []
        cases: list[FraudCase] = []
        decisions: list[Decision] = []
        for n, row, path in self._rows(self.cases_path, problems):
            try:
                cases.append(FraudCase.from_dict(row))
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(Problem(str(path), n, None, f"unreadable case: {exc}"))
        for n, row, path in self._rows(self.decisions_path, problems):
            try:
                decisions.append(Decision.from_dict(row))
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(Problem(str(path), n, None, f"unreadable decision: {exc}"))
        if problems:
            raise InvalidInputError(problems, what="fraud case files")
        return CaseQueue(cases, decisions)

    @staticmethod
    def _rows(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any], Path]]:
        try:
            return [(n, row, path) for n, row in _read_jsonl(path)]
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), exc.lineno, None, f"not JSON: {exc.msg}"))
            return []

    def save_cases(self, queue: CaseQueue) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        rows = sorted((c.to_dict(with_history=False) for c in queue.cases()), key=lambda r: r["case_id"])
        for r in rows:
            r.pop("status", None)
        _write_atomic(self.cases_path, (json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows))

    def record(self, decision: Decision, suspension: Suspension | None = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _append(self.decisions_path, [decision.to_dict()])
        if suspension is not None:
            _append(self.suspensions_path, [suspension.to_dict()])

    def suspensions(self) -> list[dict[str, Any]]:
        return [row for _, row in _read_jsonl(self.suspensions_path)]

    def notices(self) -> list[CallbackNotice]:
        return [CallbackNotice.from_dict(row) for _, row in _read_jsonl(self.notices_path)]

    def save_notices(self, notices: Iterable[CallbackNotice]) -> int:
        """Merge by notice id (a rerun gives the same ids); returns how many were new."""
        self.root.mkdir(parents=True, exist_ok=True)
        current = {n.notice_id: n for n in self.notices()}
        before = len(current)
        for n in notices:
            current.setdefault(n.notice_id, n)
        ordered = sorted(current.values(), key=lambda n: (n.called_back_at, n.notice_id))
        _write_atomic(self.notices_path, (json.dumps(n.to_dict(), ensure_ascii=False, sort_keys=True) for n in ordered))
        return len(current) - before


def _a_case(detector: str) -> str:
    """"an IRSF case", "a wangiri case": the detector's name as a sentence says it."""
    name = {"irsf": "IRSF", "simbox": "SIM-box", "wangiri": "Wangiri"}.get(detector, detector)
    return f"{'an' if name[0].lower() in 'aeiou' or name == 'IRSF' else 'a'} {name} case"
