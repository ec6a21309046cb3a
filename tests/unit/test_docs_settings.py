"""Every setting is documented: docs/operations.md names each FAIRTEL_* variable the Settings object reads."""

from __future__ import annotations

from pathlib import Path

from fairtel.core.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`FAIRTEL_{name.upper()}`" not in text]
    assert missing == []
