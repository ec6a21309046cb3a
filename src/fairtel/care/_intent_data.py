"""Labelled messages for the intent engine: JSON Lines ``{"text": ..., "label": ...}``, and the built-in set.

The built-in telecom data lives in ``care/data/``: ``telecom_intents_train.jsonl`` for training and
``telecom_intents_test.jsonl``, written separately (different sentences, not paraphrases of training
lines), for measuring. Both hold Chinese and English.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fairtel.core.errors import InvalidInputError, Problem

BUILTIN_OOS_LABEL = "out_of_scope"
TELECOM_INTENTS: tuple[str, ...] = (
    "bill_inquiry",
    "charge_explain",
    "complaint",
    "fault_report",
    "greeting",
    "human_agent",
    "loyalty_points",
    "out_of_scope",
    "plan_advice",
    "roaming",
    "thanks",
    "usage_left",
    "vas_cancel",
    "vas_list",
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str


def parse_examples(lines: Iterable[str], *, source: str = "<input>") -> list[Example]:
    """Parse JSON Lines; every bad line is reported (file, line, field) in one InvalidInputError.

    ``label`` may also be spelt ``intent``; blank lines are skipped; other keys (e.g. ``lang``) are ignored.
    """
    examples: list[Example] = []
    problems: list[Problem] = []
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(source, n, None, f"not JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(source, n, None, "expected an object with text and label"))
            continue
        text = obj.get("text")
        raw_label = obj.get("label", obj.get("intent"))
        label = str(raw_label).strip() if isinstance(raw_label, str | int) and not isinstance(raw_label, bool) else ""
        good_text = isinstance(text, str) and bool(text.strip())
        if not good_text:
            problems.append(Problem(source, n, "text", "missing or empty text"))
        if not label:
            problems.append(Problem(source, n, "label", "missing or empty label"))
        if good_text and label:
            examples.append(Example(text=str(text), label=label))
    if problems:
        raise InvalidInputError(problems, what=source)
    if not examples:
        raise InvalidInputError([Problem(source, None, None, "no examples")], what=source)
    return examples


def load_examples(path: Path | str) -> list[Example]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError([Problem(str(path), None, None, "file not found")], what=str(path))
    with path.open(encoding="utf-8-sig") as fh:
        return parse_examples(fh, source=str(path))


def builtin_path(split: str) -> Path:
    """The built-in telecom set: ``split`` is ``train`` or ``test``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}")
    return Path(str(resources.files("fairtel.care") / "data" / f"telecom_intents_{split}.jsonl"))


def builtin_examples(split: str = "train") -> list[Example]:
    return load_examples(builtin_path(split))
