"""``[operator] country``: the operator's home country, named in the catalog (ISO 3166-1 alpha-2), read by the
loader and given by ``Catalog.home_country`` before the country of the operator's time zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import CatalogError

DEFAULT = default_catalog_path().read_text(encoding="utf-8")


def berlin(country: str | None = "DE") -> str:
    """The demo catalog for an operator in Berlin: on Berlin's clock, Germany no longer a roaming destination."""
    line = f'\ncountry = "{country}"' if country is not None else ""
    text = DEFAULT.replace('timezone = "Asia/Shanghai"', f'timezone = "Europe/Berlin"{line}', 1)
    return text.replace('"GB", "DE", "FR"', '"GB", "CN", "FR"', 1)


def test_the_demo_catalog_is_at_home_in_china() -> None:
    catalog = load_catalog(default_catalog_path())
    assert catalog.operator.country is None and catalog.home_country == "CN"
    assert catalog.roaming_zone_of("CN") is None


def test_a_berlin_catalog_names_germany() -> None:
    catalog, problems = parse_catalog(berlin("DE"))
    assert problems == [] and catalog is not None
    assert catalog.operator.country == "DE" and catalog.home_country == "DE"
    assert catalog.roaming_zone_of("DE") is None  # at home
    assert catalog.roaming_zone_of("CN") is not None and catalog.roaming_zone_of("CN").id == "roam-3"


def test_the_named_country_comes_before_the_time_zones() -> None:
    # an operator in Liechtenstein on Zurich's clock: the time zone alone would say Switzerland
    text = DEFAULT.replace('timezone = "Asia/Shanghai"', 'timezone = "Europe/Zurich"', 1)
    catalog, _ = parse_catalog(text)
    assert catalog is not None and catalog.home_country == "CH"
    catalog, problems = parse_catalog(
        text.replace('timezone = "Europe/Zurich"', 'timezone = "Europe/Zurich"\ncountry = "LI"')
    )
    assert problems == [] and catalog is not None and catalog.home_country == "LI"


def test_without_a_country_the_time_zone_says() -> None:
    catalog, problems = parse_catalog(berlin(None))
    assert problems == [] and catalog is not None
    assert catalog.operator.country is None and catalog.home_country == "DE"


@pytest.mark.parametrize("bad", ["ZZ", "de", "DEU", "Germany", " DE"])
def test_an_unknown_country_is_refused_naming_file_line_and_field(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "catalog.toml"
    text = berlin(bad)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    problems = caught.value.problems
    assert [(p.file, p.field, p.code) for p in problems] == [(str(path), "operator.country", "bad_country")]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("country ="))
    assert problems[0].line == line
    assert repr(bad) in problems[0].message and "ISO 3166-1 alpha-2" in problems[0].message


def test_a_country_that_is_not_a_string_is_refused() -> None:
    text = DEFAULT.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\ncountry = 86', 1)
    catalog, problems = parse_catalog(text, file="cat.toml")
    assert catalog is None
    assert [(p.file, p.field) for p in problems] == [("cat.toml", "operator.country")]
