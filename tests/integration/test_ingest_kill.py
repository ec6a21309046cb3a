"""kill -9 at random moments, then a rerun: exactly the accepted records of an uninterrupted run, no loss,
no duplicate, no temporary file left. (bench/killtest_ingest.py does the same, many times, at scale.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

HEADER = "record_id,source,msisdn,kind,direction,started_at,duration_s,bytes_up,bytes_down,peer,session_id,seq,final\n"


def make_inputs(d: Path, *, files: int, rows: int, seed: int) -> list[Path]:
    """Canonical CSV files with duplicates within and across files, bad lines and sessions split across files."""
    rng = random.Random(seed)
    d.mkdir(parents=True)
    out = []
    for f in range(files):
        lines = [HEADER]
        for i in range(rows):
            rid = f"r{rng.randrange(files * rows * 9 // 10)}"  # about 10 % duplicates
            day = 1 + i * 27 // rows
            roll = rng.random()
            if roll < 0.02:
                lines.append(f"{rid},sw1,8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,-1,,,1,,,\n")
            elif roll < 0.07:
                sid = f"s{rng.randrange(rows // 20)}"
                seq = rng.randrange(1, 4)
                lines.append(f"p{f}-{i},pgw,8613800138001,data,,2026-11-{day:02d}T09:00:00+08:00,,10,100,,{sid},{seq},"
                             f"{'true' if seq == 3 else 'false'}\n")
            else:
                lines.append(f"{rid},sw1,8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,{i % 600},,,"
                             f"8613900139000,,,\n")
        p = d / f"feed-{f}.csv"
        p.write_text("".join(lines))
        out.append(p)
    return out


DRIVER = """
import sys
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
ingest_files(sys.argv[2:], settings=Settings(home=sys.argv[1], batch_size=1000))
"""


def ingest_cmd(home: Path, files: list[Path]) -> list[str]:
    """The mediation entry point without the whole CLI (whose import alone takes seconds)."""
    return [sys.executable, "-c", DRIVER, str(home), *map(str, files)]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FAIRTEL_")}


def snapshot(home: Path) -> dict[str, Any]:
    files = [str(f) for f in (home / "lake" / "usage").glob("period=*/*.parquet")]
    rows = duckdb.sql(f"SELECT * FROM read_parquet({files}) ORDER BY source, record_id").fetchall() if files else []
    rejects = sorted(line for f in (home / "rejects").glob("*.jsonl") for line in f.read_text().splitlines())
    import sqlite3

    with sqlite3.connect(home / "mediation" / "state.sqlite") as c:
        registry = sorted(c.execute("SELECT content_hash, read, accepted, rejected, duplicate, held, emitted FROM files"))
        held = sorted(c.execute("SELECT source, record_id FROM partials"))
        inflight = c.execute("SELECT COUNT(*) FROM inflight").fetchone()[0]
    temps = [str(p) for p in home.rglob("*.tmp")]
    return {"rows": rows, "rejects": rejects, "registry": registry, "held": held, "inflight": inflight,
            "temps": temps}


@pytest.mark.slow
def test_kill_dash_nine_then_rerun_gives_the_same_records(tmp_path: Path) -> None:
    files = make_inputs(tmp_path / "in", files=3, rows=8_000, seed=7)
    ref_home = tmp_path / "ref"
    t0 = time.perf_counter()
    subprocess.run(ingest_cmd(ref_home, files), env=env(), check=True, capture_output=True, timeout=300)
    full = time.perf_counter() - t0
    reference = snapshot(ref_home)
    assert len(reference["rows"]) > 10_000 and reference["rejects"] and reference["held"]

    home = tmp_path / "killed"
    rng = random.Random(11)
    killed_mid_run, attempts = 0, 0
    while killed_mid_run < 3 and attempts < 10:  # the machine's speed varies: keep going until kills land
        attempts += 1
        proc = subprocess.Popen(ingest_cmd(home, files), env=env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.1, 0.8) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        proc.wait(timeout=120)
    subprocess.run(ingest_cmd(home, files), env=env(), check=True, capture_output=True, timeout=300)
    after = snapshot(home)
    assert after["inflight"] == 0 and after["temps"] == [], (after["inflight"], after["temps"])
    assert len(after["rows"]) == len(reference["rows"]), "lost or duplicated records"
    assert after["rows"] == reference["rows"]
    assert after["rejects"] == reference["rejects"]
    assert after["registry"] == reference["registry"]
    assert after["held"] == reference["held"]
    assert killed_mid_run >= 1, f"no kill landed mid-run in {attempts} attempts"
