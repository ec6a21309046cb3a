"""A marketing opt-out is the say of the line's current customer: after an owner change (the line moved to another
customer with its activation kept, ``holder_since``) the previous customer's say no longer counts, and the new
customer's own does. Before: the previous customer's opt-out kept the new customer off the retention list and off
plan advice (``opted_out_lines`` bounded a holding by the activation only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from fairtel.api._marketing import opted_out_lines
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.core.settings import load_settings
from fairtel.store import import_subscribers, store_catalog
from fairtel.store._schema import MarketingPreference, table_of

CN = timezone(timedelta(hours=8))
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
M = "8613800000001"


def _say(conn: object, pref_id: str, opted_out: bool, at: datetime) -> None:
    conn.execute(table_of(MarketingPreference).insert().values(  # type: ignore[attr-defined]
        pref_id=pref_id, msisdn=M, opted_out=opted_out, changed_at=at.astimezone(UTC), channel="phone",
        source="agent", changed_by="u1"))


def test_the_previous_customers_opt_out_does_not_bind_the_new_one(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    try:
        (tmp_path / "a.csv").write_text(HEADER + f"{M},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n")
        (tmp_path / "b.csv").write_text(HEADER + f"{M},c9,payg,2025-01-01T00:00:00+08:00,active,zh,sh,"
                                                 "2026-03-10T00:00:00+08:00\n")
        with app.db.begin() as conn:
            store_catalog(conn, default_catalog_path().read_text())
            import_subscribers(conn, tmp_path / "a.csv", now=datetime(2026, 1, 1, tzinfo=CN))
            _say(conn, "mkt-1", True, datetime(2026, 2, 1, tzinfo=CN))  # the first customer refuses marketing
        with app.db.connect() as conn:
            assert opted_out_lines(conn) == {M}
        with app.db.begin() as conn:
            import_subscribers(conn, tmp_path / "b.csv", now=datetime(2026, 3, 12, tzinfo=CN))
        with app.db.connect() as conn:
            assert opted_out_lines(conn) == set()  # the new customer has said nothing yet
            assert opted_out_lines(conn, [M]) == set()
        with app.db.begin() as conn:
            _say(conn, "mkt-2", True, datetime(2026, 3, 15, tzinfo=CN))  # the new customer's own refusal
        with app.db.connect() as conn:
            assert opted_out_lines(conn) == {M}
    finally:
        app.close()
