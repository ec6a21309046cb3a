"""The roaming caps subscribers set, read for bill shock: the latest row of each line set by the instant asked
(a row without an amount removes the cap), on SQLite and PostgreSQL; what it reads raises the alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from fairtel.assurance import FindingKind, assure
from fairtel.assurance._billshock import OWN_ROAMING_CAP, SubscriberCap
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.money import Money
from fairtel.store import RoamingCap
from fairtel.store._roaming_caps import caps_in_force
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B, C, D, E = (f"861380013800{i}" for i in range(1, 6))
T1, T2, T3 = (
    datetime(2026, 3, 1, 9, tzinfo=CN),
    datetime(2026, 3, 10, 12, tzinfo=CN),
    datetime(2026, 3, 20, 8, tzinfo=CN),
)


def _row(cap_id: str, msisdn: str, minor: int | None, at: datetime, currency: str = "CNY") -> dict[str, Any]:
    return {
        "cap_id": cap_id,
        "msisdn": msisdn,
        "amount_minor": minor,
        "currency": None if minor is None else currency,
        "set_at": at,
        "set_by": "sub-1",
    }


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            table_of(RoamingCap).insert(),
            [
                _row("cap_a1", A, 10000, T1),
                _row("cap_a2", A, 20000, T2),  # A raised it on the 10th
                _row("cap_b1", B, 5000, T1),
                _row("cap_b2", B, None, T2),  # B removed it on the 10th
                _row("cap_c1", C, 8000, T3),  # C set one on the 20th
                _row("cap_d1", D, 3000, T1),
                _row("cap_d9", D, 4000, T1),  # one instant: the later id holds
                _row("cap_e1", E, 4000, T1, "EUR"),
            ],
        )


def test_the_caps_in_force_at_an_instant(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as conn:
        early = caps_in_force(conn, at=T1 + timedelta(days=1))
        middle = caps_in_force(conn, at=T2)
        late = caps_in_force(conn, at=T3 + timedelta(seconds=1))
        some = caps_in_force(conn, at=T3, msisdns=[A, B, "8613999999999"])
        before = caps_in_force(conn, at=T1 - timedelta(seconds=1))
    assert early == {
        A: SubscriberCap(Money.of("100.00", "CNY"), T1),
        B: SubscriberCap(Money.of("50.00", "CNY"), T1),
        D: SubscriberCap(Money.of("40.00", "CNY"), T1),
        E: SubscriberCap(Money.of("40.00", "EUR"), T1),
    }
    assert middle[A] == SubscriberCap(Money.of("200.00", "CNY"), T2) and B not in middle  # set at the instant: in force
    assert set(late) == {A, C, D, E} and late[C].cap.amount == Decimal("80.00") and late[C].set_at == T3
    assert late[A].set_at.utcoffset() == timedelta(0)  # aware, in UTC
    assert set(some) == {A}
    assert before == {}


def test_a_cap_read_from_the_store_raises_alerts_on_the_charges_since_it_was_set(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as conn:
        caps = caps_in_force(conn, at=datetime(2026, 4, 1, tzinfo=CN))
    rows = [
        ("a0", A, datetime(2026, 3, 5, tzinfo=CN), 15000),  # under the first cap, before the second: not counted
        ("a1", A, datetime(2026, 3, 11, tzinfo=CN), 16000),  # 160 of 200: 80 %
        ("a2", A, datetime(2026, 3, 12, tzinfo=CN), 5000),  # 210: 10 past the cap
        ("b1", B, datetime(2026, 3, 12, tzinfo=CN), 90000),  # B removed the cap
    ]
    rated = pl.DataFrame(
        [
            {
                "record_id": r,
                "msisdn": m,
                "started_at": at.astimezone(UTC),
                "amount_minor": minor,
                "currency": "CNY",
                "kind": "data",
                "roaming_country": "JP",
            }
            for r, m, at, minor in rows
        ],
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )
    usage = pl.from_arrow(CLEAN_USAGE_SCHEMA.empty_table())
    assert isinstance(usage, pl.DataFrame)
    found = assure(
        usage=usage, offers={}, rated=rated, subscriber_caps=caps, now=datetime(2026, 4, 1, tzinfo=UTC)
    ).findings
    assert {f.msisdn for f in found} == {A}
    shocks = sorted(
        (f.evidence["threshold_pct"], f.record_ids, f.amount) for f in found if f.kind is FindingKind.BILL_SHOCK
    )
    assert shocks == [(80, ("a1",), Decimal("160.00")), (100, ("a2",), Decimal("210.00"))]
    (past,) = [f for f in found if f.kind is FindingKind.USAGE_PAST_CAP]
    assert past.amount == Decimal("10.00") and past.evidence["policy"] == OWN_ROAMING_CAP
    assert past.evidence["counted_since"] == T2.astimezone(UTC).isoformat()
