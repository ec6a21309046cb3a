"""The bill run reads a period's rated lines under rating's lock of the period: a `fairtel rate` or an online commit
swapping the period's lines in meanwhile would remove the files it listed before it read them (the run failed)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import P, open_app

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._billing import bill_period
from fairtel.core.commits import period_lock

home = base.home  # the fixture: a home with three subscribers and their rated March usage


def test_the_bill_run_waits_for_rating_to_finish_swapping_the_period(home: Path) -> None:
    app = open_app(home)
    catalog = load_catalog(default_catalog_path())
    done: list[dict[str, object]] = []
    with period_lock(app.lake.root, P):  # a rating run swapping March in
        worker = threading.Thread(target=lambda: done.append(bill_period(app, P, catalog=catalog, issue=False)))
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not done  # waiting for the lock, not reading half a swap
    worker.join(timeout=60)
    assert not worker.is_alive() and done and done[0]["bills"] == 3
    app.close()
