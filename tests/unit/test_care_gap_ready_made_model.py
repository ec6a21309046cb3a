"""The built-in intent model, ready-made: built once (``build_builtin_model``, run by ``make install``), then
returned by ``train_intents`` for exactly the same training (same training key) instead of training again, so
that a home's first chat does not train for minutes. Anything else trains as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairtel.care import BUILTIN_OOS_LABEL, builtin_examples
from fairtel.care import _intent_model as im
from fairtel.care._intent_data import Example


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.steps: list[str] = []

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        self.steps.append(name)

    def note(self, message: str) -> None:
        self.notes.append(message)


def _few() -> list[Example]:
    """A few examples of each of four intents and some out of scope: quick to train, encoders and all."""
    keep: dict[str, int] = {}
    out = []
    for e in builtin_examples("train"):
        if e.label in ("bill_inquiry", "usage_left", "complaint", BUILTIN_OOS_LABEL) and keep.get(e.label, 0) < 12:
            keep[e.label] = keep.get(e.label, 0) + 1
            out.append(e)
    return out


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pkg" / "builtin-intents.joblib"
    monkeypatch.setattr(im, "builtin_examples", lambda split="train": _few())
    monkeypatch.setattr(im, "BUILTIN_MODEL_FILE", path)
    im.build_builtin_model(path)
    return path


def test_the_same_training_returns_the_ready_made_model(built: Path) -> None:
    assert built.is_file() and built.with_name(built.name + ".key").is_file()
    assert built.stat().st_mode & 0o044 == 0o044  # readable by whoever runs fairtel from the install
    saved = im.IntentModel.load(built)
    notes = Notes()
    model = im.train_intents(_few(), oos_label=BUILTIN_OOS_LABEL, progress=notes)
    assert model.metadata["trained_at"] == saved.metadata["trained_at"]
    assert model.metadata["training_key"] == im.training_key(_few(), BUILTIN_OOS_LABEL, im.IntentConfig())
    assert any("ready-made built-in model" in n for n in notes.notes) and notes.steps == []  # nothing trained
    # kept in a home, it is the ready-made file's bytes (no pickling again), owner-only as a home's files are
    home = model.save(built.parent.parent / "home" / "intents.joblib")
    assert home.read_bytes() == built.read_bytes() and home.stat().st_mode & 0o077 == 0
    again_loaded = im.IntentModel.load(home)
    texts = [e.text for e in _few()]
    assert [p.label for p in again_loaded.predict(texts)] == [p.label for p in saved.predict(texts)]
    # and building again keeps the file that is up to date
    again = Notes()
    im.build_builtin_model(built, progress=again)
    assert any("up to date" in n for n in again.notes)
    assert im.IntentModel.load(built).metadata["trained_at"] == saved.metadata["trained_at"]


def test_any_other_training_trains(built: Path) -> None:
    saved = im.IntentModel.load(built).metadata["trained_at"]
    other = [*_few(), Example("我要查一下话费账单", "bill_inquiry")]
    for examples, oos, kwargs in (
        (other, BUILTIN_OOS_LABEL, {}),
        (_few(), None, {}),
        (_few(), BUILTIN_OOS_LABEL, {"ready_made": False}),
        (_few(), BUILTIN_OOS_LABEL, {"config": im.IntentConfig(folds=2)}),
    ):
        notes = Notes()
        model = im.train_intents(examples, oos_label=oos, progress=notes, **kwargs)  # type: ignore[arg-type]
        assert model.metadata["trained_at"] != saved and "fit" in notes.steps


def test_a_key_that_does_not_match_is_not_trusted(built: Path) -> None:
    built.with_name(built.name + ".key").write_text("0" * 64 + "\n", encoding="utf-8")
    notes = Notes()
    im.train_intents(_few(), oos_label=BUILTIN_OOS_LABEL, progress=notes)
    assert "fit" in notes.steps and not any("ready-made" in n for n in notes.notes)


def test_the_key_follows_examples_settings_and_versions() -> None:
    few, cfg = _few(), im.IntentConfig()
    key = im.training_key(few, BUILTIN_OOS_LABEL, cfg)
    assert key == im.training_key(list(few), BUILTIN_OOS_LABEL, im.IntentConfig())
    assert key != im.training_key(few[::-1], BUILTIN_OOS_LABEL, cfg)
    assert key != im.training_key(few, None, cfg)
    assert key != im.training_key(few, BUILTIN_OOS_LABEL, im.IntentConfig(c=0.5))


def test_without_the_embeddings_extra_the_key_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model with sentence embeddings is never handed out where the extra is missing (it would not load)."""
    few, cfg = _few(), im.IntentConfig()
    key = im.training_key(few, BUILTIN_OOS_LABEL, cfg)
    monkeypatch.setattr(im, "sentence_encoder_version", lambda: None)
    assert im.training_key(few, BUILTIN_OOS_LABEL, cfg) != key
