"""catalog: tariffs as data. See README.md in this folder.

Owns the TOML tariff format (docs/catalog.md), its typed model, validation that reports every problem with
file, line and field, the lookups rating needs (zones by longest prefix, roaming zones, time bands, rules)
and ``price_steps``, the CGRateS rate-step arithmetic; ``plan_for_subject`` (the ``[[subjects]]`` map),
``import_cgrates`` (a CGRateS CSV tariff plan → catalog TOML) and who may order a plan (``Eligibility``, read
from ``[plans.eligibility]``; advice applies it). Does not own rating usage, balances or bills.
"""

from fairtel.catalog._bands import BandWindow
from fairtel.catalog._cgrates import CgratesImport, import_cgrates
from fairtel.catalog._eligibility import SALES_CHANNELS, Eligibility, Ineligible, Refusal
from fairtel.catalog._load import default_catalog_path, load_catalog, parse_catalog, validate_catalog
from fairtel.catalog._model import (
    ALL_DAY_BAND,
    ANY_ROAMING,
    ANY_SUBJECT,
    SUSPENSION_REASONS,
    Allowance,
    Band,
    Catalog,
    Match,
    MaxCostStrategy,
    Name,
    Offer,
    OfferPeriod,
    Operator,
    Plan,
    PriceChange,
    PricingRule,
    Rate,
    RateStep,
    RoamingRuleGap,
    RoamingZone,
    RuleSet,
    SubjectPlan,
    SuspensionPolicy,
    Zone,
)
from fairtel.catalog._pricing import PriceBreakdown, StepCharge, price_breakdown, price_steps
from fairtel.catalog._problem_zh import problem_zh
from fairtel.catalog._subjects import plan_for_subject
from fairtel.catalog._units import UNIT_OF_KIND, Unit, format_quantity, parse_quantity

__all__ = [
    "ALL_DAY_BAND",
    "ANY_ROAMING",
    "ANY_SUBJECT",
    "SALES_CHANNELS",
    "SUSPENSION_REASONS",
    "UNIT_OF_KIND",
    "Allowance",
    "Band",
    "BandWindow",
    "Catalog",
    "CgratesImport",
    "Eligibility",
    "Ineligible",
    "Match",
    "MaxCostStrategy",
    "Name",
    "Offer",
    "OfferPeriod",
    "Operator",
    "Plan",
    "PriceBreakdown",
    "PriceChange",
    "PricingRule",
    "Rate",
    "RateStep",
    "Refusal",
    "RoamingRuleGap",
    "RoamingZone",
    "RuleSet",
    "StepCharge",
    "SubjectPlan",
    "SuspensionPolicy",
    "Unit",
    "Zone",
    "default_catalog_path",
    "format_quantity",
    "import_cgrates",
    "load_catalog",
    "parse_catalog",
    "parse_quantity",
    "plan_for_subject",
    "price_breakdown",
    "price_steps",
    "problem_zh",
    "validate_catalog",
]
