"""Day-2 operations on a home keyed by a fingerprint: a home from before fingerprints run with another
``FAIRTEL_SECRET_KEY`` is refused instead of recording the wrong key, the refusal says which key to put back,
``privacy adopt-key`` never changes the key without its audit row nor keys a mistyped ``--home``, and ``backup``
runs (and verifies) on a restored home and on one whose key is refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from test_backup import watch_holding
from test_privacy_gap_secret_key_fingerprint import (  # _clean: the autouse fixture, no FAIRTEL_ variable in a test
    KEY,
    LINE,
    _clean,  # noqa: F401
    _cli,
    _made,
    _refused,
    runner,
)
from test_privacy_gap_secret_key_fingerprint import KEY_FINGERPRINT_FILE as FINGERPRINT

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.settings import SECRET_FILE, load_settings
from fairtel.privacy import Pseudonymizer, key_fingerprint

OTHER = "another-vault-key-0123456789abcdef"


def _backed_up_on_the_env_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The backup (``tmp_path / "bk"``) of a home that ran on ``FAIRTEL_SECRET_KEY``, the variable unset since."""
    home = tmp_path / "home"
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    _made(home)
    assert _cli("backup", str(tmp_path / "bk"), "--home", str(home))[0] == 0
    monkeypatch.delenv("FAIRTEL_SECRET_KEY")
    return tmp_path / "bk"


def _recorded(home: Path) -> str | None:
    path = home / FINGERPRINT
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _adopt_rows(home: Path) -> int:
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        return int(conn.execute(text("select count(*) from access_audit where action = 'home.adopt_key'")).scalar_one())


def test_a_home_from_before_fingerprints_run_with_another_env_key_is_refused_not_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    own = _made(home)
    (home / FINGERPRINT).unlink()  # a home made before fingerprints, keyed by its own secret.key

    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    message = _refused(home).message
    assert _recorded(home) is None  # nothing recorded
    assert str((home / SECRET_FILE).absolute()) in message and "FAIRTEL_SECRET_KEY" in message
    assert "unset FAIRTEL_SECRET_KEY" in message and "fairtel privacy adopt-key" in message

    monkeypatch.delenv("FAIRTEL_SECRET_KEY")  # the home's real key still runs, and is recorded now
    assert _made(home) == own and _recorded(home) == key_fingerprint(own)


def test_a_home_from_before_fingerprints_run_with_its_own_key_in_the_env_records_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    own = _made(home)
    (home / FINGERPRINT).unlink()
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", own)  # the same key, moved to the vault
    _made(home)
    assert _recorded(home) == key_fingerprint(own)


def test_adopting_the_env_key_of_a_home_from_before_fingerprints_on_purpose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _made(home)
    (home / FINGERPRINT).unlink()
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0 and out["changed"] is True, out
    assert _recorded(home) == key_fingerprint(KEY)
    _made(home)


def test_a_backup_of_a_restored_home_verifies(tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "home"
    _made(home)
    assert _cli("backup", str(tmp_path / "bk1"), "--home", str(home))[0] == 0
    shutil.copytree(tmp_path / "bk1", tmp_path / "restored")  # restored as docs/operations.md says
    shutil.rmtree(home)
    code, out = _cli("backup", str(tmp_path / "bk2"), "--home", str(tmp_path / "restored"))
    assert code == 0, out
    code, out = _cli("backup", "--verify", str(tmp_path / "bk2"))
    assert code == 0 and out["ok"] is True and not out["changed"], out


def test_adopt_key_leaves_the_fingerprint_as_it_was_when_the_database_cannot_be_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _made(home)
    (home / SECRET_FILE).unlink()  # the key lost: adopt-key would make a new one
    before = _recorded(home)
    # a database that cannot be reached
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", "postgresql+psycopg://fairtel@127.0.0.1:9/nowhere")
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code != 0, out
    assert _recorded(home) == before  # the key did not change without its audit row

    monkeypatch.delenv("FAIRTEL_DATABASE_URL")
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0 and out["changed"] is True, out
    assert _recorded(home) != before and _adopt_rows(home) == 1


def test_adopt_key_puts_the_fingerprint_back_when_the_audit_row_fails(tmp_path: Path) -> None:
    from fairtel.bootstrap import adopt_secret_key

    home = tmp_path / "home"
    _made(home)
    (home / SECRET_FILE).unlink()
    before = _recorded(home)

    def audit(*_: object) -> None:
        raise RuntimeError("the audit could not be written")

    with pytest.raises(RuntimeError):
        adopt_secret_key(load_settings(home=home), audit)
    assert _recorded(home) == before


def test_a_home_that_ran_on_the_env_key_restored_without_it_is_told_to_set_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refused(_backed_up_on_the_env_key(tmp_path, monkeypatch)).message  # restored in place (the backup is itself a home)
    assert "set the FAIRTEL_SECRET_KEY it ran with" in message, message
    assert "Restore the home's secret.key" not in message
    assert not (tmp_path / "bk" / SECRET_FILE).exists()


def test_a_home_keyed_by_its_own_file_run_with_a_wrong_env_key_is_told_to_unset_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _made(home)
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", OTHER)
    message = _refused(home).message
    assert "Unset FAIRTEL_SECRET_KEY" in message and str((home / SECRET_FILE).absolute()) in message, message
    assert "Set the FAIRTEL_SECRET_KEY the home ran with" not in message


def test_the_missing_key_message_reads_and_names_absolute_paths(tmp_path: Path) -> None:
    _made(Path("rel-home"))  # a relative --home (the working directory is tmp_path)
    (tmp_path / "rel-home" / SECRET_FILE).unlink()
    message = _refused(Path("rel-home")).message
    assert "is missing the home's" not in message
    assert f"recorded in {tmp_path / 'rel-home' / FINGERPRINT})" in message, message
    assert f"is missing: there is no {tmp_path / 'rel-home' / SECRET_FILE}" in message, message


def test_backup_runs_on_a_home_whose_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    own = _made(home)
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", OTHER)
    res = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "not recorded in its access audit" in res.stderr
    monkeypatch.delenv("FAIRTEL_SECRET_KEY")
    code, out = _cli("backup", "--verify", str(tmp_path / "bk"))
    assert code == 0 and out["ok"] is True and out["key"]["matches"] is True, out
    assert (tmp_path / "bk" / SECRET_FILE).read_text(encoding="utf-8").strip() == own


def test_backup_verify_without_a_key_says_the_key_was_not_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _backed_up_on_the_env_key(tmp_path, monkeypatch)
    res = runner.invoke(app, ["backup", "--verify", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    assert "key not checked: set FAIRTEL_SECRET_KEY to check it" in res.output
    code, out = _cli("backup", "--verify", str(tmp_path / "bk"))
    assert code == 0 and out["key_checked"] is False, out


def test_adopt_key_refuses_a_directory_that_is_not_a_home(tmp_path: Path) -> None:
    typo = tmp_path / "typo-home"
    code, out = _cli("privacy", "adopt-key", "--home", str(typo))
    assert code != 0 and out["error"]["code"] == "input_invalid", out
    assert not typo.exists()  # nothing made
    code, out = _cli("privacy", "adopt-key", "--home", str(typo), "--new-home")
    assert code == 0 and out["changed"] is True, out
    assert Pseudonymizer(_made(typo))(LINE)


def test_adopt_key_is_refused_while_a_watch_holds_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made(home)
    (home / SECRET_FILE).unlink()
    before = _recorded(home)
    with watch_holding(home, 30):
        code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code != 0 and out["error"]["code"] == "mediation_locked", out
    assert _recorded(home) == before and not (home / SECRET_FILE).exists()
    code, out = _cli("privacy", "adopt-key", "--home", str(home))
    assert code == 0 and out["changed"] is True, out
