"""The ``[retention]`` settings: the documented defaults, read from fairtel.toml or ``FAIRTEL_RETENTION``, and a
wrong value refused naming the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_CONFIG", "/dev/null")
    monkeypatch.delenv("FAIRTEL_RETENTION", raising=False)
    r = load_settings().retention
    assert (r.usage_months, r.rejects_days, r.consent_months, r.transcript_months) == (6, 90, 24, 12)


def test_read_from_the_file_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fairtel.toml"
    config.write_text("[retention]\nusage_months = 12\nrejects_days = 30\n", encoding="utf-8")
    monkeypatch.setenv("FAIRTEL_CONFIG", str(config))
    r = load_settings().retention
    assert (r.usage_months, r.rejects_days, r.consent_months) == (12, 30, 24)
    monkeypatch.setenv("FAIRTEL_RETENTION", '{"transcript_months": 3}')
    assert load_settings().retention.transcript_months == 3


@pytest.mark.parametrize(("text", "where"), [
    ("[retention]\nusage_months = 6\nconsent_months = 2\n", "fairtel.toml:3 [retention.consent_months]"),
    ("[retention]\nrejects_dayz = 4\n", "fairtel.toml:2 [retention.rejects_dayz]"),
    ("[retention]\nusage_months = 0\n", "fairtel.toml:2 [retention.usage_months]"),
])
def test_a_wrong_value_names_file_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                               where: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fairtel.toml").write_text(text, encoding="utf-8")
    monkeypatch.delenv("FAIRTEL_CONFIG", raising=False)
    monkeypatch.delenv("FAIRTEL_RETENTION", raising=False)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert where in err.value.message


def test_environment_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_CONFIG", "/dev/null")
    monkeypatch.setenv("FAIRTEL_RETENTION", "{usage_months: 6")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "FAIRTEL_RETENTION" in err.value.message and "not valid JSON" in err.value.message
