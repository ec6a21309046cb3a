"""The REST endpoints (``/api/v1``). Thin: each one calls a service function, which checks and audits.

Most are plain functions (run in the thread pool: they use the database). The hot reads of issued bills are
coroutines that answer from the bill cache on the event loop and go to the thread pool only on a miss."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field

from fairtel.api import _admin, _cases, _customers, _export, _insight, _marketing, _subscriptions, _tickets
from fairtel.api._access import Access
from fairtel.api._deps import Acc, BearerToken, Svc, Who, served
from fairtel.api._errors import ERROR_RESPONSES
from fairtel.api._paging import DEFAULT_LIMIT, MAX_LIMIT, Page
from fairtel.care import ComplaintCategory
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, PermissionDeniedError, Problem
from fairtel.core.time import Period

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="From the previous page's `next_cursor`.")]
Msisdn = Annotated[str, Field(pattern=r"^\d{7,15}$")]
ComplaintId = Annotated[str, Path(max_length=64)]  # a pseudonymised id is longer than the stored one
TicketId = Annotated[str, Path(max_length=40)]
PERIOD_PATTERN = r"^[0-9]{4}-[0-9]{2}$"  # YYYY-MM (ASCII digits); a month out of range is `time_invalid` (``checked_period``)


def checked_period(text: str | None) -> str | None:
    """``text`` once ``Period.parse`` reads it; what it refuses (a month out of range: ``time_invalid``; a period
    not ending by year 9999: ``input_invalid``) is told as a problem of the parameter itself, named ``period``, not
    of the year or month inside it."""
    if text is None:
        return None
    try:
        Period.parse(text)
    except InvalidInputError as exc:
        raise InvalidInputError([Problem("request", None, "period", p.message) for p in exc.problems], what="request") from None
    except FairtelError as exc:
        exc.details["field"] = "period"
        raise
    return text

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


class WhoOut(BaseModel):
    username: str
    role: str
    msisdn: str | None
    via: str


class OrderIn(BaseModel):
    offer_id: str = Field(min_length=1, max_length=64)


class ConfirmIn(BaseModel):
    code: str | None = Field(None, max_length=16, description="the one-time code the order sent to the phone by SMS: "
                             "required when it sent one (`confirm_with: sms_code`)")


class CapIn(BaseModel):
    amount: str | None = Field(..., max_length=20, description="A decimal string in plain digits, at most the currency's minor "
                               "digits (`\"100\"`, `\"99.50\"` in CNY; no sign, space or exponent); an explicit null removes the "
                               "cap (a body without `amount` is refused: a client that forgot it does not remove the protection).")
    currency: str | None = Field(None, pattern="^[A-Z]{3}$", description="The catalog's currency (the default); another is refused.")


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    language: str | None = Field(None, pattern="^(zh|en)$")


class DismissIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


# ---- session -------------------------------------------------------------------------------------------
# GET /health (liveness with a database check) is api/_health.py's, included before this router

@router.post("/auth/token", tags=["auth"], summary="Log in with a password; returns a bearer token")
def login(request: Request, svc: Svc, username: Annotated[str, Form(min_length=1, max_length=64)], password: Annotated[str, Form(min_length=1, max_length=256)]) -> TokenOut:
    # the attempt is in the access audit whatever its outcome (rate limited, failed, succeeded), never the password
    who = svc.logins.log_in(svc.check_login, client=request.client.host if request.client else "?", username=username,
                            password=password, resource="POST /api/v1/auth/token",
                            request_id=getattr(request.state, "request_id", None))
    token = svc.signer.issue(who)
    return TokenOut(access_token=token, expires_in=int(svc.signer.ttl.total_seconds()), role=who.role.value)


@router.post("/auth/logout", tags=["auth"], status_code=204, summary="Log out: this bearer token is refused from now on")
def logout(svc: Svc, who: Who, creds: BearerToken) -> Response:
    if who.via != "token" or creds is None:
        raise PermissionDeniedError("an API key is not logged out: an admin revokes it (DELETE /api/v1/api-keys/{key_id})")
    svc.revoke_token(creds.credentials)
    return Response(status_code=204)


@router.get("/auth/me", tags=["auth"])
def me_who(who: Who) -> WhoOut:
    return WhoOut(username=who.username, role=who.role.value, msisdn=who.msisdn, via=who.via)


# ---- a subscriber's own data ---------------------------------------------------------------------------
@router.get("/me", tags=["me"])
def me(acc: Acc) -> _customers.SubscriberOut:
    return _customers.get_subscriber(acc, acc.own_msisdn())


@router.get("/me/bills", tags=["me"])
def my_bills(acc: Acc, limit: Limit = 24, cursor: Cursor = None) -> Page[_customers.BillOut]:
    return _customers.list_bills(acc, acc.own_msisdn(), limit=limit, cursor=cursor)


@router.get("/me/bills/{period}", tags=["me"], summary="One bill with its itemised lines")
async def my_bill(acc: Acc, period: Annotated[str, Path(pattern=PERIOD_PATTERN, description="YYYY-MM")]) -> _customers.BillOut:
    checked_period(period)
    return await served(acc, lambda: _customers.bill_for_period(acc, acc.own_msisdn(), period))


@router.get("/me/usage", tags=["me"], summary="Itemised rated lines, each with why it costs what it costs")
def my_usage(
    acc: Acc, svc: Svc, period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    kind: Annotated[str | None, Query(pattern="^(voice|sms|data|vas)$")] = None, limit: Limit = 100, cursor: Cursor = None,
) -> _customers.UsagePage:
    return _customers.usage_lines(acc, svc.app.lake, acc.own_msisdn(), period=checked_period(period), kind=kind, limit=limit, cursor=cursor,
                                  catalog=svc.stored_catalog())


@router.get("/me/subscriptions", tags=["me"])
def my_subscriptions(acc: Acc, svc: Svc) -> list[_subscriptions.SubscriptionOut]:
    return _subscriptions.subscriptions(acc, svc.catalog(), acc.own_msisdn())


@router.post("/me/subscriptions", tags=["me"], status_code=201, summary="Order an offer (it is charged only once confirmed)")
def order(acc: Acc, svc: Svc, body: OrderIn) -> _subscriptions.SubscriptionOut:
    return _subscriptions.order(acc, svc.catalog(), body.offer_id)


@router.post("/me/subscriptions/{subscription_id}/confirm", tags=["me"])
def confirm(acc: Acc, svc: Svc, subscription_id: str, body: ConfirmIn | None = None) -> _subscriptions.SubscriptionOut:
    return _subscriptions.confirm(acc, svc.catalog(), subscription_id, code=body.code if body is not None else None)


@router.post("/me/subscriptions/{subscription_id}/resend-code", tags=["me"],
             summary="Send a new confirmation code by SMS (the previous one stops working)")
def resend_code(acc: Acc, svc: Svc, subscription_id: str) -> _subscriptions.SubscriptionOut:
    return _subscriptions.resend_code(acc, svc.catalog(), subscription_id)


@router.post("/subscriptions/{subscription_id}/cancel", tags=["me", "customers"], summary="Cancel (the subscriber, or an agent handling them)")
def cancel(acc: Acc, svc: Svc, subscription_id: str) -> _subscriptions.SubscriptionOut:
    return _subscriptions.cancel(acc, svc.catalog(), subscription_id)


@router.get("/me/roaming-cap", tags=["me"])
def my_cap(acc: Acc) -> _customers.RoamingCapOut:
    return _customers.roaming_cap(acc, acc.own_msisdn())


@router.put("/me/roaming-cap", tags=["me"])
def set_my_cap(acc: Acc, svc: Svc, body: CapIn) -> _customers.RoamingCapOut:
    # in the catalog's currency, the one roaming is charged in (not the settings' default, which may differ from it);
    # a cap in another is refused
    catalog = svc.stored_catalog()
    in_catalog = catalog.operator.currency if catalog is not None else None
    return _customers.set_roaming_cap(acc, acc.own_msisdn(), body.amount, body.currency or in_catalog or svc.settings.currency,
                                      catalog_currency=in_catalog)


@router.get("/me/marketing", tags=["me"], summary="Whether my line refuses marketing based on automated profiling (retention offers)")
def my_marketing(acc: Acc) -> _marketing.MarketingOut:
    return _marketing.marketing_preference(acc, acc.own_msisdn())


@router.put("/me/marketing", tags=["me"], summary="Refuse (or accept again) marketing based on automated profiling; audited")
def set_my_marketing(acc: Acc, body: _marketing.MarketingIn) -> _marketing.MarketingOut:
    return _marketing.set_marketing_preference(acc, acc.own_msisdn(), body)


@router.post("/me/surveys", tags=["me"], status_code=201)
def survey(acc: Acc, body: _insight.SurveyIn) -> _insight.SurveyOut:
    return _insight.answer_survey(acc, body)


ExportMonths = Annotated[int, Query(ge=1, le=_export.MAX_USAGE_MONTHS, description="How many of the latest months' usage "
                                    "records to list one by one (earlier months: their summary only).")]
ExportFormat = Annotated[str, Query(alias="format", pattern="^(json|zip)$", description="json (one document) or zip "
                                                                                      "(export.json and a CSV for each list).")]
_EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "Everything held about the line", "content": {"application/json": {}, "application/zip": {}}}}


def _data_export(acc: Access, svc: Svc, msisdn: str, months: int, fmt: str) -> Response:
    export = _export.data_export(acc, msisdn, lake=svc.app.lake, catalog=svc.stored_catalog(), months=months)
    headers = {"Cache-Control": "no-store"}
    if fmt == "zip":
        name = f"fairtel-data-export-{acc.now.date().isoformat()}.zip"  # never the number: file names end up in logs
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(_export.export_zip(export), media_type="application/zip", headers=headers)
    return JSONResponse(export, headers=headers)


@router.get("/me/data-export", tags=["me"], response_model=None, responses=_EXPORT_RESPONSES,
            summary="Everything held about my line, in one export (a data access request; audited)")
def my_data_export(acc: Acc, svc: Svc, months: ExportMonths = _export.USAGE_MONTHS, fmt: ExportFormat = "json") -> Response:
    return _data_export(acc, svc, acc.own_msisdn(), months, fmt)


@router.post("/chat", tags=["me"], summary="Ask the assistant (503 assistant_unavailable until one is trained)")
def chat(acc: Acc, svc: Svc, body: ChatIn) -> _customers.ChatOut:
    return _customers.chat(acc, svc.assistant, body.message, language=body.language)


@router.get("/offers", tags=["catalog"])
def offers(_who: Who, svc: Svc) -> list[_subscriptions.OfferOut]:
    with svc.app.db.connect() as conn:  # the offers of suspended providers are off sale
        return _subscriptions.offers(svc.catalog(), conn)


# ---- customers (agents, under an assignment) -----------------------------------------------------------
# A path's number may be written as people write it (``+86 138…``, ``138…`` as dialled at home): each route reads,
# refuses and audits it as the line it names (``Access.line_of``).
@router.get("/subscribers", tags=["customers"], summary="Subscribers: masked for agents, pseudonymised for analysts")
def subscribers(
    acc: Acc, status: Annotated[str | None, Query(pattern="^(active|suspended|closed)$")] = None,
    plan_id: Annotated[str | None, Query(max_length=64)] = None, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Page[_customers.SubscriberOut]:
    return _customers.list_subscribers(acc, status=status, plan_id=plan_id, limit=limit, cursor=cursor)


@router.get("/subscribers/{msisdn}", tags=["customers"])
def subscriber(acc: Acc, msisdn: str) -> _customers.SubscriberOut:
    return _customers.get_subscriber(acc, acc.line_of(msisdn))


@router.get("/subscribers/{msisdn}/bills", tags=["customers"])
def subscriber_bills(acc: Acc, msisdn: str, limit: Limit = 24, cursor: Cursor = None) -> Page[_customers.BillOut]:
    return _customers.list_bills(acc, acc.line_of(msisdn), limit=limit, cursor=cursor)


@router.get("/subscribers/{msisdn}/usage", tags=["customers"])
def subscriber_usage(
    acc: Acc, svc: Svc, msisdn: str, period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
    kind: Annotated[str | None, Query(pattern="^(voice|sms|data|vas)$")] = None, limit: Limit = 100, cursor: Cursor = None,
) -> _customers.UsagePage:
    return _customers.usage_lines(acc, svc.app.lake, acc.line_of(msisdn), period=checked_period(period), kind=kind, limit=limit, cursor=cursor,
                                  catalog=svc.stored_catalog())


@router.get("/subscribers/{msisdn}/subscriptions", tags=["customers"])
def subscriber_subscriptions(acc: Acc, svc: Svc, msisdn: str) -> list[_subscriptions.SubscriptionOut]:
    return _subscriptions.subscriptions(acc, svc.catalog(), acc.line_of(msisdn))


@router.get("/subscribers/{msisdn}/marketing", tags=["customers"],
            summary="Whether a customer's line refuses marketing (an agent handling them; audited)")
def subscriber_marketing(acc: Acc, msisdn: str) -> _marketing.MarketingOut:
    return _marketing.marketing_preference(acc, acc.line_of(msisdn))


@router.put("/subscribers/{msisdn}/marketing", tags=["customers"],
            summary="Record a customer's refusal (or acceptance) of marketing on their behalf (an agent handling them; audited)")
def set_subscriber_marketing(acc: Acc, msisdn: str, body: _marketing.MarketingIn) -> _marketing.MarketingOut:
    return _marketing.set_marketing_preference(acc, acc.line_of(msisdn), body)


@router.get("/subscribers/{msisdn}/data-export", tags=["customers"], response_model=None, responses=_EXPORT_RESPONSES,
            summary="Everything held about a customer's line, for their data access request (an agent handling them; audited)")
def subscriber_data_export(acc: Acc, svc: Svc, msisdn: str, months: ExportMonths = _export.USAGE_MONTHS,
                           fmt: ExportFormat = "json") -> Response:
    return _data_export(acc, svc, acc.line_of(msisdn), months, fmt)


def _bill(acc: Access, bill_id: str) -> _customers.BillOut:
    """A bill to a caller who may read it. A bill id is an unkeyed hash of a number and a period, computable by
    anyone: a caller refused the bill's subscriber (an agent not handling them, another subscriber) is answered
    as for a bill that does not exist (404), so the answer does not tell whether a number is a customer. The
    refusal is on record all the same (``access.denied`` with the subscriber's pseudonym, "answered not_found")."""
    try:
        return _customers.get_bill(acc, bill_id)
    except PermissionDeniedError:
        if acc.refused_subject:
            raise NotFoundError(f"no bill {bill_id}") from None
        raise


@router.get("/bills/{bill_id}", tags=["customers", "me"], summary="A bill and its itemised lines (its owner, or an agent handling them)")
async def bill(acc: Acc, bill_id: str) -> _customers.BillOut:
    return await served(acc, lambda: _bill(acc, bill_id))


@router.get("/bills/{bill_id}/lines", tags=["customers", "me"])
async def bill_lines(acc: Acc, bill_id: str) -> list[_customers.BillLineOut]:
    return await served(acc, lambda: _bill(acc, bill_id).lines or [])


@router.post("/bills/{bill_id}/credits", tags=["care"], status_code=201,
             summary="Give back a disputed or goodwill charge: a credit against an issued bill or a record it charged, for the next bill "
                     "(an agent handling the customer)")
def credit(acc: Acc, svc: Svc, bill_id: str, body: _cases.NewCredit) -> _cases.CreditOut:
    try:
        return _cases.post_credit(acc, bill_id, body, catalog=svc.stored_catalog())
    except PermissionDeniedError:
        if acc.refused_subject:  # as for reading the bill: whether the number is a customer is not told
            raise NotFoundError(f"no bill {bill_id}") from None
        raise


# ---- complaints and assignments ------------------------------------------------------------------------
_CATEGORIES = "^(" + "|".join(c.value for c in ComplaintCategory) + ")$"  # a filter by anything else is refused


@router.get("/complaints", tags=["care"])
def complaints(
    acc: Acc, status: Annotated[str | None, Query(pattern="^(open|in_progress|closed)$")] = None,
    lifecycle: Annotated[str | None, Query(pattern="^(opened|acknowledged|resolved|closed|reopened)$")] = None,
    category: Annotated[str | None, Query(pattern=_CATEGORIES)] = None, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Page[_cases.ComplaintOut]:
    return _cases.list_complaints(acc, status=status, lifecycle=lifecycle, category=category, limit=limit, cursor=cursor)


@router.post("/complaints", tags=["care"], status_code=201)
def new_complaint(acc: Acc, body: _cases.NewComplaint) -> _cases.ComplaintOut:
    return _cases.file_complaint(acc, body)


@router.post("/complaints/{complaint_id}/take", tags=["care"],
             summary="Handle a complaint: opens the customer's data until the assignment expires; acknowledges it if opened or reopened")
def take(acc: Acc, complaint_id: ComplaintId) -> _cases.AssignmentOut:
    with _cases.refusals_about(acc, _cases.complaint_subject, complaint_id):
        return _cases.take_complaint(acc, complaint_id)


@router.post("/complaints/{complaint_id}/resolve", tags=["care"], summary="Settle a complaint, with a note and the refund that settled it")
def resolve_complaint(acc: Acc, complaint_id: ComplaintId, body: _cases.ResolveComplaint | None = None) -> _cases.ComplaintOut:
    b = body or _cases.ResolveComplaint()
    with _cases.refusals_about(acc, _cases.complaint_subject, complaint_id):
        return _cases.resolve_complaint(acc, complaint_id, note=b.note, refund=b.refund)


@router.post("/complaints/{complaint_id}/close", tags=["care"])
def close(acc: Acc, complaint_id: ComplaintId, body: _cases.ComplaintNote | None = None) -> _cases.ComplaintOut:
    with _cases.refusals_about(acc, _cases.complaint_subject, complaint_id):
        return _cases.close_complaint(acc, complaint_id, note=body.note if body else None)


@router.post("/complaints/{complaint_id}/reopen", tags=["care"], summary="Reopen (staff; a subscriber their own resolved complaint)")
def reopen_complaint(acc: Acc, complaint_id: ComplaintId, body: _cases.ComplaintNote | None = None) -> _cases.ComplaintOut:
    with _cases.refusals_about(acc, _cases.complaint_subject, complaint_id):
        return _cases.reopen_complaint(acc, complaint_id, note=body.note if body else None)


@router.get("/complaints/{complaint_id}/history", tags=["care"], summary="A complaint and its lifecycle events, oldest first")
def complaint_history(acc: Acc, complaint_id: ComplaintId) -> _cases.ComplaintHistoryOut:
    with _cases.refusals_about(acc, _cases.complaint_subject, complaint_id):
        return _cases.complaint_history(acc, complaint_id)


@router.get("/assignments", tags=["care"])
def assignments(acc: Acc) -> list[_cases.AssignmentOut]:
    return _cases.my_assignments(acc)


@router.post("/assignments/{assignment_id}/release", tags=["care"], status_code=204)
def release(acc: Acc, assignment_id: str) -> Response:
    _cases.release_assignment(acc, assignment_id)
    return Response(status_code=204)


# ---- trouble tickets: hand-offs and fault reports from the assistant ----------------------------------------
@router.get("/tickets", tags=["care"], summary="The ticket queue: masked for agents until handled, pseudonymised for other staff; "
                                               "a subscriber's own tickets")
def tickets(
    acc: Acc, status: Annotated[str | None, Query(pattern="^(open|in_progress|resolved|closed)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(handoff|fault)$")] = None,
    unsettled: Annotated[bool, Query(description="Open and in-progress tickets only.")] = False,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Page[_tickets.TicketOut]:
    return _tickets.list_tickets(acc, status=status, kind=kind, unsettled=unsettled, limit=limit, cursor=cursor)


@router.post("/tickets/{ticket_id}/take", tags=["care"],
             summary="Handle a ticket: opens the customer's data until the assignment expires; starts work on an open one")
def take_ticket(acc: Acc, ticket_id: TicketId) -> _tickets.AssignmentOut:
    with _cases.refusals_about(acc, _cases.ticket_subject, ticket_id):
        return _tickets.take_ticket(acc, ticket_id)


@router.get("/tickets/{ticket_id}/transcript", tags=["care"],
            summary="The conversation a ticket carries and the agents' notes (the agent handling the customer)")
def ticket_transcript(
    acc: Acc, ticket_id: TicketId,
    turns_from: Annotated[int, Query(ge=0, description="The index (from 0) of the first turn to return: the previous "
                                                       "page's `next_turns_from`.")] = 0,
    turns_limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="Turns per page (1–500); the whole "
                                                                            "conversation from `turns_from` when left out.")] = None,
) -> _tickets.TranscriptOut:
    with _cases.refusals_about(acc, _cases.ticket_subject, ticket_id):
        return _tickets.ticket_transcript(acc, ticket_id, turns_from=turns_from, turns_limit=turns_limit)


@router.post("/tickets/{ticket_id}/notes", tags=["care"], status_code=201,
             summary="Note a ticket without moving it (the agent handling the customer; for the agents only)")
def note_ticket(acc: Acc, ticket_id: TicketId, body: _tickets.TicketNoteIn) -> _tickets.NoteOut:
    with _cases.refusals_about(acc, _cases.ticket_subject, ticket_id):
        return _tickets.note_ticket(acc, ticket_id, body.note)


@router.post("/tickets/{ticket_id}/resolve", tags=["care"], summary="Resolve a ticket, with a note of what was done")
def resolve_ticket(acc: Acc, ticket_id: TicketId, body: _tickets.TicketNote | None = None) -> _tickets.TicketOut:
    with _cases.refusals_about(acc, _cases.ticket_subject, ticket_id):
        return _tickets.resolve_ticket(acc, ticket_id, note=body.note if body else None)


@router.post("/tickets/{ticket_id}/close", tags=["care"], summary="Close a ticket, with a note")
def close_ticket(acc: Acc, ticket_id: TicketId, body: _tickets.TicketNote | None = None) -> _tickets.TicketOut:
    with _cases.refusals_about(acc, _cases.ticket_subject, ticket_id):
        return _tickets.close_ticket(acc, ticket_id, note=body.note if body else None)


# ---- findings and fraud --------------------------------------------------------------------------------
@router.get("/findings", tags=["assurance"])
def findings(
    acc: Acc, status: Annotated[str | None, Query(pattern="^(open|confirmed|resolved|dismissed)$")] = None,
    kind: Annotated[str | None, Query(max_length=48)] = None, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Page[_cases.FindingOut]:
    return _cases.list_findings(acc, status=status, kind=kind, limit=limit, cursor=cursor)


@router.get("/findings/{finding_id}", tags=["assurance"])
def finding(acc: Acc, finding_id: str) -> _cases.FindingOut:
    with _cases.refusals_about(acc, _cases.finding_subject, finding_id):
        return _cases.get_finding(acc, finding_id)


@router.post("/findings/{finding_id}/refund", tags=["assurance"], summary="Resolve with a refund adjustment")
def refund(acc: Acc, svc: Svc, finding_id: str, body: _cases.Resolve | None = None) -> _cases.ResolutionOut:
    from fairtel.assurance import FileOutbox

    name = svc.catalog().operator.name
    with _cases.refusals_about(acc, _cases.finding_subject, finding_id):
        # the subscriber is told of the refund as an assure --refund run tells them (the SMS id is the refund's)
        return _cases.refund_finding(acc, finding_id, reason=body.reason if body else None,
                                     outbox=FileOutbox(svc.settings.outbox_dir), sender={"zh": name.zh, "en": name.en})


@router.post("/findings/{finding_id}/dismiss", tags=["assurance"])
def dismiss(acc: Acc, finding_id: str, body: DismissIn) -> _cases.ResolutionOut:
    with _cases.refusals_about(acc, _cases.finding_subject, finding_id):
        return _cases.dismiss_finding(acc, finding_id, reason=body.reason)


@router.get("/fraud/cases", tags=["fraud"])
def fraud_cases(
    acc: Acc, status: Annotated[str | None, Query(pattern="^(open|confirmed|false_alarm)$")] = None,
    detector: Annotated[str | None, Query(max_length=48)] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Page[_cases.FraudCaseOut]:
    return _cases.list_fraud_cases(acc, status=status, detector=detector, period=period, limit=limit, cursor=cursor)


@router.post("/fraud/cases/{case_id}/decide", tags=["fraud"])
def decide(acc: Acc, case_id: str, body: _cases.Decision) -> _cases.FraudCaseOut:
    with _cases.refusals_about(acc, _cases.case_subject, case_id):
        return _cases.decide_fraud_case(acc, case_id, body.status, note=body.note, suspend=body.suspend)


def _may_reveal(acc: Acc, case_id: str) -> None:
    """Asked before the body is read (a dependency runs before the body is validated): a caller who may not reveal
    is refused (403, on record with the case's subscriber) whatever they sent, not told first that a reason is
    too short (422, on record nowhere)."""
    _cases.require_reveal(acc, case_id)


@router.post("/fraud/cases/{case_id}/reveal", tags=["fraud"], summary="The plain number of a case: a separate, audited action",
             dependencies=[Depends(_may_reveal)])
def reveal(acc: Acc, case_id: str, body: _cases.Reveal) -> _cases.RevealOut:
    return _cases.reveal_fraud_number(acc, case_id, body.reason)


# ---- indicators ----------------------------------------------------------------------------------------
@router.get("/kpis", tags=["insight"])
def kpis(acc: Acc, svc: Svc) -> _insight.Kpis:
    return _insight.kpis(acc, svc.app.lake, tz=svc.settings.timezone, currency=svc.settings.currency)


@router.get("/retention", tags=["insight"], summary="Subscribers at risk of leaving, with reasons (pseudonymised)")
def retention(acc: Acc, svc: Svc, min_risk: Annotated[float, Query(ge=0, le=1)] = 0.0, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> _insight.RetentionPage:
    return _insight.retention_list(acc, svc.app.lake, min_risk=min_risk, limit=limit, cursor=cursor)


# ---- administration ------------------------------------------------------------------------------------
def _rfc3339_only(value: object) -> object:
    """A query's instant as RFC 3339 (``2026-11-01T00:00:00+08:00``), never a bare number: read as seconds since
    1970 it named an instant nobody meant (``since=-4398046511105`` was the year -137 000)."""
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("an RFC 3339 date-time, such as 2026-11-01T00:00:00+08:00")
    return value


Instant = Annotated[datetime | None, BeforeValidator(_rfc3339_only),
                    Query(description="RFC 3339 date-time with its offset, such as 2026-11-01T00:00:00+08:00")]


@router.get("/audit", tags=["admin"], summary="Search the access audit (a number is pseudonymised before the search)")
def audit(
    acc: Acc, actor: Annotated[str | None, Query(max_length=64)] = None, msisdn: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=32)] = None, action: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant = None, until: Instant = None, limit: Limit = 100, cursor: Cursor = None,
) -> Page[_admin.AuditOut]:
    return _admin.search_audit(acc, actor=actor, msisdn=msisdn, subject=subject, action=action, since=since, until=until, limit=limit, cursor=cursor)


@router.get("/users", tags=["admin"])
def users(acc: Acc) -> list[_admin.UserOut]:
    return _admin.users(acc)


@router.post("/users", tags=["admin"], status_code=201)
def add_user(acc: Acc, body: _admin.NewUser) -> _admin.UserOut:
    return _admin.add_user(acc, body)


@router.post("/users/{username}/disable", tags=["admin"], status_code=204)
def disable_user(acc: Acc, svc: Svc, username: str) -> Response:
    _admin.disable_user(acc, username)
    svc.forget_user(username)
    return Response(status_code=204)


@router.post("/users/{username}/api-keys", tags=["admin"], status_code=201)
def add_key(acc: Acc, username: str, body: _admin.NewApiKey | None = None) -> _admin.ApiKeyOut:
    return _admin.add_api_key(acc, username, body or _admin.NewApiKey())


@router.delete("/api-keys/{key_id}", tags=["admin"], status_code=204)
def drop_key(acc: Acc, key_id: str) -> Response:
    _admin.drop_api_key(acc, key_id)
    return Response(status_code=204)

