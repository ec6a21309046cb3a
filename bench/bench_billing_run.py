"""The bill run (`fairtel bill --period P --issue`) of one rated home, by two versions of fairtel, side by side:
peak RSS and wall time of each, and whether they issued the same bills.

    # a rated home: 200 000 subscribers, one day of usage (about 4 M records)
    fairtel synth --out OP --subscribers 200000 --days 1 --start 2026-09-10
    fairtel load OP --home HOME && fairtel rate --period 2026-09 --home HOME
    # the previous version: a detached worktree of HEAD
    git worktree add --detach /tmp/fairtel-head HEAD
    .venv/bin/python bench/bench_billing_run.py --home HOME --period 2026-09 \\
        --before /tmp/fairtel-head/src --after src

Each version bills its own copy of ``--home`` (the home is never changed) in a child process whose ``PYTHONPATH`` is
its source tree; the figures are that child's wall time, CPU time (user + system) and peak RSS (``ru_maxrss`` of a
fresh parent that runs only it). With ``--repeat N`` the versions run alternately, N times each, and the figures are
the medians. Then the two copies are compared: the bills (number, plan, every line and total), the billed lines, the held
lines and the run's report (but its run id and files), which must be identical. ``FAIRTEL_BILL_CHUNK`` (subscribers
per chunk, where the version bills in chunks) is passed through.

A change in how rating writes its lines is measured with ``--after-home``: a copy of ``--home`` (made before it was
rated, or rated again) whose period this version rated, billed by this version in place of ``--home``. Its rating run
is another one, so the bills' ``rating_batch`` (the run's name) is left out of the comparison:

    cp -a HOME HOME2 && PYTHONPATH=src fairtel rate --period 2026-09 --home HOME2
    .venv/bin/python bench/bench_billing_run.py --home HOME --after-home HOME2 --period 2026-09 \\
        --before /tmp/fairtel-head/src --after src
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# runs one command and prints its wall time, CPU time (user + system) and the peak RSS of that command alone (this
# process runs nothing else)
_MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss  # KiB on Linux
print(json.dumps({"rc": done.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mib": peak / 1024, "stdout": done.stdout, "stderr": done.stderr[-4000:]}))
"""

# what a home issued, as text to compare: every bill with its lines, the billed and held lines (run and bill ids aside)
_DIGEST = """
import hashlib, json, sys
import polars as pl
from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings
from fairtel.store import bills_of_period

home, period, drop = sys.argv[1], sys.argv[2], sys.argv[3:]  # drop: columns left out (the rating run's name)
app = bootstrap(load_settings(home=home))
with app.db.connect() as conn:
    bills = bills_of_period(conn, period)
h = hashlib.sha256()
for b in bills:
    h.update(repr((b.bill_id, b.msisdn, b.plan_id, b.currency, b.total_minor, b.tax_minor,
                   [(ln.line_no, ln.kind.value, ln.description, ln.rule_id, ln.quantity, ln.unit, ln.amount_minor,
                     ln.allowance_id, ln.adjustment_id) for ln in b.lines])).encode())
out = {"bills": len(bills), "total_minor": sum(b.total_minor for b in bills), "bills_sha256": h.hexdigest()}
for dataset in ("billed", "held_usage", "bills"):
    files = app.lake.files(dataset, periods=[period])
    if not files:
        out[dataset] = None
        continue
    frame = pl.read_parquet(files).drop("run_id", "issued_at", *drop, strict=False)
    frame = frame.sort(frame.columns)
    out[dataset] = {"rows": frame.height, "parts": len(files),
                    "sha256": hashlib.sha256(frame.write_csv().encode()).hexdigest()}
app.close()
print(json.dumps(out))
"""


def _run(src: Path, home: Path, period: str, drop: tuple[str, ...] = ()) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "FAIRTEL_HOME": str(home)}
    env.pop("FAIRTEL_DATABASE_URL", None)  # each copy bills its own SQLite database
    cmd = [sys.executable, "-c", "import sys; from fairtel.cli import main; sys.argv[0] = 'fairtel'; main()", "bill", "--period", period, "--issue", "--json", "--home", str(home)]
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{src}: the bill run failed ({result['rc']}): {result['stdout'][-4000:]}{result['stderr']}")
    digest = subprocess.run([sys.executable, "-c", _DIGEST, str(home), period, *drop], env=env, capture_output=True,
                            text=True, check=True)
    report = json.loads(result["stdout"])
    for key in ("run_id", "files"):
        report.pop(key, None)
    return {"wall_s": round(result["wall_s"], 1), "cpu_s": round(result["cpu_s"], 1),
            "peak_rss_mib": round(result["peak_rss_mib"]),
            "report_sha256": hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest(),
            "bills": report.get("bills"), "total": report.get("total"), "issued": json.loads(digest.stdout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a home with the period rated, not yet issued")
    parser.add_argument("--period", required=True)
    parser.add_argument("--before", type=Path, required=True, help="source tree (src/) of the previous version")
    parser.add_argument("--after", type=Path, required=True, help="source tree (src/) of this version")
    parser.add_argument("--after-home", type=Path, default=None,
                        help="the home the after version bills: --home with the period rated by that version")
    parser.add_argument("--work", type=Path, default=None, help="where the copies go (default: a temporary directory)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each version, alternately (before, after, before...); the figures are the medians")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-billing-", dir=args.work))
    runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    try:
        for _ in range(max(1, args.repeat)):
            for name, src in (("before", args.before), ("after", args.after)):
                copy = work / name
                home = args.after_home if name == "after" and args.after_home else args.home
                shutil.copytree(home, copy, symlinks=True)
                runs[name].append(_run(src, copy, args.period, ("rating_batch",) if args.after_home else ()))
                print(name, json.dumps({k: v for k, v in runs[name][-1].items() if k != "issued"}), flush=True)
                shutil.rmtree(copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = {name: {**done[0], **{k: _median([float(r[k]) for r in done])  # type: ignore[arg-type]
                                    for k in ("wall_s", "cpu_s", "peak_rss_mib")}}
               for name, done in runs.items()}
    before, after = figures["before"], figures["after"]
    every = [*runs["before"], *runs["after"]]
    same = all(r["issued"] == every[0]["issued"] and r["report_sha256"] == every[0]["report_sha256"] for r in every)
    print(json.dumps({"period": args.period, "chunk": os.environ.get("FAIRTEL_BILL_CHUNK", "default"),
                      "runs": args.repeat, "before": before, "after": after,
                      "peak_rss_ratio": round(float(after["peak_rss_mib"]) / float(before["peak_rss_mib"]), 2),  # type: ignore[arg-type]
                      "wall_ratio": round(float(after["wall_s"]) / float(before["wall_s"]), 2),  # type: ignore[arg-type]
                      "cpu_ratio": round(float(after["cpu_s"]) / float(before["cpu_s"]), 2),  # type: ignore[arg-type]
                      "identical": same}, indent=2))
    if not same:
        raise SystemExit("the two versions issued different bills or reports")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return round(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2, 1)


if __name__ == "__main__":
    main()
