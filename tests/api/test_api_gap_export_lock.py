"""A data export holds no write lock while it reads (SQLite).

The export's audit row is committed first, in a short transaction of its own; its reads (up to 50 000 usage records,
the whole access log) are made in a transaction that writes nothing. Another subscriber's change made meanwhile
does not wait for the export, and the export still lists its own read.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import _export
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
WAIT_S = 5.0  # a writer held up by the export waits SQLite's busy timeout (30 s): far longer


def test_a_change_made_while_an_export_reads_does_not_wait_for_it(
    seeded: Seeded, client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, go_on = threading.Event(), threading.Event()
    usage = _export._usage

    def slow_usage(*args: Any, **kwargs: Any) -> dict[str, Any]:
        out = usage(*args, **kwargs)
        reading.set()
        go_on.wait(60)  # a line with many records: the export is still reading
        return out

    monkeypatch.setattr(_export, "_usage", slow_usage)
    with ThreadPoolExecutor(2) as pool:
        export = pool.submit(client.get, "/api/v1/me/data-export", headers=auth(tokens["alice"]))
        try:
            assert reading.wait(30), "the export did not reach its usage records"
            # its own read is on record already, committed before the export reads
            a = table_of(AccessAudit)
            with seeded.engine.connect() as conn:
                actions = conn.scalars(select(a.c.action).where(
                    a.c.subject_msisdn_pseudonym == Pseudonymizer(KEY, domain="msisdn")(ALICE))).all()
            assert _export.EXPORT_ACTION in actions
            change = pool.submit(client.put, "/api/v1/me/roaming-cap", json={"amount": "55.00"}, headers=auth(tokens["bob"]))
            assert _finished(change, WAIT_S), "bob's change waited for alice's export"
            assert change.result().status_code == 200, change.result().text
            assert not export.done()  # the export was reading all along
        finally:
            go_on.set()
        r = export.result(60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert any(row["action"] == _export.EXPORT_ACTION for row in body["access_log"])


def _finished(future: Any, timeout: float) -> bool:
    try:
        future.result(timeout)
    except TimeoutError:
        return False
    return True
