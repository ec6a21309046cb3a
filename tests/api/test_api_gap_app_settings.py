"""``create_app(settings, app=...)``: the settings and the stores must be one home's. An app built from other
settings is refused, naming what differs (never a value: the secret is one of them), instead of the services
silently serving the app's home while the rest of the API reads the settings given."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app
from fairtel.bootstrap import bootstrap
from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings


def test_an_app_of_other_settings_is_refused_naming_what_differs(tmp_path: Path) -> None:
    given = load_settings(home=tmp_path / "given", secret_key="given-secret")
    other = bootstrap(load_settings(home=tmp_path / "other", secret_key="other-secret"))
    with pytest.raises(ConfigError, match=r"differ in home, secret_key\)") as caught:
        create_app(given, options=ApiOptions(rate_per_second=0), app=other)
    assert "given-secret" not in str(caught.value) and "other-secret" not in str(caught.value)


def test_an_app_of_equal_settings_serves_that_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    context = bootstrap(load_settings(home=home))
    api = create_app(load_settings(home=home), options=ApiOptions(rate_per_second=0), app=context)
    with TestClient(api) as client:
        assert client.get("/api/v1/health").status_code == 200
    assert api.state.services.app is context
