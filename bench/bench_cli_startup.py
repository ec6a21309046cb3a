"""Start-up time of the command line: wall-clock seconds from launching a command to its exit, the median of
several runs, for a few commands that do little work (help, version, a command's own help) and two that open a
home (an empty one, made before timing). Each command runs in a fresh interpreter, as a user runs it.

    python bench/bench_cli_startup.py                        # the code in this checkout
    python bench/bench_cli_startup.py --baseline /other/src  # and another tree's src/, side by side, in one run

The machine may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

COMMANDS: list[tuple[str, list[str], bool]] = [  # label, arguments, whether it needs a home
    ("fairtel --help", ["--help"], False),
    ("fairtel --version", ["--version"], False),
    ("fairtel kpi --help", ["kpi", "--help"], False),
    ("fairtel bill --help", ["bill", "--help"], False),
    ("fairtel explain --help", ["explain", "--help"], False),
    ("fairtel catalog validate --help", ["catalog", "validate", "--help"], False),
    ("fairtel kpi --period 2026-03 --json", ["kpi", "--period", "2026-03", "--json"], True),
    ("fairtel explain RECORD (not found)", ["explain", "no-such-record"], True),
]

_RUN = "import sys\nfrom fairtel.cli import main\nsys.argv = ['fairtel', *sys.argv[1:]]\nmain()\n"


def _run(src: Path, args: list[str], home: Path | None) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "100"}
    env.pop("FAIRTEL_HOME", None)
    if home is not None:
        env["FAIRTEL_HOME"] = str(home)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _RUN, *args], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _import_seconds(src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = "import time\nt = time.perf_counter()\nimport fairtel.cli\nprint(time.perf_counter() - t)\n"
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)


def measure(trees: dict[str, Path], runs: int, workdir: Path) -> dict[str, dict[str, float]]:
    """Per tree, the median seconds of each command; the trees take turns run by run, so that a change of the
    machine's load weighs on all of them alike."""
    homes = {name: workdir / name / "home" for name in trees}
    for name, src in trees.items():
        _run(src, ["kpi", "--json"], homes[name])  # makes the home (database, settings), compiles the code: not timed
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for _ in range(runs):
        for name, src in trees.items():
            samples[name].setdefault("import fairtel.cli", []).append(_import_seconds(src))
    for label, args, needs_home in COMMANDS:
        for name, src in trees.items():
            _run(src, args, homes[name] if needs_home else None)  # warm the file cache
        for _ in range(runs):
            for name, src in trees.items():
                samples[name].setdefault(label, []).append(_run(src, args, homes[name] if needs_home else None))
    return {name: {label: statistics.median(v) for label, v in by_label.items()} for name, by_label in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another tree's src/ directory, timed beside this one")
    parser.add_argument("--runs", type=int, default=5, help="runs per command; the median is printed (default 5)")
    options = parser.parse_args()
    trees = {"current": SRC}
    if options.baseline is not None:
        if not (options.baseline / "fairtel" / "cli" / "__init__.py").is_file():
            parser.error(f"--baseline {options.baseline}: not a src/ directory holding fairtel")
        trees["baseline"] = options.baseline.resolve()
    with tempfile.TemporaryDirectory(prefix="fairtel-bench-cli-") as tmp:
        results = measure(trees, options.runs, Path(tmp))
    load = os.getloadavg()
    print(f"start-up, seconds (median of {options.runs}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    labels = list(results["current"])
    width = max(len(label) for label in labels)
    header = f"{'':{width}}  {'current':>8}" + (f"  {'baseline':>8}  {'speed-up':>8}" if "baseline" in results else "")
    print(header)
    for label in labels:
        line = f"{label:{width}}  {results['current'][label]:8.3f}"
        if "baseline" in results:
            base = results["baseline"][label]
            line += f"  {base:8.3f}  {base / results['current'][label]:7.1f}x"
        print(line)


if __name__ == "__main__":
    main()
