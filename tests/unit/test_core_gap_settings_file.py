"""The settings file: a ``FAIRTEL_CONFIG`` naming a file that does not exist is refused (it ran on the defaults:
another database, clock and environment, without a word); a key of ``fairtel.toml`` that is no setting (a typo
such as ``timezon``) is refused naming file, line and key with the setting it likely meant; a bad value read from
the file is named by the file and line, not by an environment variable nobody set; an unknown time zone or
currency names its setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no fairtel.toml in the working directory unless a test writes one
    for name in list(os.environ):
        if name.upper().startswith("FAIRTEL_"):
            monkeypatch.delenv(name)


def test_a_fairtel_config_that_does_not_exist_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nosuch.toml"
    monkeypatch.setenv("FAIRTEL_CONFIG", str(missing))
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    assert caught.value.code == "config_invalid"
    assert str(caught.value).startswith(f"FAIRTEL_CONFIG={missing}: file not found")
    monkeypatch.setenv("FAIRTEL_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings(home=tmp_path / "h")


def test_no_settings_file_at_all_is_still_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(home=tmp_path / "h").timezone == "Asia/Shanghai"  # no ./fairtel.toml: fine
    monkeypatch.setenv("FAIRTEL_CONFIG", os.devnull)  # said explicitly: no settings file
    assert load_settings(home=tmp_path / "h").timezone == "Asia/Shanghai"
    monkeypatch.setenv("FAIRTEL_CONFIG", "")  # empty: as if not set
    assert load_settings(home=tmp_path / "h").timezone == "Asia/Shanghai"
    (tmp_path / "fairtel.toml").write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    assert load_settings(home=tmp_path / "h").timezone == "Europe/Berlin"


def test_an_unknown_key_is_refused_with_its_line_and_the_likely_setting(tmp_path: Path) -> None:
    (tmp_path / "fairtel.toml").write_text('# settings\ncurrency = "CNY"\ntimezon = "UTC"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    assert str(caught.value) == "invalid settings: fairtel.toml:3 [timezon]: unknown setting (did you mean timezone?)"
    (tmp_path / "fairtel.toml").write_text('Timezone = "UTC"\n', encoding="utf-8")  # keys are read in any case
    assert load_settings(home=tmp_path / "h").timezone == "UTC"


def test_bad_values_from_the_file_are_named_by_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ops.toml"
    config.write_text('batch_size = "lots"\nworkers = -3\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    monkeypatch.setenv("FAIRTEL_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    problems = sorted(caught.value.details["problems"])
    assert len(problems) == 3, problems
    assert problems[0].startswith(f"{config}:1 [batch_size]: Input should be a valid integer"), problems
    assert problems[1].startswith(f"{config}:2 [workers]: Input should be greater than or equal to 0"), problems
    assert problems[2] == f"{config}:3 [timezone]: unknown time zone 'Mars/Olympus'", problems
    assert "FAIRTEL_BATCH_SIZE" not in str(caught.value)
    # the same key set in the environment too: the variable's value is the one read, and the one named
    monkeypatch.setenv("FAIRTEL_WORKERS", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    assert "FAIRTEL_WORKERS: Input should be greater than or equal to 0" in caught.value.details["problems"]


def test_an_unknown_zone_or_currency_in_the_environment_names_its_variable(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    assert str(caught.value) == "invalid settings: FAIRTEL_TIMEZONE: unknown time zone 'Mars/Olympus'"
    monkeypatch.delenv("FAIRTEL_TIMEZONE")
    monkeypatch.setenv("FAIRTEL_CURRENCY", "XYZ")
    with pytest.raises(ConfigError, match=r"^invalid settings: FAIRTEL_CURRENCY: unknown ISO 4217 currency 'XYZ'$"):
        load_settings(home=tmp_path / "h")


def test_a_settings_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "fairtel.toml").write_text('timezone = "UTC\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^fairtel.toml: not valid TOML: .*line 1"):
        load_settings(home=tmp_path / "h")


def test_an_unknown_key_and_a_bad_value_are_told_together(tmp_path: Path) -> None:
    """Before: the unknown key alone was told; fixed, the bad value came up on the next run (two rounds)."""
    (tmp_path / "fairtel.toml").write_text('timezon = "UTC"\nbatch_size = "lots"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path / "h")
    said = str(caught.value)
    assert "fairtel.toml:1 [timezon]: unknown setting (did you mean timezone?)" in said
    assert "fairtel.toml:2 [batch_size]" in said, said
