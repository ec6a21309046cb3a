"""The assistant no longer promises text alerts at 80 % and 100 % of a subscriber's own roaming cap: nothing
reads that cap to send them (`fairtel assure --bill-shock` watches the operator's presets only), so saying so
would be a promise not kept. In zh and in en."""

from __future__ import annotations

from fairtel.care._answers import say


def test_the_own_cap_answers_promise_no_alerts() -> None:
    zh = [say(k, "zh", cap="200.00元") for k in ("roam_cap", "cap_confirm")]
    en = [say(k, "en", cap="200.00 CNY") for k in ("roam_cap", "cap_confirm")]
    assert all("200.00" in t for t in zh + en)
    assert not any("短信提醒您" in t or "80%" in t for t in zh)
    assert not any("you get a text" in t.lower() or "80 %" in t for t in en)
