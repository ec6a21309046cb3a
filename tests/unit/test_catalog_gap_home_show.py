"""`fairtel catalog show` without a FILE shows the catalog the home in use holds (``--home``, ``FAIRTEL_HOME``),
the one every other command defaults to; the demo operator's only where no home, or no stored catalog, is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.store import store_catalog

runner = CliRunner()
OPERATOR = '{ zh = "示范电信", en = "Demo Telecom" }'


def _home(tmp_path: Path, *, stored: bool = True) -> Path:
    home = tmp_path / "home"
    text = default_catalog_path().read_text(encoding="utf-8")
    assert OPERATOR in text and "basic-39" in text
    text = text.replace(OPERATOR, '{ zh = "样例电信", en = "Example Telecom" }').replace("basic-39", "starter-29")
    with bootstrap(load_settings(home=home)) as application, application.db.begin() as conn:
        if stored:
            store_catalog(conn, text)
    return home


def test_show_in_a_loaded_home_shows_the_homes_catalog(tmp_path: Path) -> None:
    home = _home(tmp_path)
    out = runner.invoke(app, ["catalog", "show", "--home", str(home)])
    assert out.exit_code == 0, out.output
    assert "Example Telecom" in out.stdout and "starter-29" in out.stdout
    assert "Demo Telecom" not in out.stdout and "basic-39" not in out.stdout
    data = json.loads(runner.invoke(app, ["catalog", "show", "--home", str(home), "--plan", "starter-29", "--json"]).stdout)
    assert data["file"] is None and data["home"] == str(home) and isinstance(data["catalog_version_id"], int)
    assert [p["plan_id"] for p in data["plans"]] == ["starter-29"]


def test_the_home_comes_from_the_environment_as_for_every_command(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_HOME", str(_home(tmp_path)))
    out = runner.invoke(app, ["catalog", "show", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["operator"] == "demo" and "starter-29" in out.stdout


def test_a_file_named_wins_over_the_home(tmp_path: Path) -> None:
    home = _home(tmp_path)
    data = json.loads(runner.invoke(app, ["catalog", "show", str(default_catalog_path()), "--home", str(home),
                                          "--json"]).stdout)
    assert data["file"] == str(default_catalog_path()) and "basic-39" in [p["plan_id"] for p in data["plans"]]


def test_a_home_without_a_stored_catalog_shows_the_demo_and_says_so(tmp_path: Path) -> None:
    home = _home(tmp_path, stored=False)
    out = runner.invoke(app, ["catalog", "show", "--home", str(home)])
    assert out.exit_code == 0, out.output
    assert "Demo Telecom" in out.stdout and "no catalog loaded in the home" in out.stderr


def test_no_home_shows_the_demo_and_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    out = runner.invoke(app, ["catalog", "show", "--home", str(missing), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["file"] == str(default_catalog_path())
    assert not missing.exists()
