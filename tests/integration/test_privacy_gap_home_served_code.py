"""A command refused because a server holds the home (``HOME/serving.lock``: ``fairtel privacy adopt-key``) was
refused with the generic ``conflict``, the code of any state conflict, so a script could not tell "stop the server
first" from anything else. It has its own code now, ``home_served``, with its words in English and in Chinese,
naming what to stop (``fairtel serve``) and the lock it holds."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_privacy_gap_secret_key_fingerprint import (  # _clean: the autouse fixture, no FAIRTEL_ variable in a test
    KEY,
    KEY_FINGERPRINT_FILE,
    _clean,  # noqa: F401
    _cli,
    _made,
)

from fairtel.cli._serve import SERVING_MARK, serving_home, unserved
from fairtel.core.errors import ConflictError

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_adopt_key_under_a_server_is_refused_as_home_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _made(home)
    before = (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8")
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    with serving_home(home):  # a server of the home runs
        code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 2, out
    error = out["error"]
    assert error["code"] == "home_served", error
    held = str((home / SERVING_MARK).absolute())
    assert error["details"]["held"] == held and error["details"]["stop"] == "fairtel serve", error
    assert error["details"]["command"] == "fairtel privacy adopt-key", error
    message = error["message"]
    assert "stop every server of the home first" in message and held in message, message
    assert HAN.search(message) and "fairtel serve" in message.split(" / ", 1)[1], message  # and in Chinese
    assert (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8") == before  # nothing adopted
    code, out = _cli("privacy", "adopt-key", "--home", str(home))  # the server stopped: it runs
    assert code == 0 and out["changed"] is True, out


def test_the_refusal_is_still_a_conflict_and_the_api_has_its_words(tmp_path: Path) -> None:
    from fairtel.api._error_words import CHINESE, MESSAGES, message_in
    from fairtel.cli._serve import HomeServedError

    home = tmp_path / "home"
    home.mkdir()
    with serving_home(home), pytest.raises(HomeServedError) as caught, unserved(home, what="a test"):
        pass
    assert isinstance(caught.value, ConflictError) and caught.value.code == "home_served"  # caught as a conflict still
    en, zh = MESSAGES["home_served"]
    assert "fairtel serve" in en and not HAN.search(en)
    assert "fairtel serve" in zh and HAN.search(zh)
    assert message_in(CHINESE, "home_served", caught.value.message) == zh
