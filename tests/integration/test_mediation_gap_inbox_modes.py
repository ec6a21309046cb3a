"""A file the watch moves to done/ or failed/ (raw usage: every subscriber's number) is readable by its owner only,
whatever mode the feed dropped it with. Before: it kept the feed's 0644."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fairtel.core.settings import Settings
from fairtel.mediation import watch

HEADER = "Calling Number,Called Number,Start Time,Duration\n"


def test_moved_files_are_the_owners_only(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = inbox / "calls.csv"
    good.write_text(HEADER, encoding="utf-8")
    bad = inbox / "calls.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    for f in (good, bad):
        os.chmod(f, 0o644)
        os.utime(f, (1, 1))
    watch(inbox, settings=Settings(home=tmp_path / "home"), once=True, settle=0.1)
    moved = [p for d in ("done", "failed") if (inbox / d).is_dir() for p in (inbox / d).iterdir()]
    assert moved, list(inbox.rglob("*"))
    for p in moved:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p, oct(p.stat().st_mode))
