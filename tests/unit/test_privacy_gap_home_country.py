"""Numbers in free text are read by the numbering plan of the operator's home country (``home_country``: the
catalog's ``[operator] country``, the settings' ``FAIRTEL_COUNTRY``, else the country of the time zone), not
always as Chinese ones: in Germany ``0151 2345 6789`` is ``+49 151 2345 6789``. Without a home country nothing
changes: mainland China's plan (+86)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.countries import CALLING_CODES, COUNTRIES
from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings
from fairtel.privacy import (
    HOME_COUNTRY_CODE,
    Pseudonymizer,
    e164_of,
    home_numbering,
    mask_msisdn,
    pseudonymise_numbers,
    replace_numbers,
)

KEY = "k" * 32
P = Pseudonymizer(KEY)


def tag(digits: str) -> str:
    return f"<{digits}>"


def berlin_catalog() -> str:
    text = default_catalog_path().read_text(encoding="utf-8")
    return text.replace('timezone = "Asia/Shanghai"', 'timezone = "Europe/Berlin"\ncountry = "DE"', 1)


# -- the default: mainland China, as ever ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("13800138000", "8613800138000"),
        ("008613800138000", "8613800138000"),
        ("8613800138000", "8613800138000"),
        ("01065529988", "01065529988"),  # a Beijing landline with its trunk 0: as written, as before
        ("0049151234567", "49151234567"),
        ("12345678", "12345678"),
    ],
)
def test_without_a_home_country_numbers_are_read_as_chinese(digits: str, expected: str) -> None:
    assert e164_of(digits) == expected
    assert e164_of(digits, home_country="CN") == expected
    assert HOME_COUNTRY_CODE == "86" and home_numbering().country_code == "86"


def test_the_demo_catalogs_home_reads_chinese_numbers() -> None:
    home = load_catalog(default_catalog_path()).home_country
    assert home == "CN"
    want = P("8613800138000")
    for written in ("13800138000", "138-0013-8000", "+86 138 0013 8000", "0086 138 0013 8000"):
        assert pseudonymise_numbers(f"call {written}", P, home_country=home) == f"call {want}"
        assert pseudonymise_numbers(f"call {written}", P) == f"call {want}"


# -- an operator in Germany -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "written",
    [
        "0151 2345 6789",
        "0151-2345-6789",
        "015123456789",
        "+49 151 2345 6789",
        "+4915123456789",
        "0049 151 23456789",
    ],
)
def test_a_berlin_catalogs_home_reads_german_numbers(written: str) -> None:
    catalog, problems = parse_catalog(berlin_catalog())
    assert problems == [] and catalog is not None
    home = catalog.home_country
    assert home == "DE"
    assert pseudonymise_numbers(f"rang {written} twice", P, home_country=home) == f"rang {P('4915123456789')} twice"
    assert replace_numbers(written, tag, e164=True, home_country=home) == "<4915123456789>"


def test_in_germany_a_chinese_mobile_is_not_given_86() -> None:
    assert e164_of("13800138000", home_country="DE") == "13800138000"
    assert e164_of("030 1234567".replace(" ", ""), home_country="DE") == "49301234567"  # a Berlin landline
    assert e164_of("0000099", home_country="DE") == "0000099"  # no number after the trunk 0: as written


def test_the_subscribers_own_number_is_kept_and_others_masked_in_germany() -> None:
    own = "4915123456789"
    note = "called from 0151 2345 6789 about 0160 9876 5432"

    def shown(digits: str) -> str:
        return digits if e164_of(digits, home_country="DE") == own else mask_msisdn(digits)

    assert replace_numbers(note, shown, standalone=True) == "called from 015123456789 about 0160****5432"


def test_other_plans() -> None:
    assert e164_of("2025550123", home_country="US") == "12025550123"  # North America: 10 digits, no prefix
    assert e164_of("01149301234567", home_country="US") == "49301234567"  # 011, the international prefix
    assert e164_of("0612345678", home_country="IT") == "0612345678"  # Italy: the 0 is part of the number
    assert e164_of("0312345678", home_country="jp") == "81312345678"


def test_every_country_has_a_calling_code() -> None:
    assert set(CALLING_CODES) == set(COUNTRIES)
    assert all(code.isdigit() and 1 <= len(code) <= 3 and code[0] != "0" for code in CALLING_CODES.values())
    assert (CALLING_CODES["CN"], CALLING_CODES["DE"], CALLING_CODES["US"], CALLING_CODES["GB"]) == (
        "86",
        "49",
        "1",
        "44",
    )


def test_an_unknown_home_country_is_refused() -> None:
    with pytest.raises(ValueError, match="ZZ"):
        home_numbering("ZZ")


# -- the settings: FAIRTEL_COUNTRY, else the time zone's --------------------------------------------------------
def test_the_settings_name_the_home_country(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no fairtel.toml
    monkeypatch.delenv("FAIRTEL_CONFIG", raising=False)
    monkeypatch.delenv("FAIRTEL_COUNTRY", raising=False)
    monkeypatch.delenv("FAIRTEL_TIMEZONE", raising=False)
    assert load_settings(home=tmp_path / "h").home_country == "CN"
    assert load_settings(home=tmp_path / "h", timezone="Europe/Berlin").home_country == "DE"
    monkeypatch.setenv("FAIRTEL_COUNTRY", "de")
    s = load_settings(home=tmp_path / "h", timezone="Europe/Berlin")
    assert s.country == "DE" and s.home_country == "DE"
    assert s.country_mismatch("DE") is None and s.country_mismatch(None) is None
    why = s.country_mismatch("CN")
    assert why is not None and "FAIRTEL_COUNTRY=CN" in why
    monkeypatch.setenv("FAIRTEL_COUNTRY", "Germany")
    with pytest.raises(ConfigError, match="country"):
        load_settings(home=tmp_path / "h")
