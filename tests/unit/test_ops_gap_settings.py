"""Settings an operator sets and gets refused by every command, named by where they were set: an unknown logging
level (which once stopped only `fairtel serve`, with a traceback, and was taken silently by every other command), and
the metrics token, which is a setting like the others (``FAIRTEL_METRICS_TOKEN``, or ``metrics_token`` in
fairtel.toml), never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fairtel.api._metrics import MetricsAccess
from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings

TOKEN = "0123456789abcdef0123"
FAIRTEL = str(Path(sys.executable).parent / "fairtel")


@pytest.fixture(autouse=True)
def _no_settings_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("FAIRTEL_LOG_LEVEL", "FAIRTEL_METRICS_TOKEN", "FAIRTEL_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_an_unknown_log_level_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert "FAIRTEL_LOG_LEVEL" in message and "DEBUG, INFO, WARNING, ERROR, CRITICAL" in message, message


def test_an_unknown_log_level_in_the_file_is_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "fairtel.toml").write_text('timezone = "Asia/Shanghai"\nlog_level = "loud"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fairtel\.toml:2 \[log_level\]"):
        load_settings()


@pytest.mark.parametrize(("given", "level"), [("debug", "DEBUG"), ("Warning", "WARNING"), ("warn", "WARNING"),
                                              (" error ", "ERROR"), ("INFO", "INFO")])
def test_a_known_level_is_taken_in_any_case(monkeypatch: pytest.MonkeyPatch, given: str, level: str) -> None:
    monkeypatch.setenv("FAIRTEL_LOG_LEVEL", given)
    assert load_settings().log_level == level


def test_every_command_refuses_an_unknown_log_level(tmp_path: Path) -> None:
    env = {**os.environ, "FAIRTEL_LOG_LEVEL": "verbose", "FAIRTEL_HOME": str(tmp_path / "home"),
           "FAIRTEL_CONFIG": os.devnull}
    env.pop("FAIRTEL_DATABASE_URL", None)
    for args in (["users", "list"], ["serve", "--port", "18999"]):
        done = subprocess.run([FAIRTEL, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 2, (args, output)
        assert "config_invalid" in output and "FAIRTEL_LOG_LEVEL" in output, output
        assert "Traceback" not in output, output


def test_the_metrics_token_can_be_set_in_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "fairtel.toml").write_text(f'metrics_token = "{TOKEN}"\n', encoding="utf-8")
    settings = load_settings()
    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)  # a secret: never printed
    assert MetricsAccess.from_settings(settings).token == TOKEN


def test_a_short_metrics_token_is_refused_without_its_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fairtel.toml").write_text('metrics_token = "short-token"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "fairtel.toml:1 [metrics_token]" in caught.value.message and "at least 16" in caught.value.message
    assert "short-token" not in caught.value.message
    monkeypatch.setenv("FAIRTEL_METRICS_TOKEN", "short-token")
    with pytest.raises(ConfigError, match="FAIRTEL_METRICS_TOKEN: a metrics token needs at least 16"):
        load_settings()


def test_the_metrics_token_variable_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_METRICS_TOKEN", TOKEN)
    assert MetricsAccess.from_settings(load_settings()).token == TOKEN
    monkeypatch.delenv("FAIRTEL_METRICS_TOKEN")
    settings = load_settings()
    assert settings.metrics_token is None and MetricsAccess.from_settings(settings).token is None
    monkeypatch.setenv("FAIRTEL_METRICS_TOKEN", TOKEN)  # set after the settings were read: still the variable's
    assert MetricsAccess.from_settings(settings).token == TOKEN
