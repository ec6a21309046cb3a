"""The home records a fingerprint of the key its pseudonyms, keyed ids and tokens derive from (a keyed hash of a fixed
label, never the key), and refuses another key (``secret_key_mismatch``) instead of changing every pseudonym silently:
a home restored with another ``secret.key``, one whose ``secret.key`` is gone, one run with another
``FAIRTEL_SECRET_KEY``. ``fairtel privacy adopt-key`` keys it by the new key on purpose; ``fairtel backup --verify``
says when the key a restore would use is not the backup's."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.errors import FairtelError
from fairtel.core.settings import SECRET_FILE, load_settings
from fairtel.privacy import Pseudonymizer

runner = CliRunner()
LINE = "8613800138000"
KEY = "the-vault-key-0123456789abcdef"
KEY_FINGERPRINT_FILE = "secret.key.fingerprint"


def _refused(home: Path) -> FairtelError:
    """The refusal of bootstrapping ``home`` (its code ``secret_key_mismatch``)."""
    with pytest.raises(FairtelError) as caught:
        _made(home)
    assert caught.value.code == "secret_key_mismatch", caught.value
    return caught.value


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("FAIRTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no fairtel.toml of the working directory


def _pseudonym(home: Path) -> str:
    with bootstrap(load_settings(home=home)) as fapp:
        return Pseudonymizer(fapp.settings.secret_key.get_secret_value())(LINE)


def _made(home: Path) -> str:
    """A home that has run a command keying pseudonyms: its key made, its database there."""
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin():
        return fapp.settings.secret_key.get_secret_value()


def _cli(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, [*args, "--json"])
    text = res.stdout.strip()
    return res.exit_code, json.loads(text) if text.startswith("{") else {"output": res.output}


def test_the_fingerprint_is_recorded_when_the_key_is_made_and_holds_no_key(tmp_path: Path) -> None:
    from fairtel.privacy import key_fingerprint

    home = tmp_path / "home"
    settings = load_settings(home=home)
    fapp = bootstrap(settings)
    assert not (home / SECRET_FILE).exists() and not (home / KEY_FINGERPRINT_FILE).exists()  # made on first use
    key = fapp.settings.secret_key.get_secret_value()
    recorded = (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8").strip()
    assert recorded == key_fingerprint(key) and key not in recorded
    assert (home / KEY_FINGERPRINT_FILE).stat().st_mode & 0o777 == 0o600
    assert key_fingerprint(key) != key_fingerprint(key + "x")


def test_another_secret_key_is_refused_until_adopted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made(home)
    before = _pseudonym(home)
    (home / SECRET_FILE).write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")  # a valid key, not the home's

    message = _refused(home).message
    assert str((home / SECRET_FILE).absolute()) in message and str(home / KEY_FINGERPRINT_FILE) in message
    assert "fairtel privacy adopt-key" in message and "backup" in message

    # a command that keys pseudonyms refuses too, with the code, and changes nothing
    code, out = _cli("privacy", "erase", LINE, "--plan", "--home", str(home))
    assert code != 0 and out["error"]["code"] == "secret_key_mismatch", out

    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0, out
    assert out["changed"] is True and out["fingerprint"] != out["fingerprint_before"]
    after = _pseudonym(home)  # runs again, keyed by the new key: the pseudonyms changed, as adopting accepts
    assert after != before
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0 and out["changed"] is False, out


def test_a_home_whose_key_file_is_gone_is_refused_not_given_a_new_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made(home)
    (home / SECRET_FILE).unlink()
    assert f"is missing: there is no {(home / SECRET_FILE).absolute()}" in _refused(home).message
    assert not (home / SECRET_FILE).exists()  # no random key made in its place
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0, out
    assert (home / SECRET_FILE).is_file()
    _pseudonym(home)


def test_a_home_from_before_fingerprints_gets_one_silently(tmp_path: Path) -> None:
    from fairtel.privacy import key_fingerprint

    home = tmp_path / "home"
    key = _made(home)
    (home / KEY_FINGERPRINT_FILE).unlink()
    _pseudonym(home)
    assert (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8").strip() == key_fingerprint(key)


def test_another_configured_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    _made(home)
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", "another-vault-key-0123456789")
    assert "FAIRTEL_SECRET_KEY" in _refused(home).message
    monkeypatch.delenv("FAIRTEL_SECRET_KEY")  # the home's own key, made now, is not the one either
    _refused(home)


def test_backup_verify_reports_a_key_that_is_not_the_backups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, dest = tmp_path / "home", tmp_path / "backup"
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)  # the key lives in a vault, not in the home nor its backup
    _made(home)
    code, out = _cli("backup", str(dest), "--home", str(home))
    assert code == 0, out
    code, out = _cli("backup", "--verify", str(dest))
    assert code == 0 and out["ok"] and out["key"]["matches"] is True, out

    monkeypatch.setenv("FAIRTEL_SECRET_KEY", "another-vault-key-0123456789")
    code, out = _cli("backup", "--verify", str(dest))
    assert code == 2, out
    assert out["ok"] is False and out["key"]["matches"] is False and not out["changed"], out
    assert out["key"]["key"] == "FAIRTEL_SECRET_KEY"
    res = runner.invoke(app, ["backup", "--verify", str(dest)])
    assert res.exit_code == 2 and "key mismatch" in res.output


def test_backup_verify_reports_a_home_key_put_back_wrong(tmp_path: Path) -> None:
    home, dest = tmp_path / "home", tmp_path / "backup"
    _made(home)
    code, out = _cli("backup", str(dest), "--home", str(home))
    assert code == 0, out
    code, out = _cli("backup", "--verify", str(dest))
    assert code == 0 and out["key"]["matches"] is True, out
    (dest / SECRET_FILE).write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    code, out = _cli("backup", "--verify", str(dest))
    assert code == 2 and out["key"]["matches"] is False, out
    assert out["key"]["key"] == str(dest.resolve() / SECRET_FILE)


def test_an_empty_fingerprint_file_records_the_key_silently(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made(home)
    before = _pseudonym(home)
    (home / KEY_FINGERPRINT_FILE).write_text("", encoding="utf-8")  # a copy cut short
    assert _pseudonym(home) == before
    assert (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8").startswith("hmac-sha256:")
