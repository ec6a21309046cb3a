"""With no secret configured, a home is keyed by its own random key, never by the public default.

Before, ``FAIRTEL_ENVIRONMENT`` defaulted to development, where ``check_secrets`` let everything through, and the
secret defaulted to ``change-me-development-only``, a value printed in the source: anyone could reverse the
pseudonyms analysts see by enumerating numbers, and forge tokens. Now a home whose operator set no secret (or an
empty one, or the public example) gets a random key on first use, kept in ``<home>/secret.key`` (0600): the same
for every run and process on that home, another for every other home. A secret that is set wins; outside
development none set is still refused; a backup carries the key, so a restored home keeps its pseudonyms; and
``fairtel serve`` on an address others can reach in development says so loudly.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.cli._backup import backup_home
from fairtel.cli._serve import exposure_warning, is_loopback
from fairtel.core.errors import ConfigError
from fairtel.core.settings import DEFAULT_SECRET, SECRET_FILE, Environment, HomeSecret, home_key, load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE = "8613800138000"


@pytest.fixture(autouse=True)
def _no_configured_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("FAIRTEL_SECRET_KEY", "FAIRTEL_ENVIRONMENT", "FAIRTEL_CONFIG", "FAIRTEL_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no fairtel.toml of the working directory


def _key(home: Path, **given: Any) -> str:
    return load_settings(home=home, **given).secret_key.get_secret_value()


def test_a_home_without_a_secret_gets_its_own_random_key_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home)
    assert settings.secret_is_home_key and not (home / SECRET_FILE).exists()  # made on first use, not before
    key = settings.secret_key.get_secret_value()
    assert key and key != DEFAULT_SECRET and len(key) >= 32
    assert (home / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert (home / SECRET_FILE).read_text(encoding="utf-8").strip() == key
    # the next run (settings read again, another process alike) reads the same key; another home has its own
    assert _key(home) == key
    assert _key(tmp_path / "other") != key
    assert load_settings(home=home) == settings  # the same home, the same settings (the server compares them)


@pytest.mark.parametrize("given", ["", "   ", DEFAULT_SECRET, f" {DEFAULT_SECRET} "])
def test_an_empty_or_public_secret_is_never_the_key_in_development(tmp_path: Path, given: str) -> None:
    settings = load_settings(home=tmp_path / "home", secret_key=given)
    settings.check_secrets()  # development accepts it ...
    assert settings.secret_is_home_key
    assert settings.secret_key.get_secret_value() not in ("", given.strip(), DEFAULT_SECRET)  # ... keyed by the home


def test_a_configured_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    assert _key(home, secret_key="from-the-vault-0123456789") == "from-the-vault-0123456789"
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", "from-the-environment-0123")
    settings = load_settings(home=home)
    assert settings.secret_key.get_secret_value() == "from-the-environment-0123" and not settings.secret_is_home_key
    assert not (home / SECRET_FILE).exists()  # no home key is made when a secret is set
    (tmp_path / "fairtel.toml").write_text('secret_key = "from-the-file-0123456789"\n', encoding="utf-8")
    monkeypatch.delenv("FAIRTEL_SECRET_KEY")
    assert _key(home) == "from-the-file-0123456789"


@pytest.mark.parametrize("environment", [Environment.PRODUCTION, Environment.TEST])
def test_outside_development_no_secret_is_still_refused(tmp_path: Path, environment: Environment) -> None:
    with pytest.raises(ConfigError, match="FAIRTEL_SECRET_KEY is not set"):
        bootstrap(load_settings(home=tmp_path / "home", environment=environment))


def test_the_home_key_keys_the_pseudonyms_commands_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{LINE},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
    result = runner.invoke(
        app,
        ["users", "add", "sub1", "--role", "subscriber", "--msisdn", LINE, "--password-stdin", "--home", str(home)],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    t = table_of(AccessAudit)
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.connect() as conn:
        recorded = conn.execute(select(t.c.subject_msisdn_pseudonym).where(t.c.action == "user.create")).scalar_one()
    key = (home / SECRET_FILE).read_text(encoding="utf-8").strip()
    assert recorded == Pseudonymizer(key, domain="msisdn")(LINE)
    assert recorded != Pseudonymizer(DEFAULT_SECRET, domain="msisdn")(LINE)  # not reversible with the public key


def test_processes_making_the_key_at_once_agree(tmp_path: Path) -> None:
    home = tmp_path / "home"
    keys: list[str] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        keys.append(home_key(home / SECRET_FILE))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(os.listdir(home)) == [SECRET_FILE]  # no temporary file left behind


def test_an_emptied_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / SECRET_FILE).write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"secret\.key"):
        _key(home)


def test_a_backup_carries_the_home_key_so_the_restored_home_keeps_its_pseudonyms(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with bootstrap(load_settings(home=home)) as fapp:
        before = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")(LINE)
        fapp.db  # noqa: B018 - the database too, as a used home has one
    dest = tmp_path / "backups" / "b1"
    result = runner.invoke(app, ["--home", str(home), "backup", str(dest), "--json"])
    assert result.exit_code == 0, result.output
    assert (dest / SECRET_FILE).read_bytes() == (home / SECRET_FILE).read_bytes()
    assert (dest / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    restored = load_settings(home=dest)
    assert isinstance(restored.secret_key, HomeSecret)
    assert Pseudonymizer(restored.secret_key.get_secret_value(), domain="msisdn")(LINE) == before
    # and through the library call as well, whatever the umask
    again = backup_home(load_settings(home=home), tmp_path / "backups" / "b2")
    assert (Path(again["backup"]) / SECRET_FILE).read_bytes() == (home / SECRET_FILE).read_bytes()


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("fairtel.example", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_serving_development_on_a_network_address_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda web, **kw: served.append(kw))
    home = tmp_path / "home"
    result = runner.invoke(app, ["--home", str(home), "serve", "--host", "0.0.0.0", "--port", "18999"])
    assert result.exit_code == 0, result.output
    assert served and served[0]["host"] == "0.0.0.0"
    said = " ".join(result.stderr.split())
    assert "WARNING: serving the development environment on 0.0.0.0" in said
    assert str(home.absolute() / SECRET_FILE) in said and "FAIRTEL_ENVIRONMENT=production" in said
    quiet = runner.invoke(app, ["--home", str(home), "serve", "--host", "127.0.0.1", "--port", "18999"])
    assert quiet.exit_code == 0, quiet.output
    assert "WARNING" not in quiet.stderr
    configured = load_settings(home=home, secret_key="from-the-vault-0123456789")
    assert exposure_warning(configured, "0.0.0.0") is not None  # still development: said, with the key set
    assert exposure_warning(load_settings(home=home, environment="production", secret_key="s" * 32), "0.0.0.0") is None
