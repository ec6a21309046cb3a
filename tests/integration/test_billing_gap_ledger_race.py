"""`record_adjustments` returns the entries it really added: it checked which ids the ledger held, then inserted the
others with ON CONFLICT DO NOTHING and returned every id it meant to add. A writer committing the same entries in
between (two `assure --refund` runs, a run and the API) made both count the refund as posted, and both send its
SMS. On SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_assure_gap_refund_tax as refund_tax

from fairtel.billing import AdjustmentEntry, AdjustmentKind
from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.store import adjustments_of, record_adjustments

database_url = refund_tax.database_url  # the home's SQLite file, or a private schema on the PostgreSQL server
A = "8613800000001"


def _refund(adj_id: str, amount: int) -> AdjustmentEntry:
    return AdjustmentEntry(adj_id, AdjustmentKind.REFUND, A, amount, "CNY", "charge after the subscription ended",
                           datetime(2026, 4, 2, tzinfo=UTC), "assure", old_amount_minor=amount, new_amount_minor=0)


def test_a_writer_committing_the_same_entries_meanwhile_is_not_counted_twice(tmp_path: Path, database_url: str) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home", database_url=database_url))
    try:
        first, second = _refund("adj-1", 500), _refund("adj-2", 300)
        other: list[list[str]] = []
        errors: list[BaseException] = []
        with app.db.begin() as conn:  # this run adds adj-1, not committed yet
            assert record_adjustments(conn, [first]) == ["adj-1"]

            def concurrent() -> None:  # another run posting adj-1 and adj-2: it waits for this one's commit
                try:
                    with app.db.begin() as theirs:
                        other.append(record_adjustments(theirs, [first, second]))
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            worker = threading.Thread(target=concurrent)
            worker.start()
            worker.join(timeout=1.0)  # blocked on adj-1's key until this transaction ends
        worker.join(timeout=30)
        assert not worker.is_alive() and errors == [], errors
        assert other == [["adj-2"]]  # adj-1 was the first run's: counted (and its SMS sent) once
        with app.db.connect() as conn:
            assert sorted((e.adjustment_id, e.amount_minor) for e in adjustments_of(conn, A)) == [("adj-1", 500), ("adj-2", 300)]
            assert record_adjustments(conn, [first, second]) == []  # a rerun adds nothing
    finally:
        app.close()
