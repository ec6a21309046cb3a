"""rating: clean usage × catalog → rated lines. See README.md in this folder.

Owns the rating kernel (``rate``: pure, vectorised, partitioned by subscriber), the exact integer form of
rate steps (``charge_line``), the VAS gate interface, holds of usage made while a line is suspended
(``HoldReason``), explanations (``explain``) and quotes (``quote``).
Does not own the catalog format (catalog/), consent (consent/), reading or writing the lake (cli/, store/)
or bills (billing/).
"""

from fairtel.rating._explain import CapText, ExplainedLine, Explanation, StepText, explain
from fairtel.rating._lines import (
    RATED_COLUMNS,
    STATE_COLUMNS,
    UNRATED_COLUMNS,
    HoldReason,
    RatingResult,
    Unit,
    UnratedReason,
)
from fairtel.rating._quote import default_plan, quote
from fairtel.rating._rate import normalise_subscribers, normalise_usage, rate
from fairtel.rating._state import state_from_rated
from fairtel.rating._steps import CompiledRate, LineCharge, StepUse, charge_line, compile_rate
from fairtel.rating._vas import NO_GATE, VasGate, consent_gate, drop_held, no_gate, price_only_gate, register_gate

__all__ = [
    "NO_GATE",
    "RATED_COLUMNS",
    "STATE_COLUMNS",
    "UNRATED_COLUMNS",
    "CapText",
    "CompiledRate",
    "ExplainedLine",
    "Explanation",
    "HoldReason",
    "LineCharge",
    "RatingResult",
    "StepText",
    "StepUse",
    "Unit",
    "UnratedReason",
    "VasGate",
    "charge_line",
    "compile_rate",
    "consent_gate",
    "default_plan",
    "drop_held",
    "explain",
    "no_gate",
    "normalise_subscribers",
    "normalise_usage",
    "price_only_gate",
    "quote",
    "rate",
    "register_gate",
    "state_from_rated",
]
