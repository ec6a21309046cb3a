"""`fairtel load DIR` into a fresh home, on SQLite and PostgreSQL: summary, idempotence, refusal of a bad catalog."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.store import ConsentEvent, connect, count_subscribers, current_catalog_text, get_subscriber, migrate

runner = CliRunner()


def _catalog_text() -> str:
    """The package's default catalog; a bare TOML file while the catalog package has not landed."""
    try:
        from fairtel.catalog import default_catalog_path, load_catalog  # noqa: F401
    except ImportError:
        return '[operator]\nname = "Demo"\ncurrency = "CNY"\n'
    path = Path(default_catalog_path())
    if not path.is_file():
        pytest.skip(f"the catalog package validates catalogs but its default catalog is missing: {path}")
    return path.read_text(encoding="utf-8")


def _mediation_available() -> bool:
    try:
        from fairtel.mediation import ingest_files  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The home's database: its SQLite file, or a private schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'fairtel.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = connect(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def operator_dir(tmp_path: Path) -> Path:
    d = tmp_path / "operator"
    (d / "consent").mkdir(parents=True)
    (d / "usage").mkdir()
    (d / "catalog.toml").write_text(_catalog_text(), encoding="utf-8")
    (d / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n"
        "8613800138001,cus-2,payg,2025-03-02T09:00:00+08:00,active,en,Beijing\n"
        "8613800138002,cus-3,basic-39,yesterday,active,zh,Beijing\n",
        encoding="utf-8",
    )
    events = [
        {"event": "ordered", "subscription_id": "sub-1", "msisdn": "8613800138000", "offer_id": "vas-music-10",
         "at": "2026-01-05T21:14:03+08:00", "channel": "sms", "evidence": "sms:1"},
        {"event": "confirmed", "subscription_id": "sub-1", "msisdn": "8613800138000", "offer_id": "vas-music-10",
         "at": "2026-01-05T21:15:40+08:00", "channel": "sms", "evidence": "sms:2"},
    ]
    (d / "consent" / "2026-01.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n{broken\n", encoding="utf-8")
    (d / "usage" / "switch-1.csv").write_text(
        "record_id,source,msisdn,kind,direction,started_at,duration_s,peer\n"
        "r1,sw1,8613800138000,voice,out,2026-01-06T10:00:00+08:00,65,8613900139000\n"
        "r2,sw1,8613800138001,voice,out,2026-01-06T11:00:00+08:00,12,8613900139001\n",
        encoding="utf-8",
    )
    return d


def load(home: Path, directory: Path, database_url: str, *extra: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["--home", str(home), "load", str(directory), "--json", *extra],
                           env={"FAIRTEL_DATABASE_URL": database_url})
    return result.exit_code, json.loads(result.stdout)


def test_load_imports_the_directory_and_is_idempotent(tmp_path: Path, operator_dir: Path, database_url: str) -> None:
    home = tmp_path / "home"
    code, first = load(home, operator_dir, database_url, "--no-usage")
    assert code == 0, first
    assert first["catalog"]["status"] == "stored"
    subs = first["subscribers"]
    assert (subs["read"], subs["accepted"], subs["rejected"]) == (3, 2, 1)
    assert [(p["line"], p["field"]) for p in subs["problems"]] == [(4, "activated_at")]
    (consent,) = first["consent"]
    assert (consent["read"], consent["accepted"], consent["rejected"]) == (3, 2, 1)
    assert [(p["line"], p["field"]) for p in consent["problems"]] == [(3, None)]

    code, second = load(home, operator_dir, database_url, "--no-usage")
    assert code == 0
    assert second["catalog"]["status"] == "unchanged"
    assert (second["subscribers"]["accepted"], second["subscribers"]["inserted"], second["subscribers"]["updated"]) == (2, 0, 0)
    assert (second["consent"][0]["accepted"], second["consent"][0]["duplicate"]) == (0, 2)

    engine = connect(database_url)
    try:
        with engine.connect() as conn:
            assert count_subscribers(conn) == 2
            assert conn.scalar(select(func.count()).select_from(ConsentEvent)) == 2
            assert current_catalog_text(conn) == (operator_dir / "catalog.toml").read_text(encoding="utf-8")
            sub = get_subscriber(conn, "8613800138001")
            assert sub is not None and sub.language == "en"
        # the register as rating reads it (plain strings straight from the driver's cursor) and as fraud
        # detection reads it (a timestamp through the database layer's types)
        from types import SimpleNamespace

        import polars as pl

        from fairtel.cli._home import home_subscribers

        home_app = SimpleNamespace(db=engine)
        plans = home_subscribers(home_app).sort("msisdn")  # type: ignore[arg-type]
        assert plans.schema == pl.Schema({"msisdn": pl.String(), "plan_id": pl.String()})
        assert plans.rows() == [("8613800138000", "basic-39"), ("8613800138001", "payg")]
        ages = home_subscribers(home_app, ("msisdn", "activated_at")).sort("msisdn")  # type: ignore[arg-type]
        assert ages["activated_at"].dt.strftime("%Y-%m-%dT%H:%M").to_list() == ["2025-03-01T01:00", "2025-03-02T01:00"]
    finally:
        engine.dispose()


def test_load_imports_complaints_and_surveys_once(tmp_path: Path, operator_dir: Path, database_url: str) -> None:
    (operator_dir / "complaints.jsonl").write_text(json.dumps(
        {"complaint_id": "cmp-1", "msisdn": "8613800138000", "at": "2026-01-07T10:00:00+08:00", "category": "vas",
         "channel": "hotline", "language": "zh", "text": "我没有订购过这个业务"}) + "\n", encoding="utf-8")
    (operator_dir / "surveys.jsonl").write_text("\n".join(json.dumps(
        {"survey_id": f"nps-{i}", "msisdn": "8613800138001", "answered_at": "2026-01-09T10:00:00+08:00", "score": score,
         "channel": "app", "comment": None}) for i, score in enumerate((9, 3))) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    code, first = load(home, operator_dir, database_url, "--no-usage")
    assert code == 0, first
    care = {Path(c["file"]).name: c for c in first["care"]}
    assert (care["complaints.jsonl"]["status"], care["complaints.jsonl"]["inserted"]) == ("imported", 1)
    assert (care["surveys.jsonl"]["status"], care["surveys.jsonl"]["inserted"]) == ("imported", 2)
    code, second = load(home, operator_dir, database_url, "--no-usage")
    assert code == 0 and all(c["inserted"] == 0 for c in second["care"])
    (operator_dir / "surveys.jsonl").write_text('{"survey_id": "nps-9", "msisdn": "8613800138001"}\n', encoding="utf-8")
    code, third = load(home, operator_dir, database_url, "--no-usage")
    bad = next(c for c in third["care"] if c["file"].endswith("surveys.jsonl"))
    assert code == 2 and bad["status"] == "failed" and "surveys.jsonl:1" in bad["message"]


def test_load_ingests_usage_or_says_it_cannot(tmp_path: Path, operator_dir: Path, database_url: str) -> None:
    code, summary = load(tmp_path / "home", operator_dir, database_url)
    if _mediation_available():
        assert code == 0, summary
        (usage,) = summary["usage"]["files"]
        assert usage["read"] == usage["accepted"] + usage["rejected"] + usage["duplicate"] == 2
    else:  # consent and subscribers are in, and the command does not pretend the usage is
        assert code == 3
        assert summary["usage"]["status"] == "not_available"
        assert summary["usage"]["pending"] == [str(operator_dir / "usage" / "switch-1.csv")]
        assert summary["subscribers"]["accepted"] == 2


def test_an_invalid_catalog_stops_the_load_before_anything_is_imported(
    tmp_path: Path, operator_dir: Path, database_url: str
) -> None:
    (operator_dir / "catalog.toml").write_text('[operator]\nname = "Demo"\n[[plans]\nid = \n', encoding="utf-8")
    home = tmp_path / "home"
    code, out = load(home, operator_dir, database_url)
    assert code == 2
    assert out["error"]["code"] in {"catalog_invalid", "input_invalid"}
    assert any("catalog.toml" in p for p in out["error"]["details"]["problems"])
    engine = migrate(connect(database_url))  # the load may stop before it even creates the tables
    try:
        with engine.connect() as conn:
            assert count_subscribers(conn) == 0
    finally:
        engine.dispose()


def test_load_refuses_a_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "load", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a directory" in result.output
