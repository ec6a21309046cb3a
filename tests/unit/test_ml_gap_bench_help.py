"""Every benchmark and evaluation script answers ``--help`` with its usage and exits, rather than starting a run
(bench/README.md sends the reader to each script's own ``--help``; some runs take more than twenty minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = ["eval_churn_ibm.py", "eval_fraud_sichuan.py", "eval_megaline.py", "bench_ber_decode.py", "bench_catalog.py",
           "bench_store.py", "run_all.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_the_usage_and_runs_nothing(script: str) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"usage: {script}") or (script == "run_all.py" and first.startswith("Run every benchmark"))
    assert "python bench/" in done.stdout  # the docstring's examples
