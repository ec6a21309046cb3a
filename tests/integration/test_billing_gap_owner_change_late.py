"""After the bill run of the month a line changed owner (过户: ``holder_since`` inside the period), what the previous
customer used before the change stays theirs: rated after the bill run, a call or a consented VAS charge of theirs is
reported as held (``before_holding``), not as unbilled late usage, and `fairtel rerate` charges neither onto the
number's next bill (the current customer's); the VAS charges of theirs the consent gate refused are not on the current
customer's statement; `fairtel bill --json` reports the previous customer's part (``earlier_holder``).

Line A (basic-39) is customer c1's since 2025, and from 10 March 2026 (local midnight) customer c9's. c1 ordered and
confirmed a music pack in February. B, unchanged, is the control.

Before: the rerun reported c1's late call as unbilled late usage and their music charge as an unbilled late VAS charge,
and the rerate charged both to c9 (``late-usage``, ``late-vas``); c9's statement listed c1's refused news charge; and
the bill run's JSON did not say what c1's part of March was."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import CN, TEXT, A, B, as_json, invoke, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import adjustments_of, import_consent_events, import_subscribers, store_catalog

P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
HK = "85261234567"


def _call(rid: str, msisdn: str, day: int) -> dict[str, Any]:
    return rec(rid, msisdn, duration_s=61, peer=HK, started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


def _vas(rid: str, offer: str, minor: int, day: int) -> dict[str, Any]:
    return rec(rid, A, source="spgw", kind="vas", direction=None, peer=None, offer_id=offer, amount_minor=minor,
               currency="CNY", started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


def _usage(home: Path, part: str, rows: list[dict[str, Any]]) -> None:
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part=part)
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """March rated: A's bill is to be c9's from the change (c9's call of the 20th), c1's call of the 5th and music
    charge of the 3rd (consented) held; c1's news charge of the 4th and c9's of the 21st were refused by the consent
    gate (never ordered). c1 also ordered ringtones (per use) in February."""
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
                              f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    second.write_text(HEADER + f"{A},c9,basic-39,2025-01-01T00:00:00+08:00,active,en,sh,2026-03-10T00:00:00+08:00\n"
                               f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    events = tmp_path / "consent.jsonl"
    events.write_text("".join(json.dumps({"event": e, "subscription_id": sub, "msisdn": A, "offer_id": offer,
                                          "at": f"2026-02-25T10:0{minute}:00+08:00", "channel": "sms",
                                          "evidence": f"{sub}:{e}"}) + "\n"
                              for sub, offer in (("s1", "vas-music-10"), ("s2", "vas-ringtone-2"))
                              for e, minute in (("ordered", 0), ("confirmed", 5))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, first, now=datetime(2026, 1, 5, tzinfo=CN)).accepted == 2
        assert import_subscribers(conn, second, now=datetime(2026, 3, 11, tzinfo=CN)).accepted == 2
        assert import_consent_events(conn, events).accepted == 4
    app.close()
    _usage(home, "t1", [_call("c1-call", A, 5), _call("c9-call", A, 20), _call("b-call", B, 12),
                        _vas("c1-music", "vas-music-10", 1000, 3), _vas("c1-news", "vas-news-5", 500, 4),
                        _vas("c9-news", "vas-news-5", 500, 21)])
    return home


def test_the_bill_run_reports_the_previous_customer_s_part_in_its_json(home: Path) -> None:
    run = as_json(home, "bill", "--period", P, "--issue")
    fee_c1 = (Decimal("39") * 9 / 31).quantize(Decimal("0.01"))  # 11.32: 1–9 March, on no bill
    assert run["held_by_reason"] == {"before_holding": 2}
    assert run["earlier_holder"] == {"lines": 1, "records": 2, "usage": "13.00", "fee_days": 9, "fee": str(fee_c1)}
    # a period with no owner change says so with an empty part
    assert as_json(home, "bill", "--period", "2026-04")["earlier_holder"] == {}


def _late(home: Path) -> None:
    as_json(home, "bill", "--period", P, "--issue")
    # rated after the bill run: c1's second call (the 6th) and a ringtone of c1's (the 7th, consented), and a call of
    # c9's (the 25th), which is late usage of c9's own
    _usage(home, "t2", [_call("c1-late", A, 6), _vas("c1-ring", "vas-ringtone-2", 200, 7), _call("c9-late", A, 25)])


def test_the_previous_customer_s_records_rated_late_are_reported_held_not_unbilled(home: Path) -> None:
    _late(home)
    again = as_json(home, "bill", "--period", P, "--issue")
    assert again["bills"] == 0
    assert again["unbilled_late_records"] == 1  # c9's call only
    assert again["unbilled_late_vas"] == 0  # c1's ringtone is not c9's
    assert again["held_late_records"] == 2
    note = next(n for n in again["notes"] if "rated after their bill run, are held" in n)
    assert "2 made before the line moved to its current customer" in note
    # and the period's held list names c1's late call with its reason
    listed = json.loads(invoke(home, "bill", "held", "--period", P, "--json").stdout)
    reasons = {r["record_id"]: r["reason"] for r in listed["held"]}
    assert reasons.get("c1-late") == "before_holding" and "c9-late" not in reasons, reasons


def test_a_rerate_charges_nothing_of_the_previous_customer_s_to_the_current_one(home: Path) -> None:
    _late(home)
    rr = as_json(home, "rerate", "--period", P)
    app = open_app(home)
    with app.db.connect() as conn:
        charged = {e.record_id: e.reason.split(":")[0] for e in adjustments_of(conn, A)}
    app.close()
    # c9's late call, charged to c9; nothing of c1's: neither the music charge the bill run held nor the late ringtone
    assert set(charged) == {"c9-late"}, charged
    assert rr["vas_charged"] == 0 and rr["vas_held"] == 2, rr
    assert any("VAS charge(s) on no bill" in n and "before the line moved" in n for n in rr["notes"]), rr["notes"]


def test_the_current_customer_s_statement_lists_only_their_own_refused_vas_charges(home: Path) -> None:
    invoke(home, "bill", "--period", P, "--issue")
    for lang in ("zh", "en"):
        out = invoke(home, "bill", "statement", A, "--period", P, "--lang", lang).stdout
        assert "2026-03-21" in out  # c9's refused news charge, at 0.00 with why
        assert "2026-03-04" not in out and "2026-03-05" not in out  # nothing of c1's
