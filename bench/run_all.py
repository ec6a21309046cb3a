"""Run every benchmark (bench/bench_*.py) or every evaluation (bench/eval_*.py) in turn, printing each one's
figures. Sizes come from FAIRTEL_BENCH_RECORDS (default: each script's own, usually 50 M records).

    python bench/run_all.py            # benchmarks
    python bench/run_all.py --eval     # model evaluations on ../shared/data
    python bench/run_all.py ingest     # only the scripts whose names contain one of the words given
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    prefix = "eval_" if "--eval" in argv else "bench_"
    only = [a for a in argv if not a.startswith("--")]
    scripts = sorted(p for p in HERE.glob(f"{prefix}*.py") if not only or any(o in p.name for o in only))
    if not scripts:
        print(f"no {prefix}*.py scripts under {HERE}")
        return 1
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)])
        print(f"=== {script.name}: exit {rc}, {time.perf_counter() - t0:.1f} s ===", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
