"""Store throughput: subscriber and consent imports (SQLite and, when reachable, PostgreSQL), re-import
(idempotent), and the usage lake (write, scan, DuckDB aggregate beside a plain DuckDB query of the same files).

    python bench/bench_store.py            # 100k subscribers, 300k consent events, 5M usage rows
    FAIRTEL_BENCH_RECORDS=20000000 python bench/bench_store.py   # lake size
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import text

from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.store import Lake, connect, import_consent_events, import_subscribers, migrate

SUBSCRIBERS = int(os.environ.get("FAIRTEL_BENCH_SUBSCRIBERS", 100_000))
EVENTS = int(os.environ.get("FAIRTEL_BENCH_CONSENT", 300_000))
RECORDS = int(os.environ.get("FAIRTEL_BENCH_RECORDS", 5_000_000))
POSTGRES = os.environ.get("FAIRTEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def write_inputs(d: Path) -> tuple[Path, Path]:
    rnd = random.Random(7)
    subs = d / "subscribers.csv"
    with subs.open("w") as f:
        f.write("msisdn,customer_id,plan_id,activated_at,status,language,region\n")
        for i in range(SUBSCRIBERS):
            plan = rnd.choice(["basic-39", "unlimited-129", "payg", "senior-19"])
            f.write(f"86138{i:08d},cus-{i // 2},{plan},2025-03-01T09:00:00+08:00,active,zh,Shanghai\n")
    consent = d / "consent.jsonl"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with consent.open("w") as f:
        for i in range(EVENTS // 2):
            at = t0 + timedelta(seconds=rnd.randrange(30 * 86400))
            for event, dt in (("ordered", 0), ("confirmed", 95)):
                f.write(json.dumps({"event": event, "subscription_id": f"sub-{i}", "msisdn": f"86138{i % SUBSCRIBERS:08d}",
                                    "offer_id": "vas-music-10", "at": (at + timedelta(seconds=dt)).isoformat(),
                                    "channel": "sms", "evidence": f"sms:{i}:{event}"}) + "\n")
    return subs, consent


def timed(label: str, fn, n: int) -> None:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t
    print(f"  {label:<28} {n:>10,} in {dt:6.2f} s = {n / dt:>10,.0f}/s   {result}", flush=True)


def bench_db(name: str, url: str, subs: Path, consent: Path, schema: str | None = None) -> None:
    print(f"{name}:")
    engine = migrate(connect(url, schema=schema))
    for attempt in ("first", "again"):
        def run_subs():  # type: ignore[no-untyped-def]
            with engine.begin() as c:
                r = import_subscribers(c, subs)
            return f"inserted={r.inserted} updated={r.updated}"

        def run_consent():  # type: ignore[no-untyped-def]
            with engine.begin() as c:
                r = import_consent_events(c, consent)
            return f"accepted={r.accepted} duplicate={r.duplicate}"

        timed(f"subscribers ({attempt})", run_subs, SUBSCRIBERS)
        timed(f"consent events ({attempt})", run_consent, EVENTS)
    engine.dispose()


def usage_table(n: int, seed: int) -> pa.Table:
    g = np.random.default_rng(seed)
    start = np.datetime64("2026-01-01T00:00:00", "us").astype("int64") + g.integers(0, 30 * 86400 * 10**6, n)
    cols = {f.name: pa.nulls(n, f.type) for f in CLEAN_USAGE_SCHEMA}
    cols.update(
        record_id=pa.array(np.char.add("r", np.arange(seed * n, seed * n + n).astype(str))),
        source=pa.array(["sw1"] * n), msisdn=pa.array(np.char.add("86138", g.integers(0, SUBSCRIBERS, n).astype(str))),
        kind=pa.array(["voice"] * n), started_at=pa.array(start, pa.timestamp("us", tz="UTC")),
        duration_s=pa.array(g.integers(1, 600, n)), parts=pa.array(np.ones(n, np.int32)), incomplete=pa.array(np.zeros(n, bool)),
    )
    return pa.Table.from_pydict(cols, schema=CLEAN_USAGE_SCHEMA)


def bench_lake(d: Path) -> None:
    print(f"lake ({RECORDS:,} usage rows):")
    lake = Lake(d / "lake")
    per_part = 1_000_000
    parts = [usage_table(min(per_part, RECORDS - i), i // per_part) for i in range(0, RECORDS, per_part)]

    def write_all() -> str:
        for i, t in enumerate(parts):
            lake.write("usage", "2026-01", t, part=f"p{i}")
        return f"{len(parts)} parts"

    timed("write (atomic parts)", write_all, RECORDS)
    parts.clear()
    timed("scan (3 columns)", lambda: lake.scan("usage", columns=["msisdn", "duration_s", "period"]).num_rows, RECORDS)
    q = "SELECT msisdn, count(*) n, sum(duration_s) s FROM {src} GROUP BY msisdn ORDER BY s DESC LIMIT 3"
    timed("Lake.sql aggregate", lambda: lake.sql(q.format(src="usage")).num_rows, RECORDS)
    glob = str(d / "lake" / "usage" / "*" / "*.parquet")
    timed("plain DuckDB (reference)", lambda: duckdb.sql(q.format(src=f"read_parquet('{glob}')")).to_arrow_table().num_rows, RECORDS)


def main() -> None:
    # no options (the environment variables in the docstring set the sizes): --help prints the docstring
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subs, consent = write_inputs(d)
        bench_db("SQLite", f"sqlite:///{d / 'bench.db'}", subs, consent)
        schema = f"fairtel_bench_{uuid.uuid4().hex[:12]}"
        try:
            admin = connect(POSTGRES)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            print(f"PostgreSQL: skipped ({exc.__class__.__name__}: {exc})")
        else:
            try:
                bench_db("PostgreSQL", POSTGRES, subs, consent, schema=schema)
            finally:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        bench_lake(d)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
