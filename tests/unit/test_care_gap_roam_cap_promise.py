"""The assistant says what a subscriber's own roaming cap does, and only that: charge assurance reads the cap
(`assure`, and `watch --rate` as it rates) and texts at 80 % and 100 % of it, and refunds roaming charges past it
(docs/assurance.md, "A subscriber's own roaming cap"); removing the cap stops both. In zh and in en."""

from __future__ import annotations

from fairtel.care._answers import say


def test_the_own_cap_answers_say_what_the_cap_does() -> None:
    zh = [say(k, "zh", cap="200.00元") for k in ("roam_cap", "cap_confirm")]
    en = [say(k, "en", cap="200.00 CNY") for k in ("roam_cap", "cap_confirm")]
    assert all("200.00" in t for t in zh + en)
    assert all("80%" in t and "100%" in t and "短信提醒您" in t and "退还" in t for t in zh)
    assert all("80 %" in t and "100 %" in t and "text you" in t and "refunded" in t for t in en)
    assert not any("仅作记录" in t for t in zh)  # it was said to be kept for the record only
    removed_zh, removed_en = say("cap_remove_confirm", "zh"), say("cap_remove_confirm", "en")
    assert "不再" in removed_zh and "退还" in removed_zh
    assert "no longer" in removed_en and "refunded" in removed_en
