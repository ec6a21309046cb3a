from datetime import UTC, datetime
from pathlib import Path

import pytest

from fairtel.core import ConfigError, Environment, Period, load_settings, parse_rfc3339, stable_id
from fairtel.core.time import BadTimeError


def test_rfc3339_needs_offset() -> None:
    assert parse_rfc3339("2026-11-01T08:00:00+08:00") == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert parse_rfc3339("2026-11-01T00:00:00.123456789Z").microsecond == 123456
    for bad in ("2026-11-01T08:00:00", "2026-13-01T00:00:00Z", "yesterday", ""):
        with pytest.raises(BadTimeError):
            parse_rfc3339(bad)


def test_period_bounds_in_shanghai() -> None:
    p = Period.parse("2026-12")
    assert p.start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert p.end.isoformat() == "2027-01-01T00:00:00+08:00"
    assert p.days == 31
    # 2026-11-30T16:30Z is already December in Shanghai
    assert Period.containing(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)).key == "2026-12"
    assert Period.parse("2026-01").previous().key == "2025-12"


def test_settings_from_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "fairtel.toml"
    cfg.write_text('timezone = "Europe/Berlin"\ncurrency = "EUR"\n')
    monkeypatch.setenv("FAIRTEL_CONFIG", str(cfg))
    monkeypatch.setenv("FAIRTEL_CURRENCY", "USD")
    s = load_settings(home=tmp_path / "h")
    assert s.timezone == "Europe/Berlin"  # from the file
    assert s.currency == "USD"  # environment beats the file
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith("h/fairtel.db")
    with pytest.raises(ConfigError):
        load_settings(timezone="Mars/Olympus")


def test_default_secret_refused_outside_development(tmp_path: Path) -> None:
    load_settings(home=tmp_path).check_secrets()
    with pytest.raises(ConfigError):
        load_settings(home=tmp_path, environment=Environment.PRODUCTION).check_secrets()
    load_settings(home=tmp_path, environment=Environment.PRODUCTION, secret_key="s3cr3t-from-vault").check_secrets()


def test_stable_id_is_stable_and_unambiguous() -> None:
    assert stable_id("x", "a", "bc") == stable_id("x", "a", "bc")
    assert stable_id("x", "ab", "c") != stable_id("x", "a", "bc")
