"""kill -9 `fairtel watch --rate` at random moments, many times, then let it finish: the rated lines, the unrated
records, the allowance and cap counters, the files the rating log commits (each once, in arrival order, with its
records) and the log's totals must be identical to one uninterrupted run over the same files (nothing charged
twice, nothing lost, no file left in flight). Which files share a commit depends on timing, not on the result.

    python bench/killtest_watch.py                         # 60 files x 50 000 records, 100 000 subscribers, 20 kills
    python bench/killtest_watch.py --files 40 --kills 40 --dir /tmp/killtest-watch

Each file is ingested by mediation and rated online with the counters carried from the files before it; the
counters are written as deltas between snapshots (``engines/_online.py``). With 100 000 subscribers the state
outgrows the snapshot threshold after a few files, so kills land in every kind of write: rated parts, deltas,
snapshots, the log line, the move to done/.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_watch import generate, setup

FAIRTEL = str(Path(sys.executable).with_name("fairtel"))


def watch_once(home: Path, inbox: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([FAIRTEL, "watch", str(inbox), "--once", "--rate", "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def outcome(home: Path) -> dict[str, pl.DataFrame | list[dict[str, object]]]:
    """Everything online rating committed, in a comparable form (times and sequence-free names left out)."""
    from fairtel.bootstrap import bootstrap
    from fairtel.cli._home import home_catalog, home_subscribers
    from fairtel.core.settings import load_settings
    from fairtel.engines import OnlineRater
    from fairtel.engines._online import entry_files

    lake = home / "lake"
    out: dict[str, pl.DataFrame | list[dict[str, object]]] = {}
    for dataset in ("rated", "unrated"):
        files = sorted(lake.glob(f"{dataset}/period=*/*.parquet"))
        frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed") if files else pl.DataFrame()
        out[dataset] = frame.sort(frame.columns, nulls_last=True) if frame.height else frame
    log = [json.loads(line) for line in (lake / "rating_log" / "online.jsonl").read_text().splitlines()]
    # each file committed once, in arrival order, with its records (which files share a commit depends on
    # timing, so the commits themselves are compared by their totals)
    out["log"] = [{k: v for k, v in f.items() if k != "arrived_at"} for e in log for f in entry_files(e)]
    out["totals"] = [{k: sum(int(e[k]) for e in log) for k in ("records", "lines", "unrated", "amount_minor")}]
    app = bootstrap(load_settings(home=home))
    try:
        rater = OnlineRater(app.settings, catalog=home_catalog(app, None, []), subscribers=home_subscribers(app))
        periods = sorted({p for e in log for p in e["periods"]})
        out["state"] = pl.concat([rater.state(p).with_columns(pl.lit(p).alias("period")) for p in periods]).sort(
            "period", "msisdn", "counter")
    finally:
        app.close()
    return out


def leftovers(home: Path, inbox: Path) -> list[str]:
    """Files a finished run must not leave: hidden writes in the lake, files still in the inbox."""
    hidden = [str(p) for p in (home / "lake").rglob(".*") if p.is_file()]
    waiting = [p.name for p in inbox.iterdir() if p.is_file()]
    return hidden + waiting


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--max-delay", type=float, default=3.0, help="kill between 0.5 s and this long after each start")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/fairtel-killtest-watch"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    shutil.rmtree(a.dir, ignore_errors=True)
    t = time.perf_counter()
    setup(a.dir / "clean" / "home", a.subscribers)
    shutil.copytree(a.dir / "clean", a.dir / "killed")
    files = generate(a.dir / "staging", a.files, a.rows, a.subscribers)
    for name in ("clean", "killed"):
        (a.dir / name / "inbox").mkdir()
        for f in files:
            shutil.copy2(f, a.dir / name / "inbox" / f.name)
    print(f"set up {a.subscribers:,} subscribers and {a.files} files x {a.rows:,} records in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    clean = watch_once(a.dir / "clean" / "home", a.dir / "clean" / "inbox")
    if clean.wait() != 0:
        print("the uninterrupted run failed")
        return 1
    clean_s = time.perf_counter() - t
    print(f"uninterrupted run: {clean_s:.1f} s")

    home, inbox = a.dir / "killed" / "home", a.dir / "killed" / "inbox"
    kills = 0
    t = time.perf_counter()
    while kills < a.kills and any(p.is_file() for p in inbox.iterdir()):
        proc = watch_once(home, inbox)
        time.sleep(rng.uniform(0.5, a.max_delay))  # startup (about 1.5 s) included: some kills land before any work
        if proc.poll() is not None:
            continue  # it finished the inbox before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        done = len(list((inbox / "done").glob("*"))) if (inbox / "done").exists() else 0
        print(f"kill {kills:2d}: {done}/{a.files} files done")
    final = watch_once(home, inbox)
    if final.wait() != 0:
        print("the final run failed")
        return 1
    print(f"{kills} kills, then a final run: {time.perf_counter() - t:.1f} s")

    want, got = outcome(a.dir / "clean" / "home"), outcome(home)
    ok = True
    for key in ("rated", "unrated", "state"):
        w, g = want[key], got[key]
        assert isinstance(w, pl.DataFrame) and isinstance(g, pl.DataFrame)
        same = w.equals(g)
        ok &= same
        print(f"{key:8s} {'identical' if same else 'DIFFERENT'}: {g.height:,} rows (uninterrupted: {w.height:,})")
    same_log = bool(want["log"] == got["log"])
    ok &= same_log
    print(f"log      {'identical' if same_log else 'DIFFERENT'}: {len(got['log'])} files committed once each")
    same_totals = bool(want["totals"] == got["totals"])
    ok &= same_totals
    print(f"totals   {'identical' if same_totals else 'DIFFERENT'}: {got['totals'][0]}")
    snapshots = sorted(p.name for p in home.glob("lake/rating_state/period=*/*.full.parquet"))
    deltas = [p for p in home.glob("lake/rating_state/period=*/*.parquet") if not p.name.endswith(".full.parquet")]
    print(f"counter files kept: {len(snapshots)} snapshot(s), {len(deltas)} delta(s) after them")
    left = leftovers(home, inbox)
    ok &= not left
    print(f"left behind: {left or 'nothing'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
