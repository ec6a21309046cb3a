"""The bill run computes every chunk before it takes the database's write lock: between two chunks another writer
(a care credit through the API, a consent import) still writes. The bills of all chunks are then inserted in one
transaction, as before. Before: the transaction began with the first chunk's bills and stayed open while the later
chunks were computed, so other writers waited (and, past ``lock_wait_s``, failed ``database_busy``) for the whole
run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import P, open_app

import fairtel.billing
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import _billing
from fairtel.store import connect, issued_bills

home = base.home  # the fixture: a home with three subscribers and their rated March usage


def test_another_writer_writes_between_chunks(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_BILL_CHUNK", "1")
    real = fairtel.billing.run_bills_chunked
    wrote: list[bool] = []
    other = connect(f"sqlite:///{home / 'fairtel.db'}", lock_wait_s=0.2)

    def write_between(run: Any) -> Any:
        def chunks() -> Any:
            for chunk in real_chunks():
                yield chunk
                try:  # the next chunk is being computed: a writer of the home's database must get through
                    with other.begin() as conn:
                        conn.execute(text("CREATE TABLE IF NOT EXISTS _probe (n INTEGER)"))
                        conn.execute(text("INSERT INTO _probe VALUES (1)"))
                    wrote.append(True)
                except Exception:
                    wrote.append(False)

        real_chunks = run.chunks
        run.chunks = chunks
        return run

    monkeypatch.setattr(fairtel.billing, "run_bills_chunked", lambda *a, **k: write_between(real(*a, **k)))
    app = open_app(home)
    try:
        out = _billing.bill_period(app, P, catalog=load_catalog(default_catalog_path()), issue=True)
        assert out["bills"] == 3
        with app.db.connect() as conn:
            assert len(issued_bills(conn, P)) == 3
    finally:
        app.close()
        other.dispose()
    assert len(wrote) >= 2 and all(wrote), wrote
