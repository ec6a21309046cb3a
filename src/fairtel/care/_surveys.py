"""NPS surveys: the 0–10 answer to "how likely are you to recommend us?", asked after a complaint is resolved.

Promoters answer 9–10, passives 7–8, detractors 0–6; NPS = % promoters − % detractors (−100 … 100).

NPS is measured once per respondent per period, as operators report it: a subscriber who answers again in the
same period (asked after a second complaint, or answering the same survey twice) has changed their mind, so
their latest answer of the period counts and the earlier ones stay on record without counting. Counting
every answer would let one subscriber answering five times with 10 outweigh four others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from fairtel.care._complaints import Complaint
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.time import require_aware


class NpsGroup(StrEnum):
    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    survey_id: str
    msisdn: str
    score: int
    answered_at: datetime
    channel: str
    comment: str | None = None


def check_score(score: object) -> int:
    """A score is a whole number 0–10 (a bool or "7.5" is not)."""
    if isinstance(score, bool) or not isinstance(score, int | str):
        raise InvalidInputError([Problem("survey", None, "score", "a whole number from 0 to 10")], what="survey")
    try:
        value = int(score)
    except ValueError:
        raise InvalidInputError([Problem("survey", None, "score", f"a whole number from 0 to 10, not {score!r}")],
                                what="survey") from None
    if not 0 <= value <= 10:
        raise InvalidInputError([Problem("survey", None, "score", f"from 0 to 10, not {value}")], what="survey")
    return value


def nps_group(score: int) -> NpsGroup:
    score = check_score(score)
    if score >= 9:
        return NpsGroup.PROMOTER
    if score >= 7:
        return NpsGroup.PASSIVE
    return NpsGroup.DETRACTOR


@dataclass(frozen=True, slots=True)
class NpsResult:
    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> Decimal | None:
        """NPS to one decimal, or None without answers."""
        if not self.responses:
            return None
        raw = Decimal(100 * (self.promoters - self.detractors)) / Decimal(self.responses)
        return raw.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def to_dict(self) -> dict[str, object]:
        return {"responses": self.responses, "promoters": self.promoters, "passives": self.passives,
                "detractors": self.detractors, "nps": None if self.score is None else str(self.score)}


def nps(scores: Iterable[int]) -> NpsResult:
    """NPS of ``scores``, one per respondent (:func:`respondent_scores` of a period's answers)."""
    groups = [nps_group(s) for s in scores]
    return NpsResult(len(groups), groups.count(NpsGroup.PROMOTER), groups.count(NpsGroup.PASSIVE),
                     groups.count(NpsGroup.DETRACTOR))


def latest_answers(answers: Iterable[SurveyAnswer]) -> list[SurveyAnswer]:
    """Each respondent's latest answer of ``answers`` (one period's), in the order of their numbers: the answer
    that counts. Answers at the same instant are told apart by survey id, so the choice never depends on the
    order the answers were read in."""
    latest: dict[str, SurveyAnswer] = {}
    for a in answers:
        at = require_aware(a.answered_at, "answered_at").astimezone(UTC)  # instants, whatever zone each was read in
        held = latest.get(a.msisdn)
        if held is None or (at, a.survey_id) > (held.answered_at.astimezone(UTC), held.survey_id):
            latest[a.msisdn] = a
    return [latest[m] for m in sorted(latest)]


def respondent_scores(answers: Iterable[SurveyAnswer]) -> list[int]:
    """The scores NPS counts of one period's ``answers``: each respondent's latest (:func:`latest_answers`)."""
    return [a.score for a in latest_answers(answers)]


def surveys_due(complaints: Iterable[Complaint], answered_msisdns: set[str], *, since: datetime) -> list[Complaint]:
    """Complaints resolved since ``since`` whose subscriber has not answered a survey yet: whom to ask."""
    since = require_aware(since, "since").astimezone(UTC)  # instants: in one zone a repeated hour compares by wall clock
    due = [c for c in complaints
           if c.resolved_at is not None and c.resolved_at.astimezone(UTC) >= since and c.msisdn not in answered_msisdns]
    return sorted(due, key=lambda c: ((c.resolved_at or since).astimezone(UTC), c.complaint_id))


def detractor_answers(answers: Iterable[SurveyAnswer]) -> list[SurveyAnswer]:
    """The respondents of one period's ``answers`` whose answer that counts (:func:`latest_answers`) makes them
    detractors (0–6), as :func:`nps` counts them, the lowest score first, then the earliest answer, then the number:
    whom to call back. A respondent who scored 3 and then 8 in the period is a passive, not listed."""
    found = [a for a in latest_answers(answers) if nps_group(a.score) is NpsGroup.DETRACTOR]
    return sorted(found, key=lambda a: (a.score, a.answered_at.astimezone(UTC), a.msisdn))
