"""A reply follows the language of the request: after the assistant asked "which one?" in Chinese, a message in
English that does not answer it is not told "Sorry, I didn't get that." followed by the Chinese question again."""

from __future__ import annotations

from tests.unit.test_care_gap_data_answers import _LABELS, ME, Port, _usage, classify

from fairtel.care import Assistant

_LABELS.setdefault("9月2日我打了哪些电话？", ("charge_explain", 0.99))
_LABELS.setdefault("What did the Music pack cost me?", ("charge_explain", 0.6))  # below a new question's

def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _port() -> Port:
    calls = [_usage("r-voice-1", "voice", 3, 120), _usage("r-voice-2", "voice", 5, 80)]
    return Port(monthly={"2026-09": calls})


def test_an_english_message_after_a_chinese_question_is_answered_in_english() -> None:
    a = Assistant(classify, _port())
    conv = a.start(ME)
    first = a.say(conv, "9月2日我打了哪些电话？")
    assert first.language == "zh" and first.waiting_for == "charge"  # "which one?" asked in Chinese
    second = a.say(conv, "What did the Music pack cost me?", language="en")
    assert second.language == "en"
    assert not _has_chinese(second.text), second.text


def test_an_unanswering_message_in_the_same_language_is_asked_again() -> None:
    a = Assistant(classify, _port())
    conv = a.start(ME)
    a.say(conv, "9月2日我打了哪些电话？")
    again = a.say(conv, "嗯嗯嗯")
    assert again.text.startswith("抱歉，我没听明白。") and again.waiting_for == "charge"
