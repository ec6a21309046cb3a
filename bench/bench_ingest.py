"""Mediation throughput: canonical Parquet and CSV through ``ingest_files`` (read, validate, dedup, lake
write, durable commit), beside a plain DuckDB read of the same files in the same run.

    python bench/bench_ingest.py                      # 50 M records (FAIRTEL_BENCH_RECORDS overrides)
    python bench/bench_ingest.py --records 10000000 --dir /tmp/fairtel-bench --keep

Each measurement runs in its own process, so its peak RSS (from wait4) is its own. Goals (issue #3): Parquet
>= 5 M records/s, CSV >= 1 M records/s on 2 cores, peak memory < 2 GiB. Beside the plain read (count and sum
of one column), a second reference copies the file with DuckDB: every column read and written again as zstd
Parquet, no checks and no dedup, which is the least any ingest that keeps a lake must do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

CHUNK = 1_000_000


def chunk(start: int, n: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """n canonical records (voice 50 %, sms 20 %, data 25 %, vas 5 %); (Parquet table, CSV table)."""
    ids = pc.utf8_lpad(pa.array(np.arange(start, start + n)).cast(pa.string()), 12, "0")
    record_id = pc.binary_join_element_wise(pa.scalar("r"), ids, pa.scalar(""))
    kind_idx = rng.choice(4, size=n, p=[0.5, 0.2, 0.25, 0.05])
    kinds = pa.array(np.array(["voice", "sms", "data", "vas"])[kind_idx])
    talk = kind_idx <= 1
    secs = 1_793_462_400 + rng.integers(0, 30 * 86400, n)  # November 2026
    started = pa.array(secs * 1_000_000, pa.timestamp("us", tz="UTC"))
    msisdn = pa.array((8613800000000 + rng.integers(0, 1_000_000, n)).astype(str))
    peer = pa.array((8613900000000 + rng.integers(0, 1_000_000, n)).astype(str), mask=~talk)
    duration = pa.array(np.where(kind_idx == 0, rng.integers(0, 3600, n), 0), mask=kind_idx != 0)
    up = pa.array(rng.integers(0, 10**7, n), mask=kind_idx != 2)
    down = pa.array(rng.integers(0, 10**8, n), mask=kind_idx != 2)
    direction = pa.array(np.full(n, "out"), mask=~talk)
    vas = kind_idx == 3
    offer = pa.array(np.full(n, "vas-music-10"), mask=~vas)
    amount = pa.array(np.full(n, "10.00"), mask=~vas)
    currency = pa.array(np.full(n, "CNY"), mask=~vas)
    cols = {"record_id": record_id, "source": pa.array(["sw1"] * n), "msisdn": msisdn, "kind": kinds,
            "direction": direction, "started_at": started, "duration_s": duration, "bytes_up": up,
            "bytes_down": down, "peer": peer, "offer_id": offer, "amount": amount, "currency": currency}
    parquet = pa.table(cols)
    local = started.cast(pa.timestamp("us", tz="Asia/Shanghai"))
    text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S+08:00")
    csv = parquet.set_column(parquet.column_names.index("started_at"), "started_at", text)
    return parquet, csv


def generate(d: Path, records: int, formats: set[str]) -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    pq_path, csv_path = d / f"usage-{records}.parquet", d / f"usage-{records}.csv"
    want_csv = "csv" in formats
    if pq_path.exists() and (csv_path.exists() or not want_csv):
        return pq_path, csv_path
    rng = np.random.default_rng(2026)
    t0 = time.perf_counter()
    pw: pq.ParquetWriter | None = None
    cw: pcsv.CSVWriter | None = None
    for start in range(0, records, CHUNK):
        p, c = chunk(start, min(CHUNK, records - start), rng)
        if pw is None:
            pw = pq.ParquetWriter(pq_path.with_name(pq_path.name + ".tmp"), p.schema, compression="zstd")
            if want_csv:
                cw = pcsv.CSVWriter(csv_path.with_name(csv_path.name + ".tmp"), c.schema,
                                    write_options=pcsv.WriteOptions(quoting_style="none"))
        pw.write_table(p)
        if cw is not None:
            cw.write_table(c)
    assert pw is not None
    pw.close()
    os.replace(pq_path.with_name(pq_path.name + ".tmp"), pq_path)
    if cw is not None:
        cw.close()
        os.replace(csv_path.with_name(csv_path.name + ".tmp"), csv_path)
    print(f"generated {records:,} records in {time.perf_counter() - t0:.0f} s", flush=True)
    return pq_path, csv_path


INGEST = """
import sys, json
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
from pathlib import Path
r = ingest_files([sys.argv[2]], settings=Settings(home=sys.argv[1], batch_size=int(sys.argv[3])))[0]
out = {"read": r.read, "accepted": r.accepted, "status": r.status,
       "lake_MB": round(sum(Path(p).stat().st_size for p in r.parts) / 1e6, 1)}
print(json.dumps({**out, "message": r.message} if r.message else out))
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
fn = "read_parquet" if sys.argv[1].endswith(".parquet") else "read_csv"
if len(sys.argv) > 2:  # read every column and write them again as zstd Parquet: the floor of any lake copy
    con.execute(f"COPY (SELECT * FROM {fn}('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
    print(con.execute("SELECT count(*) FROM read_parquet(?)", [sys.argv[2]]).fetchone())
else:
    print(con.execute(f"SELECT count(*), sum(duration_s) FROM {fn}(?)", [sys.argv[1]]).fetchone())
"""


@dataclass(frozen=True, slots=True)
class Measured:
    label: str
    wall: float  # seconds
    user: float  # CPU seconds in user mode, all threads
    system: float  # CPU seconds in the kernel (page faults, I/O, fsync)
    rss: int  # peak resident set, bytes
    load: float  # 1-minute load average when the measurement ended
    out: str

    @property
    def cpu(self) -> float:
        return self.user + self.system


def measure(label: str, args: list[str]) -> Measured:
    """Wall and CPU time, peak RSS and stdout of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed ({proc.returncode}): {args[1:]}")
    return Measured(label, elapsed, usage.ru_utime, usage.ru_stime, usage.ru_maxrss * 1024, os.getloadavg()[0],
                    out.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=int(os.environ.get("FAIRTEL_BENCH_RECORDS", 50_000_000)))
    ap.add_argument("--dir", type=Path, default=Path(os.environ.get("FAIRTEL_BENCH_DIR", "/tmp/fairtel-bench")))
    ap.add_argument("--batch-size", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated input for the next run")
    ap.add_argument("--formats", default="parquet,csv", help="which inputs to measure (parquet, csv)")
    ap.add_argument("--no-copy", dest="copy", action="store_false",
                    help="skip the second reference: DuckDB reading every column and writing zstd Parquet")
    a = ap.parse_args()
    formats = set(a.formats.split(","))
    pq_path, csv_path = generate(a.dir, a.records, formats)
    sizes = ", ".join(f"{p.suffix[1:]} {p.stat().st_size / 1e9:.2f} GB" for p in (pq_path, csv_path) if p.exists())
    print(f"records {a.records:,}: {sizes}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    rows: list[Measured] = []
    for label, path in (("parquet", pq_path), ("csv", csv_path)):
        if label not in formats:
            continue
        home = a.dir / f"home-{label}"
        shutil.rmtree(home, ignore_errors=True)
        rows.append(measure(f"ingest_files {label}", [INGEST, str(home), str(path), str(a.batch_size)]))
        shutil.rmtree(home, ignore_errors=True)
        rows.append(measure(f"duckdb read_{label} count+sum", [DUCKDB, str(path)]))
        print(f"  {rows[-2].label}: {a.records / rows[-2].wall / 1e6:.2f} M rec/s; {rows[-1].label}: "
              f"{a.records / rows[-1].wall / 1e6:.2f} M rec/s", flush=True)
        if a.copy:
            out = a.dir / f"copy-{label}.parquet"
            rows.append(measure(f"duckdb {label} -> zstd parquet copy", [DUCKDB, str(path), str(out)]))
            out.unlink(missing_ok=True)
            print(f"  {rows[-1].label}: {a.records / rows[-1].wall / 1e6:.2f} M rec/s", flush=True)
    print(f"\n{'measurement':34} {'wall s':>7} {'M rec/s':>8} {'CPU s':>7} {'(sys)':>6} {'M rec/CPU-s':>11} "
          f"{'peak RSS':>9} {'load':>5}  result")
    for m in rows:
        print(f"{m.label:34} {m.wall:7.1f} {a.records / m.wall / 1e6:8.2f} {m.cpu:7.1f} {m.system:6.1f} "
              f"{a.records / m.cpu / 1e6:11.2f} {m.rss / 2**30:7.2f}Gi {m.load:5.1f}  {m.out[:80]}")
    print(f"load average after: {os.getloadavg()[0]:.1f} (the machine is shared; CPU seconds are the steadier figure)")
    if not a.keep:
        pq_path.unlink(missing_ok=True)
        csv_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
