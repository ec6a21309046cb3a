"""A statement words an adjustment's amounts in yuan in Chinese (``0.00 → 9.50 元``), as `fairtel explain` and the
assistant do: it wrote "CNY" in the Chinese text ("重新计费：话单 u1 国内主叫 0.00 → 9.50 CNY")."""

from __future__ import annotations

from fairtel.billing import LineKind, line_text
from fairtel.billing._model import encode_reason
from fairtel.catalog import default_catalog_path, load_catalog

CATALOG = load_catalog(default_catalog_path())
USAGE = encode_reason("rerate-usage", "CNY", period="2026-03", record="u1", old="0.00", new="9.50",
                      rule="basic-39/voice-domestic")
FEE = encode_reason("rerate-fee", "CNY", period="2026-03", plan="basic-39", old="39.00", new="35.00")


def _text(reason: str, language: str, what: str = "debit") -> str:
    return line_text(LineKind.ADJUSTMENT, rule_id=None, catalog=CATALOG, language=language, description=f"{what}: {reason}")


def test_chinese_adjustments_are_in_yuan() -> None:
    assert _text(USAGE, "zh") == "补收：2026-03 重新计费：话单 u1 国内主叫 0.00 → 9.50 元"
    assert _text(FEE, "zh", "credit").endswith("39.00 → 35.00 元")
    assert "CNY" not in _text(USAGE, "zh") + _text(FEE, "zh")
    assert _text(USAGE, "en").endswith("0.00 → 9.50 CNY")  # English keeps the code


def test_another_currency_keeps_its_code() -> None:
    usd = encode_reason("late-usage", "USD", period="2026-03", record="u2", new="1.50", rule="basic-39/voice-domestic")
    assert _text(usd, "zh").endswith("1.50 USD")
