"""care: see README.md in this folder."""

from fairtel.care._intent_data import (
    BUILTIN_OOS_LABEL,
    TELECOM_INTENTS,
    Example,
    builtin_examples,
    builtin_path,
    load_examples,
    parse_examples,
)
from fairtel.care._intent_eval import IntentReport, evaluate_intents
from fairtel.care._intent_model import (
    IntentConfig,
    IntentModel,
    IntentModelError,
    IntentPrediction,
    train_intents,
)
from fairtel.care._intent_text import Language, detect_language, normalise, tokens
from fairtel.care._slots import (
    COUNTRY_NAMES,
    DEMO_OFFER_ALIASES,
    extract_countries,
    extract_country,
    extract_month,
    extract_msisdn,
    extract_msisdns,
    extract_offer,
)

__all__ = [
    "BUILTIN_OOS_LABEL",
    "COUNTRY_NAMES",
    "DEMO_OFFER_ALIASES",
    "TELECOM_INTENTS",
    "Example",
    "IntentConfig",
    "IntentModel",
    "IntentModelError",
    "IntentPrediction",
    "IntentReport",
    "Language",
    "builtin_examples",
    "builtin_path",
    "detect_language",
    "evaluate_intents",
    "extract_countries",
    "extract_country",
    "extract_month",
    "extract_msisdn",
    "extract_msisdns",
    "extract_offer",
    "load_examples",
    "normalise",
    "parse_examples",
    "tokens",
    "train_intents",
]
