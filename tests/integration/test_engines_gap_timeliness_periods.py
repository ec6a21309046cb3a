"""Rating timeliness per period counts each period's own records of each file: a file whose records span two
billing periods is counted once overall, each record in the period it falls in (not the whole file in both).
`fairtel kpi` and the dashboard read the same figure."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.api._insight import _timeliness
from fairtel.bootstrap import bootstrap
from fairtel.catalog import load_catalog
from fairtel.cli import app as fairtel_app
from fairtel.cli._home import home_gate, home_subscribers
from fairtel.core.settings import load_settings
from fairtel.engines import OnlineRater, timeliness
from fairtel.engines._online import LOG_DIR, LOG_FILE
from fairtel.mediation import ingest_files
from fairtel.store import Lake, import_subscribers, store_catalog
from fairtel.synth import synthesize

SEP, OCT = "2026-09", "2026-10"
runner = CliRunner()


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[int, int]]]:
    """Three files rated online: ``a`` (1-24 September, on time), ``b`` (25 September to 5 October, rated an
    hour after it arrived) and ``c`` (6-31 October, on time). Returns the home and, per period, (records,
    records rated in time) as counted from the files themselves."""
    root = tmp_path_factory.mktemp("timeliness")
    op = root / "op"
    synthesize(op, subscribers=30, days=61, seed=3, start=date(2026, 9, 1))
    home = root / "home"
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, (op / "catalog.toml").read_text(encoding="utf-8"))
        import_subscribers(conn, op / "subscribers.csv")
    catalog = load_catalog(op / "catalog.toml")
    tz = catalog.operator.timezone
    usage = pl.concat([pl.read_parquet(f) for f in sorted((op / "usage").glob("*.parquet"))], how="vertical_relaxed")
    usage = usage.filter(pl.col("session_id").is_null()).unique(["source", "record_id"]).sort("started_at", "record_id")
    local = pl.col("started_at").dt.convert_time_zone(tz)
    usage = usage.with_columns(pl.col("started_at").dt.convert_time_zone("UTC"))
    cuts = [datetime(2026, 9, 25, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC)]
    staged = root / "staged"
    staged.mkdir()
    bounds = [None, *cuts, None]
    for k, name in enumerate("abc"):
        lo, hi = bounds[k], bounds[k + 1]
        part = usage.filter((pl.col("started_at") >= lo) if lo is not None else pl.lit(True)).filter(
            (pl.col("started_at") < hi) if hi is not None else pl.lit(True))
        part.write_parquet(staged / f"{name}.parquet")
    reports = ingest_files([staged / f"{n}.parquet" for n in "abc"], settings=app.settings)
    rater = OnlineRater(app.settings, catalog=catalog, subscribers=home_subscribers(app), gate=home_gate(app, catalog))
    now = datetime.now(UTC)
    for r, late in zip(reports, (False, True, False), strict=True):
        assert r.content_hash is not None
        rater.rate_file(r.content_hash, r.parts, arrived_at=now - timedelta(hours=1) if late else now)
    app.close()
    lake = home / "lake"
    usage_lake = pl.read_parquet(sorted((lake / "usage").rglob("*.parquet")))
    per_file = {str(p): name for r, name in zip(reports, "abc", strict=True) for p in r.parts}
    want: dict[str, tuple[int, int]] = {}
    for period in (SEP, OCT):
        total = on_time = 0
        for path in sorted((lake / "usage" / f"period={period}").glob("*.parquet")):
            name = next(v for k, v in per_file.items() if Path(k).resolve() == path.resolve())
            n = pl.read_parquet(path).filter(local.dt.strftime("%Y-%m") == period).height
            total += n
            on_time += 0 if name == "b" else n
        want[period] = (total, on_time)
    assert sum(t for t, _ in want.values()) == usage_lake.height  # every accepted record is in one of the two
    assert all(0 < on_time < total for total, on_time in want.values())  # each period has records of the late file
    return home, want


def _records(home: Path, period: str) -> tuple[int, int]:
    pairs = timeliness(home / "lake", period)
    return (sum(n for _, _, n in pairs),
            sum(n for arrived, at, n in pairs if at - arrived <= timedelta(minutes=15)))


def test_each_period_counts_its_own_records_of_each_file(rated: tuple[Path, dict[str, tuple[int, int]]]) -> None:
    home, want = rated
    assert _records(home, SEP) == want[SEP]
    assert _records(home, OCT) == want[OCT]
    whole = sum(n for _, _, n in timeliness(home / "lake"))
    assert whole == want[SEP][0] + want[OCT][0]  # the spanning file counted once overall


def test_fairtel_kpi_and_the_dashboard_read_the_same_figure(rated: tuple[Path, dict[str, tuple[int, int]]]) -> None:
    home, want = rated
    dashboard = {p.label: p.value for p in _timeliness(Lake(home / "lake")).points}
    for period in (SEP, OCT):
        result = runner.invoke(fairtel_app, ["kpi", "--period", period, "--json", "--home", str(home)])
        assert result.exit_code == 0, result.output
        t = json.loads(result.stdout)["rating_timeliness"]
        assert (t["records"], t["within_window"]) == want[period]
        assert dashboard[period] == round(100 * want[period][1] / want[period][0], 2)


def test_a_log_from_before_the_split_is_counted_once(rated: tuple[Path, dict[str, tuple[int, int]]], tmp_path: Path) -> None:
    """A log line written before files carried their records per period: split by the file's usage parts while
    they hold the records logged; without them, the file counts in its first period (each record once overall)."""
    home, want = rated
    log = home / "lake" / LOG_DIR / LOG_FILE
    kept = log.read_bytes()
    try:
        entries = [json.loads(line) for line in kept.decode().splitlines()]
        for e in entries:
            for f in e["files"]:
                del f["by_period"]
        log.write_text("".join(json.dumps(e) + "\n" for e in entries))
        assert (_records(home, SEP), _records(home, OCT)) == (want[SEP], want[OCT])
        for e in entries:
            for f in e["files"]:
                del f["parts"]
        log.write_text("".join(json.dumps(e) + "\n" for e in entries))
        sep, oct_ = _records(home, SEP)[0], _records(home, OCT)[0]
        assert sep + oct_ == want[SEP][0] + want[OCT][0]
    finally:
        log.write_bytes(kept)
