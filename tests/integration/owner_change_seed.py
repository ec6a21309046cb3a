"""A register that moves a line to another customer with its ``activated_at`` kept (an owner change, 过户), for the
tests of what fraud and insight bound by the new customer's holding (``subscribers.holder_since``).

Both lines are active since 2025 for customers c1 and c2; on 10 March 2026 (``CHANGE``) the register moves ``MOVED``
to customer c9, its activation kept; ``KEPT`` stays with c2."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT

from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.store import SubscriberRecord, import_subscribers, list_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
MOVED, KEPT = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
CHANGE = datetime(2026, 3, 10, tzinfo=CN)


def owner_changed(tmp: Path, *, first_import: datetime, second_import: datetime) -> list[SubscriberRecord]:
    """The register of a home made in ``tmp``, read back after two imports: the lines as they were (at
    ``first_import``), then the file that moves ``MOVED`` to c9 from ``CHANGE`` (at ``second_import``)."""
    app = bootstrap(load_settings(home=tmp / "home"))
    before, after = tmp / "before.csv", tmp / "after.csv"
    before.write_text(HEADER + f"{MOVED},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
                               f"{KEPT},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    after.write_text(HEADER + f"{MOVED},c9,payg,2025-01-01T00:00:00+08:00,active,zh,sh,{CHANGE.isoformat()}\n"
                              f"{KEPT},c2,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, before, now=first_import).accepted == 2
        assert import_subscribers(conn, after, now=second_import).accepted == 2
    with app.db.connect() as conn:
        rows = list_subscribers(conn)
    app.close()
    return rows


def utc(at: datetime | None) -> datetime | None:
    """A time the register reads back, in UTC (a naive one is UTC already)."""
    return None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
