"""A database URL an operator types wrong is refused as a setting, naming it, never with the password; the libpq
forms of a PostgreSQL URL open with the installed driver."""

from __future__ import annotations

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings


@pytest.mark.parametrize("given", ["postgres://u:pw@db.example/billing", "postgresql://u:pw@db.example/billing",
                                   "postgresql+psycopg://u:pw@db.example/billing"])
def test_libpq_forms_open_with_psycopg(given: str, tmp_path) -> None:
    settings = load_settings(home=tmp_path, database_url=given)
    assert settings.db_url == "postgresql+psycopg://u:pw@db.example/billing"


def test_sqlite_and_unset_are_kept(tmp_path) -> None:
    assert load_settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db").db_url == f"sqlite:///{tmp_path}/x.db"
    assert load_settings(home=tmp_path).db_url.startswith("sqlite:///")


@pytest.mark.parametrize(("given", "says"), [
    ("garbage", "is not a database URL"),
    ("mysql://root:s3cret@db/billing", "mysql:// databases are not supported"),
    ("oracle://scott:s3cret@db/orcl", "oracle:// databases are not supported"),
])
def test_a_wrong_url_names_the_setting_and_hides_the_password(given: str, says: str, tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path, database_url=given)
    text = str(caught.value)
    assert "database_url" in text and says in text
    assert "s3cret" not in text and "input_value" not in text


def test_a_wrong_url_in_the_environment_names_the_variable(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_DATABASE_URL", "mysql://root:s3cret@db/billing")
    with pytest.raises(ConfigError) as caught:
        load_settings(home=tmp_path)
    text = str(caught.value)
    assert "FAIRTEL_DATABASE_URL" in text and "mysql:// databases are not supported" in text and "s3cret" not in text
