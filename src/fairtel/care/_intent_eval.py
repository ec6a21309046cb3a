"""Measuring an intent model on labelled messages: accuracy, macro F1, out-of-scope figures, latency."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from fairtel.care._intent_data import Example
from fairtel.care._intent_model import IntentModel
from fairtel.care._intent_text import detect_language


@dataclass(frozen=True, slots=True)
class IntentReport:
    examples: int
    accuracy: float
    macro_f1: float
    p50_ms: float
    p95_ms: float
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    oos_precision: float | None = None
    per_language: dict[str, dict[str, float | int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _latency_ms(model: IntentModel, texts: Sequence[str], *, oos_label: str | None, sample: int) -> tuple[float, float]:
    if not texts:
        return 0.0, 0.0
    step = max(1, len(texts) // sample)
    chosen = list(texts[::step])[:sample]
    model.predict(chosen[:5], oos_label=oos_label)  # warm-up: jieba's dictionary, first allocations
    times = []
    for t in chosen:
        t0 = time.perf_counter()
        model.predict_one(t, oos_label=oos_label)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def evaluate_intents(
    model: IntentModel,
    examples: Sequence[Example],
    *,
    oos_label: str | None = None,
    latency_sample: int = 500,
) -> IntentReport:
    """Score ``model`` on ``examples``. With ``oos_label`` (or a model trained with one) also the in-scope
    accuracy (share of in-scope messages given their right label) and out-of-scope recall and precision.
    Latency is per single message (one call per message), on up to ``latency_sample`` messages."""
    oos = model.oos_label or oos_label
    texts = [e.text for e in examples]
    truth = np.array([e.label for e in examples], dtype=object)
    predicted = np.array([p.label for p in model.predict(texts, oos_label=oos)], dtype=object)
    correct = predicted == truth
    labels = sorted(set(truth.tolist()))
    macro_f1 = float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))
    p50, p95 = _latency_ms(model, texts, oos_label=oos, sample=latency_sample)
    by_lang: dict[str, list[bool]] = defaultdict(list)
    for text, ok in zip(texts, correct, strict=True):
        by_lang[str(detect_language(text))].append(bool(ok))
    per_language: dict[str, dict[str, float | int]] = {
        lang: {"examples": len(v), "accuracy": round(sum(v) / len(v), 4)} for lang, v in sorted(by_lang.items())
    }
    extra: dict[str, float | None] = {}
    if oos is not None:
        is_oos = truth == oos
        said_oos = predicted == oos
        extra["in_scope_accuracy"] = round(float(correct[~is_oos].mean()), 4) if (~is_oos).any() else None
        extra["oos_recall"] = round(float(said_oos[is_oos].mean()), 4) if is_oos.any() else None
        extra["oos_precision"] = round(float(is_oos[said_oos].mean()), 4) if said_oos.any() else None
    return IntentReport(
        examples=len(examples),
        accuracy=round(float(correct.mean()), 4),
        macro_f1=round(macro_f1, 4),
        p50_ms=round(p50, 3),
        p95_ms=round(p95, 3),
        per_language=per_language,
        **extra,
    )
