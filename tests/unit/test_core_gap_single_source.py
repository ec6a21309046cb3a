"""Codes two packages check against live in core, once: complaint categories (care files complaints under them,
the ``sla`` setting is keyed by them) and the roaming countries (a catalog's zones and a usage record name them)."""

from __future__ import annotations

import pyarrow as pa

import fairtel.care
from fairtel.catalog import _countries as catalog_countries
from fairtel.core import contracts
from fairtel.core.countries import COUNTRIES
from fairtel.core.settings import SLA_CATEGORIES
from fairtel.mediation import _validate


def test_complaint_categories_are_core_s_and_care_files_under_them() -> None:
    assert fairtel.care.ComplaintCategory is contracts.ComplaintCategory
    assert fairtel.care.parse_category("Fraud") is contracts.ComplaintCategory.FRAUD
    assert ("default", *(c.value for c in contracts.ComplaintCategory)) == SLA_CATEGORIES


def test_the_catalog_and_mediation_check_countries_against_core_s_set() -> None:
    assert catalog_countries.COUNTRIES is COUNTRIES
    assert {"CN", "HK", "XK"} <= COUNTRIES and not {"UK", "ZZ", "XX"} & COUNTRIES
    # mediation accepts exactly these, and ZZ (the explicit unknown)
    assert _validate._country_set().equals(pa.array(sorted({*COUNTRIES, "ZZ"}), type=pa.string()))
