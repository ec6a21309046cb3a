"""Bills name the catalog version that priced them: with `--catalog FILE`, the file's text (kept as a version,
never made current), not the home's current catalog."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, A, P, as_json, open_app

from fairtel.store import Bill, CatalogVersion, catalog_text, current_catalog, store_catalog
from fairtel.store._schema import table_of

home = base.home  # the fixture: a home with three subscribers and their rated March usage, the demo catalog current


def _versions(home: Path) -> dict[str, int | None]:
    app = open_app(home)
    t = table_of(Bill)
    with app.db.connect() as conn:
        out = {r.msisdn: r.catalog_version_id for r in conn.execute(select(t.c.msisdn, t.c.catalog_version_id))}
    app.close()
    return out


def test_bills_priced_by_a_catalog_file_name_that_file_not_the_current_catalog(home: Path, tmp_path: Path) -> None:
    app = open_app(home)
    with app.db.connect() as conn:
        before = current_catalog(conn)
    app.close()
    assert before is not None
    corrected = TEXT.replace('monthly_fee = "39.00"', 'monthly_fee = "41.00"', 1)
    assert corrected != TEXT
    file = tmp_path / "corrected.toml"
    file.write_text(corrected, encoding="utf-8")

    issued = as_json(home, "bill", "--period", P, "--issue", "--catalog", str(file))
    assert issued["bills"] == 3
    versions = _versions(home)
    app = open_app(home)
    with app.db.connect() as conn:
        used = versions[A]
        assert used is not None and used != before.version_id and set(versions.values()) == {used}
        assert catalog_text(conn, used) == corrected
        after = current_catalog(conn)
        assert after is not None and after.version_id == before.version_id  # the home's catalog is still current
        count = conn.scalar(select(func.count()).select_from(table_of(CatalogVersion)))
    app.close()

    # the same file again (April) names the same version, no new row; the home's own catalog its own version
    as_json(home, "bill", "--period", "2026-04", "--issue", "--catalog", str(file))
    app = open_app(home)
    with app.db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table_of(CatalogVersion))) == count
        april = {r.catalog_version_id for r in conn.execute(select(table_of(Bill).c.catalog_version_id)
                                                            .where(table_of(Bill).c.period == "2026-04"))}
        assert april == {used}
    app.close()
    as_json(home, "bill", "--period", "2026-05", "--issue")
    app = open_app(home)
    with app.db.connect() as conn:
        may = {r.catalog_version_id for r in conn.execute(select(table_of(Bill).c.catalog_version_id)
                                                          .where(table_of(Bill).c.period == "2026-05"))}
        assert may == {before.version_id}
    # loading the file's text later makes that version current, as any load does
    with app.db.begin() as tx:
        assert store_catalog(tx, corrected).version_id == used
    with app.db.connect() as conn:
        now = current_catalog(conn)
        assert now is not None and now.version_id == used
    app.close()


def test_a_bad_catalog_file_is_refused_naming_the_file(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[plans]]\nid = \n", encoding="utf-8")
    for path in (bad, tmp_path / "missing.toml"):
        result = base.runner.invoke(base.cli(), ["bill", "--period", P, "--issue", "--catalog", str(path), "--home", str(home), "--json"])
        assert result.exit_code != 0 and str(path) in result.output
    assert _versions(home) == {}  # nothing issued


def test_bills_of_a_home_with_no_catalog_name_the_demo_catalog_that_priced_them(tmp_path: Path) -> None:
    import pyarrow as pa
    from test_billing_cli import rec

    from fairtel.bootstrap import bootstrap
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.cli._rating import rate_period
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.core.settings import load_settings
    from fairtel.core.time import Period
    from fairtel.store import import_subscribers

    home = tmp_path / "bare"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{A},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        assert import_subscribers(conn, subs).accepted == 1
    app.lake.write("usage", P, pa.Table.from_pylist([rec("v1", A, duration_s=61)], schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    app.close()
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 1
    version = _versions(home)[A]
    assert version is not None  # it was None: the bills named no catalog
    app = open_app(home)
    with app.db.connect() as conn:
        assert catalog_text(conn, version) == default_catalog_path().read_text(encoding="utf-8")
        assert current_catalog(conn) is None  # named, not made the home's catalog
    app.close()
