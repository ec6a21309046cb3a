"""A line that changed hands (an owner change, the register's ``holder_since``): what ``fairtel fraud detect``
does for the victims of a Wangiri number, and the other SIMs a SIM-box case names, respect the line's current
holding as its features do. A ring before the change rang the previous customer: the new customer gets no warning
SMS about it (nor "it rang you while you were roaming", nor a ring charge under review), and the ring is listed
apart (``previous_holder_rings``) so that the command can count it. A line seen in a box before it changed hands
is not named as its new customer's SIM in the box."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.assurance import Finding, FindingKind
from fairtel.assurance._notify import wangiri_messages
from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.cli._wangiri import device_lines, previous_holder_rings, rung_lines, wangiri_targets
from fairtel.fraud import Detector, compute_features, detect_simbox, detect_wangiri

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 9, 7, tzinfo=SH)
CHANGE = datetime(2026, 9, 15, 9, tzinfo=SH)  # the owner change of the lines that changed hands
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
WANGIRI = "371298765432"  # Latvia 3712: the default catalog's premium zone
_ids = count()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def mobile(i: int) -> str:
    return f"86139{i:08d}"


def rec(msisdn: str, direction: str, at: datetime, *, peer: str, dur: int, imei: str | None = None,
        roaming: str | None = None) -> dict[str, Any]:
    return {
        "record_id": f"h{next(_ids):08d}",
        "source": "test",
        "msisdn": msisdn,
        "kind": "voice",
        "direction": direction,
        "started_at": at.astimezone(UTC),
        "duration_s": dur,
        "bytes_up": None,
        "bytes_down": None,
        "peer": peer,
        "roaming_country": roaming,
        "cell_id": "460-00-20161",
        "imei": imei or f"35{msisdn[-12:]}",
    }


SCHEMA = {
    "record_id": pl.String,
    "source": pl.String,
    "msisdn": pl.String,
    "kind": pl.String,
    "direction": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Int64,
    "bytes_up": pl.Int64,
    "bytes_down": pl.Int64,
    "peer": pl.String,
    "roaming_country": pl.String,
    "cell_id": pl.String,
    "imei": pl.String,
}
TARGETS = [mobile(100 + k) for k in range(12)]
GONE = TARGETS[3]  # changed hands after the ring: only its previous customer was rung
BOTH = TARGETS[4]  # changed hands after a ring received abroad; its new customer rung again, at home


def subscribers(changed: list[str], *, as_text: bool = False) -> pl.DataFrame:
    """Every line of the tests activated in January; ``changed`` moved to another customer at ``CHANGE``."""
    lines = sorted({*TARGETS, *(mobile(i) for i in range(1, 10))})
    activated = datetime(2026, 1, 5, tzinfo=UTC)
    since = [CHANGE.astimezone(UTC) if m in changed else None for m in lines]
    if as_text:  # as a register file gives them
        return pl.DataFrame({"msisdn": lines, "activated_at": [activated.isoformat()] * len(lines),
                             "holder_since": [None if s is None else s.isoformat() for s in since]},
                            schema={"msisdn": pl.String, "activated_at": pl.String, "holder_since": pl.String})
    return pl.DataFrame({"msisdn": lines, "activated_at": [activated] * len(lines), "holder_since": since},
                        schema={"msisdn": pl.String, "activated_at": pl.Datetime("us", "UTC"),
                                "holder_since": pl.Datetime("us", "UTC")})


def wangiri_usage() -> pl.DataFrame:
    """The number rings 12 subscribers once on 7 September (``BOTH`` while roaming in Japan), then ``BOTH`` again
    on 16 September, after its owner change."""
    rows = [rec(m, "in", MONDAY + timedelta(hours=2, minutes=k), peer=WANGIRI, dur=k % 3,
                roaming="JP" if m == BOTH else None) for k, m in enumerate(TARGETS)]
    rows.append(rec(BOTH, "in", CHANGE + timedelta(days=1), peer=WANGIRI, dur=1))
    return pl.DataFrame(rows, schema=SCHEMA)


# ---------------------------------------------------------------------------------------------- Wangiri
@pytest.mark.parametrize("as_text", [False, True])
def test_a_ring_before_the_owner_change_is_not_the_new_customers(as_text: bool) -> None:
    usage = wangiri_usage().lazy()
    subs = subscribers([GONE, BOTH], as_text=as_text)
    rung = rung_lines(usage, [WANGIRI], subscribers=subs)
    first = {r["msisdn"]: r["first_at"] for r in rung.iter_rows(named=True)}
    assert GONE not in first  # only its previous customer was rung
    assert first[BOTH] == (CHANGE + timedelta(days=1)).astimezone(UTC)  # the new customer's own ring
    assert set(first) == set(TARGETS) - {GONE}

    before = previous_holder_rings(usage, [WANGIRI], subscribers=subs)
    assert before["msisdn"].to_list() == [GONE, BOTH]
    assert before["peer"].to_list() == [WANGIRI, WANGIRI]
    assert before["first_at"].to_list() == [(MONDAY + timedelta(hours=2, minutes=k)).astimezone(UTC) for k in (3, 4)]
    assert before["holding_from"].to_list() == [CHANGE.astimezone(UTC)] * 2


def test_without_subscribers_every_ring_is_the_lines_as_before() -> None:
    usage = wangiri_usage().lazy()
    rung = rung_lines(usage, [WANGIRI])
    assert set(rung["msisdn"].to_list()) == set(TARGETS)
    assert previous_holder_rings(usage, [WANGIRI], subscribers=None).is_empty()
    same = rung_lines(usage, [WANGIRI], subscribers=subscribers([]))
    assert same.equals(rung)  # no line changed hands: the same subscribers warned


def test_the_new_customer_is_neither_warned_of_nor_told_about_the_previous_customers_ring(catalog: Catalog) -> None:
    usage = wangiri_usage()
    subs = subscribers([GONE, BOTH])
    f = compute_features(usage, catalog=catalog, subscribers=subs)
    cases, notices = detect_wangiri(f.callers, f.callbacks, period=PERIOD, now=NOW, tz="Asia/Shanghai")
    assert [c.detector for c in cases] == [Detector.WANGIRI]  # the campaign rang 12 subscribers all the same
    rings = usage.filter(pl.col("duration_s") <= 3).select(
        "msisdn", "peer", "source", "record_id", "started_at", "duration_s", "roaming_country")
    abroad = rings.filter(pl.col("msisdn") == BOTH).sort("started_at").row(0, named=True)
    charge = Finding(  # the previous customer's ring, charged to them abroad
        finding_id="fnd_prev", kind=FindingKind.ONE_RING_ROAMING_CHARGE, msisdn=BOTH,
        record_ids=(abroad["record_id"],), subscription_id=None, amount=Decimal("1.99"), currency="CNY",
        detected_at=NOW,
        evidence={"caller": WANGIRI, "started_at": abroad["started_at"].astimezone(SH).isoformat()},
    )
    targets = wangiri_targets(cases, rung_lines(usage.lazy(), [WANGIRI], subscribers=subs), notices,
                              findings=[charge], rings=rings, subscribers=subs)
    by = {t.msisdn: t for t in targets}
    assert GONE not in by
    new = by[BOTH]
    assert new.at == (CHANGE + timedelta(days=1)).astimezone(UTC)
    assert not new.roaming and new.ring_finding_id is None  # the roaming ring was the previous customer's
    messages = wangiri_messages(targets, now=NOW, tz="Asia/Shanghai")
    assert GONE not in {m.msisdn for m in messages}
    text = next(m.text for m in messages if m.msisdn == BOTH)
    assert "9月16日" in text and "国际高资费" in text and "漫游" not in text  # its own ring, at home

    # the same ring and finding of a line that did not change hands are its holder's, as before
    kept = wangiri_targets(cases, rung_lines(usage.lazy(), [WANGIRI]), notices, findings=[charge], rings=rings)
    assert {t.msisdn: t for t in kept}[BOTH].roaming and {t.msisdn: t for t in kept}[BOTH].ring_finding_id == "fnd_prev"


# ---------------------------------------------------------------------------------------------- SIM-box
def test_a_simbox_case_does_not_name_a_line_that_left_the_box_and_changed_hands(catalog: Catalog) -> None:
    box, imei = [mobile(1), mobile(2), mobile(3), mobile(4)], "356938037867562"
    moved = mobile(4)  # in the box until 13 September, then given to another customer on the 15th
    rows = []
    n = count(1)
    for m in box:
        for d in range(4):
            for k in range(60):
                at = MONDAY + timedelta(days=3 + d, hours=7, seconds=k * 1000)
                rows.append(rec(m, "out", at, peer=mobile(next(n) + 10_000_000), dur=70 if k % 5 else 0, imei=imei))
        rows.append(rec(m, "in", MONDAY + timedelta(days=4, hours=12), peer=mobile(5), dur=30, imei=imei))
    for d in range(3):  # its new customer, in their own phone
        rows.append(rec(moved, "out", CHANGE + timedelta(days=d, hours=3), peer=mobile(6), dur=120,
                        imei="869999000000001"))
    usage = pl.DataFrame(rows, schema=SCHEMA)
    subs = subscribers([moved])
    devices = device_lines(usage.lazy(), subscribers=subs)
    assert (imei, moved) not in set(devices.iter_rows())
    assert ("869999000000001", moved) in set(devices.iter_rows())
    f = compute_features(usage, catalog=catalog, subscribers=subs)
    cases = detect_simbox(f.lines, period=PERIOD, now=NOW, devices=devices)
    assert sorted(c.subject for c in cases) == box[:3]  # the new customer's line is no case
    for c in cases:
        assert c.related == tuple(m for m in box[:3] if m != c.subject)  # nor named as a SIM of the box
        assert c.evidence["imeis"] == [imei]

    # without the register, or before the change, every line seen in the box is named
    every = device_lines(usage.lazy())
    assert (imei, moved) in set(every.iter_rows())
    assert device_lines(usage.lazy(), subscribers=subscribers([])).sort("imei", "msisdn").equals(
        every.sort("imei", "msisdn"))


def test_a_device_the_previous_customer_used_is_not_paired_with_the_line() -> None:
    line, old, new = mobile(7), "351111000000001", "352222000000002"
    rows = [rec(line, "out", MONDAY + timedelta(days=1), peer=mobile(8), dur=60, imei=old),
            rec(mobile(9), "out", MONDAY + timedelta(days=1), peer=mobile(8), dur=60, imei=old),
            rec(line, "out", CHANGE + timedelta(hours=1), peer=mobile(8), dur=60, imei=new)]
    pairs = set(device_lines(pl.DataFrame(rows, schema=SCHEMA).lazy(), subscribers=subscribers([line])).iter_rows())
    assert pairs == {(new, line), (old, mobile(9))}
