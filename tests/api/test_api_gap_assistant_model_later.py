"""A server notices an intent model made after it started: ``POST /chat`` (and the console's assistant page) answered
503 ``assistant_unavailable`` until the server was restarted. The server now looks at ``<home>/models/intents.joblib``
again (at most every ``MODEL_CHECK_S``, a ``stat`` only) when a request needs the assistant: a model made later is
loaded once and answers from the next message; one replaced is loaded once and classifies the next messages; a file
that cannot be loaded leaves the chat as it was and is said in the log."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import PASSWORD, Seeded, auth, seed
from fastapi.testclient import TestClient

import fairtel.api._services as services_module
from fairtel.api import ApiOptions
from fairtel.care._chat import MODEL_FILE
from fairtel.care._intent_data import BUILTIN_OOS_LABEL, builtin_examples
from fairtel.care._intent_model import IntentConfig, IntentModel, train_intents
from fairtel.web import create_console

CHECK_S = 0.3  # the server's look interval in these tests (the default is a few seconds)
SMALL = IntentConfig(embed_weight=0, neighbour_weight=0, embedding_model_weight=0, sentence_encoders=(), folds=2)


def _model(*labels: str) -> IntentModel:
    """A small intent model of the built-in examples of ``labels`` (and out-of-scope): trained in seconds."""
    examples = [e for e in builtin_examples("train") if e.label in (*labels, BUILTIN_OOS_LABEL)]
    return train_intents(examples, oos_label=BUILTIN_OOS_LABEL, config=SMALL)


@pytest.fixture()
def home(tmp_path: Path) -> Iterator[Seeded]:
    s = seed(tmp_path / "home")
    assert not (s.settings.models_dir / MODEL_FILE).exists()
    yield s
    s.engine.dispose()


def _token(client: TestClient, user: str = "alice") -> str:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _after_a_look() -> None:
    time.sleep(CHECK_S + 0.1)


def test_a_model_made_after_the_server_started_is_answered_with(home: Seeded, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(services_module, "MODEL_CHECK_S", CHECK_S, raising=False)
    caplog.set_level(logging.INFO, logger="fairtel.api._services")
    web = create_console(home.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(web) as client:
        token = _token(client)
        login = client.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
        assert login.status_code == 303, login.text
        page = client.get("/my/assistant")
        assert page.status_code == 200 and 'id="assistant-na"' in page.text, page.text[:2000]
        asked = client.post("/api/v1/chat", json={"message": "查一下我的账单"}, headers=auth(token))
        assert asked.status_code == 503, asked.text
        error = asked.json()["error"]
        assert error["code"] == "assistant_unavailable" and "no trained assistant" in error["message"], error

        # the model is made while the server runs (as `fairtel assistant train` writes it: whole, then renamed)
        _model("bill_inquiry", "greeting").save(home.settings.models_dir / MODEL_FILE)
        _after_a_look()
        answered = client.post("/api/v1/chat", json={"message": "查一下我的账单"}, headers=auth(token))
        assert answered.status_code == 200, answered.text
        reply = answered.json()
        assert reply["reply"].strip() and reply["intent"] == "bill_inquiry", reply
        assert any("appeared" in r.getMessage() for r in caplog.records), caplog.text

        # the console's chat is served too (its page no longer says the assistant is not available)
        page = client.get("/my/assistant")
        assert page.status_code == 200 and 'id="assistant-message"' in page.text, page.text[:2000]
        assert 'id="assistant-na"' not in page.text


def test_a_replaced_model_classifies_the_next_messages_and_a_broken_one_is_not_taken(
    home: Seeded, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(services_module, "MODEL_CHECK_S", CHECK_S, raising=False)
    caplog.set_level(logging.INFO, logger="fairtel.api._services")
    where = home.settings.models_dir / MODEL_FILE
    _model("greeting").save(where)  # a model that knows no bill question
    web = create_console(home.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(web) as client:
        token = _token(client)
        first = client.post("/api/v1/chat", json={"message": "查一下我的账单"}, headers=auth(token))
        assert first.status_code == 200 and first.json()["intent"] != "bill_inquiry", first.text

        # a file that is no model: the model in use goes on answering, the file is said in the log once
        broken = where.with_name("broken.joblib")
        broken.write_bytes(b"not a model")
        broken.replace(where)
        _after_a_look()
        still = client.post("/api/v1/chat", json={"message": "你好"}, headers=auth(token))
        assert still.status_code == 200, still.text
        said = [r.getMessage() for r in caplog.records if "could not be loaded" in r.getMessage()]
        assert len(said) == 1 and "intent_model_invalid" in said[0], caplog.text
        _after_a_look()
        assert client.post("/api/v1/chat", json={"message": "你好"}, headers=auth(token)).status_code == 200
        assert len([r for r in caplog.records if "could not be loaded" in r.getMessage()]) == 1  # not tried again

        _model("bill_inquiry", "greeting").save(where)  # trained again, with bills
        _after_a_look()
        second = client.post("/api/v1/chat", json={"message": "查一下我的账单"}, headers=auth(token))
        assert second.status_code == 200 and second.json()["intent"] == "bill_inquiry", second.text
        assert any("replaced" in r.getMessage() for r in caplog.records), caplog.text

        where.unlink()  # removed: not available again
        _after_a_look()
        gone = client.post("/api/v1/chat", json={"message": "查一下我的账单"}, headers=auth(token))
        assert gone.status_code == 503 and gone.json()["error"]["code"] == "assistant_unavailable", gone.text


class _Loaded:
    """What a stand-in loader gives: classifies nothing, warms up at once."""

    def __call__(self, _text: str) -> None:
        return None

    def predict(self, _texts: list[str]) -> list[Any]:
        return []


def test_one_load_for_requests_at_once_and_no_look_between_checks(home: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    from fairtel.api._services import HomeAssistant

    loads: list[int] = []

    def load(*_a: Any, **_k: Any) -> _Loaded:  # as ``fairtel.care.load_intent_model``, taking a while
        loads.append(1)
        time.sleep(0.3)
        return _Loaded()

    monkeypatch.setattr("fairtel.care.load_intent_model", load)
    now = [100.0]
    looks: list[int] = []
    real_stamp = services_module._stamp

    def stamp(path: Path) -> Any:
        looks.append(1)
        return real_stamp(path)

    monkeypatch.setattr(services_module, "_stamp", stamp)
    watch = HomeAssistant(home.settings, home.app, check_s=5.0, clock=lambda: now[0])
    assert watch.load_now() is None and watch.current() is None
    looked = len(looks)
    for _ in range(1000):  # within the interval: no look at the file at all
        assert watch.current() is None
    assert len(looks) == looked

    home.settings.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__), home.settings.models_dir / MODEL_FILE)  # any file: the stand-in loads it
    now[0] += 5.0
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(watch.current())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(loads) == 1  # loaded once, whatever the requests at once
    assert len(got) == 8 and all(g is not None for g in got), got  # none answered 503 while it loaded
    now[0] += 5.0
    assert watch.current() is got[0] and len(loads) == 1  # the file unchanged: not loaded again
