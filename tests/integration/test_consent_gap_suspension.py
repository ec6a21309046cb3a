"""A line suspended in the register (a confirmed fraud case, or a register file saying so) is suspended from a
known instant: value-added charges made while it is are refused by the home's consent gate, those before are
billed. Before, the register kept no instant and the gate could not check a suspension at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_gate, home_subscribers
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    AuditAs,
    get_subscriber,
    import_consent_events,
    import_subscribers,
    store_catalog,
    suspend_line,
)

A, B = "8613800000001", "8613800000002"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _charges(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": [r[0] for r in rows], "source": ["spgw"] * len(rows), "msisdn": [r[1] for r in rows],
         "offer_id": ["vas-music-10"] * len(rows), "started_at": [r[2] for r in rows],
         "amount_minor": [1000] * len(rows), "currency": ["CNY"] * len(rows)},
        schema_overrides={"started_at": pl.Datetime("us", "UTC")},
    )


def test_charges_while_a_line_is_suspended_are_refused_from_its_suspension(tmp_path: Path) -> None:
    app = bootstrap(load_settings(home=tmp_path / "home"))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n"
                    f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    events = tmp_path / "consent.jsonl"
    events.write_text("".join(
        f'{{"event":"{e}","subscription_id":"s-{m}","msisdn":"{m}","offer_id":"vas-music-10",'
        f'"at":"{(T0 - timedelta(days=40) + timedelta(minutes=i)).isoformat()}","channel":"sms"}}\n'
        for m in (A, B) for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 2
        assert import_consent_events(conn, events).accepted == 4
    suspended_at = T0 + timedelta(days=10)
    with app.db.begin() as conn:
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        assert suspend_line(conn, A, at=suspended_at, audit=who, reason="simbox case 1 confirmed") == "suspended"
        record = get_subscriber(conn, A)
        assert record is not None and record.suspended_at == suspended_at
    register = home_subscribers(app, ("msisdn", "status", "suspended_at"))
    assert register.filter(pl.col("msisdn") == A)["suspended_at"].to_list() == [suspended_at]

    catalog = load_catalog(default_catalog_path())
    gated = home_gate(app, catalog)(_charges(("march", A, T0 + timedelta(days=1)), ("april", A, datetime(2026, 4, 3, tzinfo=UTC)),
                                             ("b-april", B, datetime(2026, 4, 3, tzinfo=UTC))))
    verdicts = dict(zip(gated["record_id"], gated["verdict"], strict=True))
    assert verdicts == {"march": "consented", "april": "line_suspended", "b-april": "consented"}

    # a register file saying B is suspended: suspended since the register learnt it; active again clears it
    again = tmp_path / "subscribers2.csv"
    again.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                     f"{B},c2,basic-39,2025-01-01T00:00:00+08:00,suspended,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        import_subscribers(conn, again)
        since = get_subscriber(conn, B).suspended_at  # type: ignore[union-attr]
    assert since is not None and since > T0
    assert home_gate(app, catalog)(_charges(("b-later", B, since + timedelta(minutes=1))))["verdict"].to_list() == ["line_suspended"]
    again.write_text(again.read_text(encoding="utf-8").replace(",suspended,", ",active,"), encoding="utf-8")
    with app.db.begin() as conn:
        import_subscribers(conn, again)
        assert get_subscriber(conn, B).suspended_at is None  # type: ignore[union-attr]
    app.close()


def test_a_closed_line_without_closed_at_is_closed_from_when_the_register_said_so(tmp_path: Path) -> None:
    """Charges made while the line was in service stay billable (refusing them all would flag, and refund, months
    the subscriber rightly paid); those after the register recorded the closure are refused."""
    app = bootstrap(load_settings(home=tmp_path / "home"))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    events = tmp_path / "consent.jsonl"
    events.write_text("".join(
        f'{{"event":"{e}","subscription_id":"s-{A}","msisdn":"{A}","offer_id":"vas-music-10",'
        f'"at":"{(T0 - timedelta(days=40) + timedelta(minutes=i)).isoformat()}","channel":"sms"}}\n'
        for i, e in enumerate(("ordered", "confirmed"))), encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, subs)
        import_consent_events(conn, events)
    subs.write_text(subs.read_text(encoding="utf-8").replace(",active,", ",closed,"), encoding="utf-8")
    with app.db.begin() as conn:
        import_subscribers(conn, subs)
        closed = get_subscriber(conn, A)
    assert closed is not None and closed.closed_at is None
    catalog = load_catalog(default_catalog_path())
    gated = home_gate(app, catalog)(_charges(("earlier", A, T0), ("later", A, datetime.now(UTC) + timedelta(days=1))))
    assert dict(zip(gated["record_id"], gated["verdict"], strict=True)) == {"earlier": "consented", "later": "line_closed"}
    app.close()
