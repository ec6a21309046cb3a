"""Worker processes start without running the parent's main script again: started from the ``fairtel`` console
script, each worker imported the whole command line (over a second of CPU) before rating anything. The script's
path is hidden only while the workers start, and the lighter packages a worker imports still give every name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fairtel

SCRIPT = """
import os
import sys

with open(os.environ["MARKS"], "a") as fh:  # once per run of this script: the parent, and each worker that reruns it
    fh.write("run\\n")

if __name__ == "__main__":
    from fairtel.engines._buckets import _pool

    with _pool(2, None) as pool:
        assert pool.submit(os.getpid).result() != os.getpid()
    print(__file__ == sys.argv[0])
"""


def test_workers_do_not_rerun_the_main_script(tmp_path: Path) -> None:
    script, marks = tmp_path / "main_script.py", tmp_path / "marks.txt"
    script.write_text(SCRIPT)
    src = str(Path(fairtel.__file__).resolve().parents[1])
    env = {**os.environ, "MARKS": str(marks), "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]  # the script's path is back once the workers started
    assert marks.read_text().splitlines() == ["run"]  # the parent only, not each of the two workers


def test_lazy_package_names_resolve() -> None:
    import fairtel.core as core
    import fairtel.engines as engines
    from fairtel.core.settings import Settings
    from fairtel.engines._local import LocalEngine

    assert engines.LocalEngine is LocalEngine
    assert core.Settings is Settings
    for name in engines.__all__:
        assert getattr(engines, name) is not None
    for name in core.__all__:
        assert getattr(core, name) is not None
