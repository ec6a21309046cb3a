"""Problems printed as text keep their ``[field]``: docs/assurance.md and the consent command promise each bad
line "with its file, line and field", and the field is written in square brackets, which console markup
would swallow."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()


def test_consent_check_names_the_field_of_each_bad_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"event": "ordered", "subscription_id": "s1", "msisdn": "8613800000001",
                                  "offer_id": "vas-music-10", "at": "2026-03-01T10:00:00", "channel": "sms"}) + "\n",
                      encoding="utf-8")
    out = runner.invoke(app, ["consent", "check", str(events)])
    assert out.exit_code == 1, out.output
    assert "events.jsonl:1 [at]:" in out.output, out.output


def test_catalog_validate_help_shows_the_code_in_brackets() -> None:
    out = runner.invoke(app, ["catalog", "validate", "--help"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.replace("│", " ").split())
    assert "FILE:LINE: FIELD: message [code]" in text, text
