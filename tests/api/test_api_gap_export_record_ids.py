"""The data export keeps the ids of the line's own records whole: a switch's record id made of digits
(``r00000000004201``, an Asterisk ``uniqueid`` ``1696000000.123``) is not a number of another person, and the
subscriber's copy must name a record as ``/me/usage`` does, so a complaint or a credit can name it. The other party
of a call stays masked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.store import Finding, Lake
from fairtel.store._schema import Adjustment, table_of

OWN_ID = "r00000000004201"
ASTERISK_ID = "1696000000.123"
DUPLICATE_OF = "r00000000004200"


@pytest.fixture(scope="module")
def held(seeded: Seeded) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    given: dict[str, list[Any]] = {
        "record_id": [OWN_ID, ASTERISK_ID], "source": ["switch-2026-10.csv"] * 2, "msisdn": [ALICE, ALICE],
        "kind": ["voice", "voice"], "direction": ["out", "out"],
        "started_at": [datetime(2026, 10, 3, 2, 0, tzinfo=UTC), datetime(2026, 10, 3, 3, 0, tzinfo=UTC)],
        "duration_s": [60, 90], "peer": [BOB, BOB],
    }
    usage = pa.table({f.name: pa.array(given.get(f.name, [None, None]), f.type) for f in CLEAN_USAGE_SCHEMA},
                     schema=CLEAN_USAGE_SCHEMA)
    Lake(seeded.settings.lake_dir).write("usage", "2026-10", usage, part="digits")
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert(), [
            {"adjustment_id": "adj-digits", "kind": "credit", "msisdn": ALICE, "bill_id": None, "finding_id": None,
             "amount_minor": 150, "currency": "CNY", "reason": "goodwill", "created_at": at, "created_by": "agent1",
             "record_id": OWN_ID},
        ])
        conn.execute(table_of(Finding).insert(), [
            {"finding_id": "fnd-digits", "kind": "duplicate_charge", "msisdn": ALICE, "subscription_id": None,
             "record_ids": [OWN_ID], "amount_minor": 300, "currency": "CNY", "status": "open",
             "evidence": {"duplicate_of": DUPLICATE_OF, "peer": BOB}, "detected_at": at, "resolved_at": None,
             "resolved_by": None, "resolution": None},
        ])


def test_the_export_keeps_the_lines_own_record_ids_whole(client: TestClient, tokens: dict[str, str], held: None) -> None:
    r = client.get("/api/v1/me/data-export", headers=auth(tokens["alice"]))
    assert r.status_code == 200, r.text
    d = r.json()
    peers = {x["record_id"]: x["peer"] for x in d["usage"]["records"]}
    assert peers[OWN_ID] == "86139****9000" and peers[ASTERISK_ID] == "86139****9000"  # the other party stays masked
    [credit] = [a for a in d["adjustments"] if a["adjustment_id"] == "adj-digits"]
    assert credit["record_id"] == OWN_ID
    [finding] = [f for f in d["findings"] if f["finding_id"] == "fnd-digits"]
    assert finding["record_ids"] == [OWN_ID]
    assert finding["evidence"] == {"duplicate_of": DUPLICATE_OF, "peer": "86139****9000"}
    assert BOB not in r.text
