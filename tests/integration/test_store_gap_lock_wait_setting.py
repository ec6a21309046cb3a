"""``lock_wait_s`` (``FAIRTEL_LOCK_WAIT_S``) reaches the home's database engine: SQLite's busy timeout is the
setting's (before: 30 s whatever the settings said, no setting existed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fairtel.bootstrap import bootstrap
from fairtel.core.settings import load_settings


def test_the_setting_sets_the_engines_lock_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_LOCK_WAIT_S", "2.5")
    settings = load_settings(home=tmp_path / "home")
    assert settings.lock_wait_s == 2.5
    app = bootstrap(settings)
    try:
        with app.db.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 2500
    finally:
        app.close()


def test_a_lock_wait_out_of_range_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_LOCK_WAIT_S", "0")
    with pytest.raises(Exception, match=r"(?i)lock_wait_s"):
        load_settings(home=tmp_path / "home")
