"""``LineFacts`` of a line that moved to another customer with its activation kept (an owner change, 过户): the port
tells the change (``holder_since``) beside the activation, and the current customer's holding begins at the later
of the two (``holding_from``), as the register, billing and the API count it.

Before: ``LineFacts`` had the activation alone, so an in-memory port could not say that a line changed owner, and
its current customer's holding read as beginning at the number's activation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fairtel.care._chat_port import LineFacts, Text

CN = timezone(timedelta(hours=8))
ACTIVATED = datetime(2025, 1, 1, tzinfo=CN)
CHANGE = datetime(2026, 3, 10, tzinfo=CN)


def _facts(**kw: datetime | None) -> LineFacts:
    return LineFacts(msisdn="8613800000001", customer_id="c9", plan_id="payg", plan_name=Text("随心", "PAYG"),
                     status="active", language="zh", **kw)  # type: ignore[arg-type]


def test_the_holding_of_a_line_that_changed_owner_begins_at_the_change() -> None:
    assert _facts(activated_at=ACTIVATED, holder_since=CHANGE).holding_from == CHANGE


def test_a_line_that_never_changed_owner_is_held_from_its_activation() -> None:
    assert _facts(activated_at=ACTIVATED).holding_from == ACTIVATED
    # a change dated before a later activation (the number given to a new holder since) no longer counts
    assert _facts(activated_at=CHANGE, holder_since=ACTIVATED).holding_from == CHANGE
    assert _facts().holding_from is None


def test_a_stored_instant_without_a_zone_is_utc() -> None:
    naive = CHANGE.astimezone(UTC).replace(tzinfo=None)
    assert _facts(activated_at=ACTIVATED, holder_since=naive).holding_from == CHANGE
