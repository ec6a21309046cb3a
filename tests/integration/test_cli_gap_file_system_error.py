"""A file or directory fairtel cannot write (a home remounted read-only after a disk error, a full disk, missing
rights) ends a command with ``file_system_error`` naming the path, what fairtel was doing and what to do, exit
status 2 like other errors, not a traceback; an error without a path (a bug) keeps its traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

FAIRTEL = str(Path(sys.executable).with_name("fairtel"))


def test_a_home_whose_lock_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    (home / "mediation" / "lock").mkdir(parents=True)  # the lock cannot be opened, as on a read-only home
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRTEL_")}
    for extra in ([], ["--json"]):
        res = subprocess.run([FAIRTEL, "--home", str(home), "watch", str(inbox), "--once", *extra],
                             capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 2, (res.returncode, res.stderr)
        assert "Traceback" not in res.stderr, res.stderr
        lock = str(home / "mediation" / "lock")
        if extra:
            error = json.loads(res.stdout)["error"]
            assert error["code"] == "file_system_error" and error["details"]["path"] == lock, error
            assert "fairtel.mediation" in error["details"]["operation"], error
        else:
            assert f"file_system_error: {lock}: Is a directory (while fairtel.mediation." in res.stderr, res.stderr


def test_read_only_and_full_file_systems_name_the_path_and_what_to_do() -> None:
    from fairtel.cli import _file_system_error

    ro = _file_system_error(OSError(errno.EROFS, os.strerror(errno.EROFS), "/srv/home/lake/rating_log/x.lock"))
    assert ro is not None and ro.code == "file_system_error"
    assert ro.message.startswith("/srv/home/lake/rating_log/x.lock: Read-only file system; make the file system "
                                 "writable"), ro.message
    full = _file_system_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/srv/home/lake/a.parquet"))
    assert full is not None and "No space left on device; free some space" in full.message
    denied = _file_system_error(PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/srv/in", None, "/srv/in/done"))
    assert denied is not None and "/srv/in -> /srv/in/done" in denied.message and "Permission denied; make it writable" in denied.message


def test_errors_without_a_path_keep_their_traceback() -> None:
    from fairtel.cli import _file_system_error

    assert _file_system_error(OSError(errno.EIO, "I/O error")) is None
    assert _file_system_error(ValueError("a bug")) is None
    assert _file_system_error(OSError(errno.EBADF, "bad fd", "/x")) is None
