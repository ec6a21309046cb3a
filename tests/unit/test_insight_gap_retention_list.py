"""The retention list the console and the API show is the one `fairtel churn warn` ranks: by expected value
(probability × monthly revenue), with the same figures and reasons, numbers pseudonymised; and the latest run's
only, not every run's at once. Before, the API ranked by risk alone (a team with few calls called the likely
leavers on the cheapest plans first) and listed each subscriber once per scoring run in the lake."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer
from fastapi.testclient import TestClient
from test_churn_warning import operator
from typer.testing import CliRunner

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli._insight import register
from fairtel.core.settings import Settings, load_settings
from fairtel.insight._churn_warning import rank_retention, retention_csv, retention_from_export
from fairtel.privacy import Pseudonymizer
from fairtel.web import create_console

KEY = "test-secret-key-0123456789abcdef"
PASSWORD = "correct-horse-battery"
runner = CliRunner()


@dataclass
class Home:
    settings: Settings
    csv: pl.DataFrame  # the outbox list of the latest run, as `fairtel churn retention` reads it
    earlier: pl.DataFrame  # the list of the run before, in an earlier month


def _op_dir(d: Path, usage: pl.DataFrame, subs: pl.DataFrame) -> Path:
    (d / "usage").mkdir(parents=True)
    usage.write_parquet(d / "usage" / "part.parquet")
    subs.with_columns(pl.col("activated_at").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")).write_csv(d / "subscribers.csv")
    (d / "catalog.toml").write_bytes(default_catalog_path().read_bytes())
    return d


def _warn(d: Path, home: Path) -> pl.DataFrame:
    app = typer.Typer()
    register(app)
    # the key the API reads the home with below: one deployment, one key (another is refused, secret_key_mismatch)
    res = runner.invoke(app, ["churn", "warn", "--dir", str(d), "--home", str(home), "--json", "--top", "3"],
                        env={"FAIRTEL_SECRET_KEY": KEY})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["retention_lake"]
    return pl.read_csv(home / "outbox" / "retention.csv", infer_schema=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """Two runs of `fairtel churn warn` on the same lines: one scored in November, one in December."""
    root = tmp_path_factory.mktemp("retention")
    usage, subs, _ = operator(n=240, seed=2)
    h = root / "home"
    november = usage.filter(pl.col("started_at") < datetime(2026, 11, 24, 16, tzinfo=UTC))  # Nov 25, 00:00 in Shanghai
    earlier = _warn(_op_dir(root / "nov", november, subs), h)
    latest = _warn(_op_dir(root / "dec", usage, subs), h)
    settings = load_settings(home=h, environment="test", secret_key=KEY)
    app = bootstrap(settings)
    assert app.lake.periods("retention") == ["2026-11", "2026-12"]
    with app.db.begin() as conn:
        create_user(conn, "analyst1", PASSWORD, "analyst")
    app.close()
    yield Home(settings, latest, earlier)


def _api_list(settings: Settings, **query: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with TestClient(create_app(settings, options=ApiOptions(rate_per_second=0))) as c:
        r = c.post("/api/v1/auth/token", data={"username": "analyst1", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        cursor = None
        while True:
            page = c.get("/api/v1/retention", params={"limit": 100, **query, **({"cursor": cursor} if cursor else {})},
                         headers=headers)
            assert page.status_code == 200, page.text
            doc = page.json()
            items += doc["items"]
            cursor = doc["next_cursor"]
            if not cursor:
                return items, doc


def test_the_api_lists_the_cli_list_in_its_order_with_its_figures(home: Home) -> None:
    items, last = _api_list(home.settings)
    csv = home.csv
    assert len(items) == csv.height and last["note"] is None  # the December run's list, each line once
    pseudonyms = Pseudonymizer(KEY, domain="msisdn")
    number = {pseudonyms(m): m for m in csv["msisdn"].to_list()}
    shown = [number[i["msisdn"]] for i in items]
    assert not set(csv["msisdn"].to_list()) & {i["msisdn"] for i in items}  # pseudonyms, never the numbers
    rows = csv.to_dicts()
    # the same figures in the same order, each subscriber once, at the same place up to rows equal in both
    # figures: those the CLI orders by number, the API by pseudonym (the number order would show through)
    assert [(r["expected_value"], float(r["probability"])) for r in rows] == \
        [(i["expected_value"], i["risk"]) for i in items]
    assert len(set(shown)) == len(shown) and shown[:10] == csv["msisdn"].head(10).to_list()
    figures = {r["msisdn"]: (r["expected_value"], r["probability"]) for r in rows}
    tied: dict[tuple[str, str], list[str]] = {}
    for m in shown:
        tied.setdefault(figures[m], []).append(m)
    assert any(len(ms) > 1 for ms in tied.values())  # this list has such rows
    for k, ms in tied.items():
        assert {m for m in csv["msisdn"].to_list() if figures[m] == k} == set(ms)
        assert [pseudonyms.digest(m) for m in ms] == sorted(pseudonyms.digest(m) for m in ms)
    assert [i["rank"] for i in items] == list(range(1, csv.height + 1))
    by_number = {r["msisdn"]: r for r in rows}
    for i, m in zip(items, shown, strict=True):
        r = by_number[m]
        assert (i["monthly_revenue"], i["currency"], i["plan_id"]) == (r["monthly_revenue"], r["currency"], r["plan_id"])
        assert i["flagged"] == (r["flagged"] == "true")
        assert i["reasons"] == [r[f"reason_{k}_en"] for k in (1, 2, 3) if r[f"reason_{k}_en"]]
        assert i["reasons_zh"] == [r[f"reason_{k}_zh"] for k in (1, 2, 3) if r[f"reason_{k}_zh"]]
    # the likeliest leaver (on a cheap plan here) is not whom the team calls first
    riskiest = max(rows, key=lambda r: float(r["probability"]))
    assert shown[0] != riskiest["msisdn"] and shown.index(riskiest["msisdn"]) > 10


def test_a_risk_floor_keeps_the_ranks_of_the_whole_list(home: Home) -> None:
    items, _ = _api_list(home.settings, min_risk=0.5)
    full = {r["rank"]: r for r in _api_list(home.settings)[0]}
    assert items and all(i["risk"] >= 0.5 for i in items)
    assert all(full[i["rank"]] == i for i in items)
    assert [i["rank"] for i in items] != list(range(1, len(items) + 1))  # lower risks above them left out


def test_the_console_shows_the_ranked_list_with_expected_values(home: Home) -> None:
    top = home.csv.head(3).to_dicts()
    with TestClient(create_console(home.settings, options=ApiOptions(rate_per_second=0))) as c:
        r = c.post("/login", data={"username": "analyst1", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303, r.text
        for lang, heading, reason in (("en", "Expected value", "reason_1_en"), ("zh", "预期价值", "reason_1_zh")):
            c.get(f"/lang/{lang}?next=/retention")
            html = c.get("/retention").text
            assert heading in html
            cells = re.findall(r'<td class="num expected-value">([^<]*)</td>', html)
            unit = "元" if lang == "zh" else None  # the zh page says 元 for CNY
            assert cells[:3] == [f"{t['expected_value']} {unit or t['currency']}" for t in top]
            assert re.findall(r'<td class="num rank">(\d+)</td>', html)[:3] == ["1", "2", "3"]
            assert top[0][reason] in html
            assert not any(m in html for m in home.csv["msisdn"].to_list())


def test_an_exported_list_read_back_ranks_as_it_was_made(home: Home) -> None:
    """The order rests on the figures the list shows: read back from its own export, it is the same list."""
    for csv in (home.csv, home.earlier):
        again = rank_retention(retention_from_export(csv))
        assert again["msisdn"].to_list() == csv["msisdn"].to_list()
        assert retention_csv(again).select(pl.all().cast(pl.String)).equals(csv.select(pl.all().cast(pl.String)))


def test_the_dashboard_counts_each_line_of_the_latest_run_once(home: Home) -> None:
    with TestClient(create_app(home.settings, options=ApiOptions(rate_per_second=0))) as c:
        r = c.post("/api/v1/auth/token", data={"username": "analyst1", "password": PASSWORD})
        kpis = c.get("/api/v1/kpis", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert kpis.status_code == 200, kpis.text
    points = kpis.json()["churn_risk"]["points"]
    assert sum(p["value"] for p in points) == home.csv.height
    by_tenth = [sum(1 for v in home.csv["probability"].cast(pl.Float64).to_list() if min(int(v * 10), 9) == b) for b in range(10)]
    assert [p["value"] for p in points] == by_tenth
