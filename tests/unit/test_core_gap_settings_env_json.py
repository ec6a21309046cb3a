"""A setting given as JSON in the environment that is not JSON: the error names the variable and where the text
stops being JSON, not only that a value could not be parsed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings


@pytest.fixture(autouse=True)
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_CONFIG", os.devnull)  # no settings file
    for var in ("FAIRTEL_SLA", "FAIRTEL_TAX_RATES"):
        monkeypatch.delenv(var, raising=False)


def test_fairtel_sla_that_is_not_json_is_named_with_the_position(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SLA", '{"resolve": {"fraud": 12,}}')  # a trailing comma
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid settings: FAIRTEL_SLA [sla]: not valid JSON: ")
    assert "at column 26 of" in message and '{"resolve": {"fraud": 12,}}' in message
    assert caught.value.details["problems"] == [message.removeprefix("invalid settings: ")]


def test_a_json_error_on_a_later_line_names_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("fairtel_sla", '{"resolve":\n {"fraud" 12}}')  # the variable's name in any case
    with pytest.raises(ConfigError, match=r"FAIRTEL_SLA \[sla\]: not valid JSON: .* at line 2 column 11 of"):
        load_settings()


def test_an_empty_value_and_other_json_settings_are_reported_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SLA", "")
    monkeypatch.setenv("FAIRTEL_TAX_RATES", "{voice: 0.09}")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    problems = caught.value.details["problems"]
    assert [p.split(":")[0] for p in problems] == ["FAIRTEL_SLA [sla]", "FAIRTEL_TAX_RATES [tax_rates]"]
    assert "at column 1 of ''" in problems[0] and "at column 2 of" in problems[1]


def test_valid_json_still_goes_through_the_sla_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SLA", '{"resolve": {"fraud": 12}}')
    assert load_settings().sla.resolve == {"fraud": 12}
    monkeypatch.setenv("FAIRTEL_SLA", '{"resolve": {"fraud": 0}}')
    with pytest.raises(ConfigError, match=r"FAIRTEL_SLA \[sla.resolve.fraud\]: hours must be above 0"):
        load_settings()
