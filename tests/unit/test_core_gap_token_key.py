"""``FAIRTEL_TOKEN_KEY`` signs the access tokens apart from ``FAIRTEL_SECRET_KEY``, which keys the pseudonyms: set,
tokens are signed by it; unset (or empty), by the secret as before; a short key or the public example is refused,
naming the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fairtel.api import NotAuthenticatedError
from fairtel.api._access import Pseudonyms
from fairtel.api._security import Principal, TokenSigner
from fairtel.core.errors import ConfigError
from fairtel.core.settings import DEFAULT_SECRET, load_settings
from fairtel.privacy import Role

SECRET = "the-pseudonym-secret-0123456789abcdef"
ALICE = Principal("alice", Role.SUBSCRIBER, "8613800138000")


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("FAIRTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", SECRET)


def test_tokens_are_signed_by_the_token_key_and_pseudonyms_by_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_settings(home=tmp_path / "h")
    monkeypatch.setenv("FAIRTEL_TOKEN_KEY", "a-token-key-of-its-own-0123456789")
    after = load_settings(home=tmp_path / "h")
    assert before.token_signing_key() == SECRET and after.token_signing_key() == "a-token-key-of-its-own-0123456789"
    old = TokenSigner(before.token_signing_key()).issue(ALICE)
    with pytest.raises(NotAuthenticatedError):
        TokenSigner(after.token_signing_key()).verify(old)
    assert TokenSigner(after.token_signing_key()).verify(TokenSigner(after.token_signing_key()).issue(ALICE)).username == "alice"
    # the pseudonyms stay as they were: a search of the audit by number finds the rows written before
    assert (Pseudonyms(before.secret_key.get_secret_value()).msisdn("8613800138000")
            == Pseudonyms(after.secret_key.get_secret_value()).msisdn("8613800138000"))
    assert "a-token-key" not in repr(after) and "a-token-key" not in str(after.model_dump())


def test_an_empty_token_key_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_TOKEN_KEY", "  ")
    settings = load_settings(home=tmp_path / "h")
    assert settings.token_key is None and settings.token_signing_key() == SECRET


@pytest.mark.parametrize("given", ["short-key", DEFAULT_SECRET])
def test_a_weak_token_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("FAIRTEL_TOKEN_KEY", given)
    with pytest.raises(ConfigError, match="FAIRTEL_TOKEN_KEY"):
        load_settings(home=tmp_path / "h")
