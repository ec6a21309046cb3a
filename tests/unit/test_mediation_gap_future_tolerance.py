"""How far in the future a record may start (``future_timestamp``) is a setting, ``future_tolerance_days``
(FAIRTEL_FUTURE_TOLERANCE_DAYS, default 7, 1 to 28), which ingest applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"


def _usage(tmp_path: Path, days_ahead: float) -> Path:
    ahead = datetime.now(UTC) + timedelta(days=days_ahead)
    path = tmp_path / "usage.csv"
    path.write_text(HEADER + f"f1,8613800138000,voice,out,{ahead:%Y-%m-%dT%H:%M:%S}+00:00,60,8613900139000\n",
                    encoding="utf-8")
    return path


def test_the_default_is_seven_days(tmp_path: Path) -> None:
    assert Settings(home=tmp_path / "home").future_tolerance_days == 7
    [rep] = ingest_files([_usage(tmp_path, 3)], settings=Settings(home=tmp_path / "home", batch_size=1000))
    assert (rep.accepted, rep.rejected) == (1, 0)


def test_ingest_applies_the_tolerance_set(tmp_path: Path) -> None:
    path = _usage(tmp_path, 3)
    settings = Settings(home=tmp_path / "home", batch_size=1000, future_tolerance_days=1)
    [rep] = ingest_files([path], settings=settings)
    assert (rep.accepted, rep.rejected, rep.reasons) == (0, 1, {"future_timestamp": 1})
    (tmp_path / "later").mkdir()
    path = _usage(tmp_path / "later", 10)  # beyond the default, within the tolerance set
    [rep] = ingest_files([path], settings=Settings(home=tmp_path / "home2", batch_size=1000,
                                                   future_tolerance_days=14))
    assert (rep.accepted, rep.rejected) == (1, 0)


def test_the_tolerance_is_read_from_the_environment_and_checked(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_FUTURE_TOLERANCE_DAYS", "3")
    assert Settings(home=tmp_path / "home").future_tolerance_days == 3
    monkeypatch.delenv("FAIRTEL_FUTURE_TOLERANCE_DAYS")
    for bad in (0, 29, -1):
        with pytest.raises(ValidationError):
            Settings(home=tmp_path / "home", future_tolerance_days=bad)
