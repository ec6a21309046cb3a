"""The commands hand insight and fraud the owner change (``holder_since``) with the register: `fairtel churn warn`,
`fairtel advise` and `fairtel fraud detect`/`features` read the subscribers through these functions, and insight and
fraud start a line's history at the later of activation and owner change only when the column is there. Before:
the register the commands read had no ``holder_since``, so the new customer was scored on the previous one's
history whatever insight and fraud could do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from fairtel.bootstrap import bootstrap
from fairtel.cli._fraud_detect import _subscribers as fraud_subscribers
from fairtel.cli._insight import _home_subscribers
from fairtel.core.settings import load_settings
from fairtel.fraud import holding_starts
from fairtel.store import import_subscribers

CN = timezone(timedelta(hours=8))
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,customer_since\n"
M, N = "8613800000001", "8613800000002"
CHANGE = datetime(2026, 3, 10, tzinfo=CN)


def test_the_register_the_commands_read_carries_the_owner_change(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    try:
        (tmp_path / "a.csv").write_text(HEADER + f"{M},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n"
                                                 f"{N},c2,payg,2025-02-01T00:00:00+08:00,active,zh,sh,\n")
        (tmp_path / "b.csv").write_text(HEADER + f"{M},c9,payg,2025-01-01T00:00:00+08:00,active,zh,sh,"
                                                 "2026-03-10T00:00:00+08:00\n"
                                                 f"{N},c2,payg,2025-02-01T00:00:00+08:00,active,zh,sh,\n")
        with app.db.begin() as conn:
            import_subscribers(conn, tmp_path / "a.csv", now=datetime(2026, 1, 1, tzinfo=CN))
            import_subscribers(conn, tmp_path / "b.csv", now=datetime(2026, 3, 12, tzinfo=CN))
        for frame in (_home_subscribers(app), fraud_subscribers(app)):
            assert frame.schema["holder_since"] == pl.Datetime("us", "UTC")
            since = dict(zip(frame["msisdn"].to_list(), frame["holder_since"].to_list(), strict=True))
            assert since[M] == CHANGE.astimezone(UTC) and since[N] is None
        starts = holding_starts(fraud_subscribers(app))  # what `fraud features` labels by
        assert starts[M] == CHANGE.astimezone(UTC)
        assert starts[N] == datetime(2025, 1, 31, 16, tzinfo=UTC)
    finally:
        app.close()
