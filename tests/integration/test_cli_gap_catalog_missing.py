"""A home with no catalog loaded (``fairtel load`` of a directory without catalog.toml): outside development,
rating, billing and quoting refuse with ``catalog_missing`` naming how to load one, where they priced usage with
the bundled demo catalog without a word (``watch --rate`` in production: every file priced at the demo's prices,
exit 0); in development the demo catalog stands in, said on stderr. ``load`` without a catalog says what rating
will do until one is loaded. ``load``'s progress counts the files it imports, no more, no fewer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_cli import fixtures, lake_rows

from fairtel.catalog import default_catalog_path
from fairtel.cli import _home
from fairtel.cli import app as cli
from fairtel.cli._load import load_directory
from fairtel.core.settings import load_settings

runner = CliRunner()
KEY = "test-secret-key-0123456789abcdef"
SUBSCRIBERS = ("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
               "8613800138000,c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n")


def _run(home: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, Any, str]:
    result = runner.invoke(cli, ["--home", str(home), *args], env=env, input=stdin)
    out = result.stdout.strip()
    return result.exit_code, (json.loads(out) if out.startswith(("{", "[")) else out), result.stderr


def _operator(root: Path, *, catalog: bool) -> Path:
    root.mkdir(parents=True)
    (root / "subscribers.csv").write_text(SUBSCRIBERS, encoding="utf-8")
    if catalog:
        (root / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _warn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's process-wide 'warned once' starts empty."""
    monkeypatch.setattr(_home, "_warned", set(), raising=False)


TEST_ENV = {"FAIRTEL_ENVIRONMENT": "test", "FAIRTEL_SECRET_KEY": KEY}
PRODUCTION = {"FAIRTEL_ENVIRONMENT": "production", "FAIRTEL_SECRET_KEY": KEY}


def test_watch_rate_in_production_refuses_before_taking_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, _ = _run(home, "load", str(_operator(tmp_path / "op", catalog=False)), "--json", env=PRODUCTION)
    assert code == 0 and out["catalog"]["status"] == "missing", out
    inbox = tmp_path / "inbox"
    files = fixtures(inbox)
    code, out, _ = _run(home, "watch", str(inbox), "--once", "--rate", "--json", env=PRODUCTION)
    assert code == 2 and out["error"]["code"] == "catalog_missing", out
    message = out["error"]["message"]
    assert "no catalog loaded in the home" in message and "fairtel load DIR" in message and "catalog.toml" in message
    assert "production" in message
    assert lake_rows(home) == [] and all(f.exists() for f in files)  # nothing taken: the files wait in the inbox


@pytest.mark.parametrize("command", [["rate", "--period", "2026-11"], ["bill", "--period", "2026-11"],
                                     ["rerate", "--period", "2026-11"]])
def test_rate_bill_and_rerate_refuse_outside_development(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    _run(home, "ingest", *map(str, fixtures(tmp_path / "in")), "--json", env=TEST_ENV)
    code, out, _ = _run(home, *command, "--json", env=TEST_ENV)
    assert code == 2 and out["error"]["code"] == "catalog_missing", out
    assert out["error"]["details"]["environment"] == "test"


def test_quote_refuses_outside_development_with_or_without_a_home(tmp_path: Path) -> None:
    record = json.dumps({"record_id": "q1", "msisdn": "8613800138000", "kind": "sms", "direction": "out",
                         "started_at": "2026-11-02T10:00:00+08:00", "peer": "10086"})
    code, out, _ = _run(tmp_path / "none", "quote", env=TEST_ENV, stdin=record)  # no home at all
    assert code == 2 and out["error"]["code"] == "catalog_missing", out
    home = tmp_path / "home"
    _run(home, "load", str(_operator(tmp_path / "op", catalog=False)), "--json", env=TEST_ENV)
    code, out, _ = _run(home, "quote", env=TEST_ENV, stdin=record)
    assert code == 2 and out["error"]["code"] == "catalog_missing", out
    code, out, _ = _run(home, "quote", "--catalog", str(default_catalog_path()), env=TEST_ENV, stdin=record)
    assert code == 0 and out[0]["amount"], out  # a catalog given: quoted


def test_development_falls_back_on_the_demo_catalog_and_says_so_on_stderr(tmp_path: Path) -> None:
    home = tmp_path / "home"
    inbox = tmp_path / "inbox"
    fixtures(inbox)
    code, out, err = _run(home, "watch", str(inbox), "--once", "--rate")
    assert code == 0 and "rated: 3 file(s)" in out, out  # the demo: rated with the demo catalog
    said = " ".join(err.split())
    assert "WARNING: no catalog loaded in the home" in said and str(default_catalog_path()) in said, err
    assert "fairtel load DIR" in said
    assert said.count("WARNING: no catalog loaded") == 1  # once, not at every pass
    # with --json stderr carries progress alone: the document says it (rate's notes)
    code, out, err = _run(home, "rate", "--period", "2026-11", "--json")
    assert code == 0 and any("no catalog loaded" in n for n in out["notes"]), out
    assert "WARNING" not in err


def test_load_without_a_catalog_says_what_rating_will_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = _run(home, "load", str(_operator(tmp_path / "op", catalog=False)), env=TEST_ENV)
    assert code == 0, err  # the subscribers were imported
    said = " ".join(err.split())
    assert "WARNING: no catalog.toml in the directory and no catalog loaded in this home" in said, err
    assert "rating and billing refuse (catalog_missing) in the test environment" in said
    code, out, _ = _run(home, "load", str(_operator(tmp_path / "op2", catalog=False)), "--json",
                        env={"FAIRTEL_SECRET_KEY": KEY})  # development (the home's key as before)
    assert "bundled demo catalog" in out["catalog"]["note"] and out["catalog"]["current_version_id"] is None
    # a home with a catalog keeps it
    _run(home, "load", str(_operator(tmp_path / "op3", catalog=True)), "--json", env={"FAIRTEL_SECRET_KEY": KEY})
    code, out, _ = _run(home, "load", str(_operator(tmp_path / "op4", catalog=False)), "--json", env=TEST_ENV)
    assert code == 0 and out["catalog"]["current_version_id"] == 1, out
    assert "stays in use" in out["catalog"]["note"]


class Steps:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []
        self.names: list[str] = []

    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None:
        self.calls.append((name, total))

    def note(self, message: str) -> None:
        self.names.append(message)


def test_load_progress_counts_each_file_it_imports(tmp_path: Path) -> None:
    from fairtel.bootstrap import bootstrap

    op = _operator(tmp_path / "op", catalog=True)
    (op / "consent").mkdir()
    (op / "consent" / "events.jsonl").write_text("", encoding="utf-8")
    for name in ("complaints.jsonl", "surveys.jsonl", "loyalty.jsonl"):
        (op / name).write_text("{}\n", encoding="utf-8")  # refused or not, each is a step
    with bootstrap(load_settings(home=tmp_path / "home")) as fapp:
        steps = Steps()
        load_directory(fapp, op, report=steps, usage=False)  # type: ignore[arg-type]
        assert [t for _, t in steps.calls] == [6] * 6, steps.calls
        assert steps.names == ["catalog: stored", "subscribers", "consent events.jsonl", "complaints", "surveys",
                               "loyalty"], steps.names
        only = tmp_path / "catalog-only"
        only.mkdir()
        (only / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
        steps = Steps()
        load_directory(fapp, only, report=steps, usage=False)  # type: ignore[arg-type]
        assert steps.calls == [("load", 1)] and steps.names == ["catalog: unchanged"], (steps.calls, steps.names)
