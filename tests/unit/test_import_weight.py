"""What every command and every rating worker pays at start: importing the CLI or the rating kernel loads neither
pandas (pyarrow loads its pandas shim when an array is built at import time: about 0.3 s) nor, for the kernel,
mediation's readers and ingest (a rating worker never reads a CDR file). Both crept in once, unnoticed, adding
about 0.4 s to each process: a batch run's workers, `fairtel --help`, every test of the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _loaded(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", ["fairtel.cli", "fairtel.rating", "fairtel.engines"])
def test_importing_loads_no_pandas(module: str) -> None:
    assert "pandas" not in _loaded(module)


def test_the_rating_kernel_does_not_import_mediation() -> None:
    loaded = _loaded("fairtel.rating")
    assert not any(m == "fairtel.mediation" or m.startswith("fairtel.mediation.") for m in loaded)
