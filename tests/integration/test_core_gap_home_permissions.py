"""What fairtel writes is its owner's alone, whatever the umask: the home 0700, every file in it 0600, and the
exports and backups it writes elsewhere too.

Before, nothing set a mode: under the usual umask 022 the home was 0755 and the database (password hashes,
transcripts), the lake (numbers, peers, cells, IMEIs), the rejects (raw CDR lines), the mediation ledger, a
backup and an exported statement were all readable by every local user. Now the command line runs with umask 077
(given back when the command ends, for callers running it in-process), the home is made 0700 (or tightened, once,
saying so on stderr, when an existing one is open to others) and a backup sets its modes itself.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_cli import fixtures

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app
from fairtel.cli._backup import backup_home
from fairtel.cli._billing import bill_period
from fairtel.cli._rating import rate_period
from fairtel.core.settings import load_settings, secure_home
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

runner = CliRunner()
LINE = "8613800138000"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_to_others(root: Path) -> list[str]:
    """Every directory under ``root`` (itself included) not 0700 and every file not 0600."""
    bad = [] if _mode(root) == 0o700 else [f"{root} {_mode(root):o}"]
    for here, dirs, files in os.walk(root):
        for name in dirs:
            if _mode(Path(here, name)) != 0o700:
                bad.append(f"{Path(here, name)} {_mode(Path(here, name)):o}")
        for name in files:
            if _mode(Path(here, name)) != 0o600:
                bad.append(f"{Path(here, name)} {_mode(Path(here, name)):o}")
    return bad


@pytest.fixture(autouse=True)
def loose_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The usual umask (022), which opened everything to every local user."""
    for var in ("FAIRTEL_SECRET_KEY", "FAIRTEL_ENVIRONMENT", "FAIRTEL_HOME"):
        monkeypatch.delenv(var, raising=False)
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _cli(home: Path, *args: str, stdin: str | None = None) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["--home", str(home), *args], input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else {"output": result.output}


def test_a_home_the_commands_make_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = _cli(home, "ingest", *map(str, fixtures(tmp_path / "in")), "--json")
    _cli(home, "users", "add", "admin1", "--role", "admin", "--password-stdin", stdin="correct horse battery\n")
    assert os.umask(0o022) == 0o022  # the caller's umask is given back when the command ends
    assert _mode(home) == 0o700
    rejects = Path(next(f["rejects_file"] for f in out["files"] if f.get("rejects_file")))
    lake = sorted((home / "lake").rglob("*.parquet"))
    assert lake and rejects.is_file() and (home / "fairtel.db").is_file() and (home / "mediation").is_dir()
    for path in (home / "fairtel.db", lake[0], rejects, home / "mediation" / "state.sqlite"):
        assert _mode(path) == 0o600, path
    assert _open_to_others(home) == []


def test_the_command_line_itself_runs_owner_only(tmp_path: Path) -> None:
    """As installed (``fairtel`` through ``main``), in a process of its own started under umask 022."""
    home = tmp_path / "home"
    fairtel = Path(sys.executable).with_name("fairtel")
    cmd = [str(fairtel)] if fairtel.exists() else [sys.executable, "-c", "from fairtel.cli import main; main()"]
    done = subprocess.run(
        [*cmd, "--home", str(home), "users", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FAIRTEL_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    assert _mode(home) == 0o700 and _mode(home / "fairtel.db") == 0o600
    assert _open_to_others(home) == []


def test_exports_and_backups_written_outside_the_home_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(f"86138001380{i:02d},c{i},basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n" for i in range(3)),
        encoding="utf-8",
    )
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, subs)
    _cli(home, "ingest", *map(str, fixtures(tmp_path / "in")), "--json")
    with bootstrap(load_settings(home=home)) as fapp:
        catalog = load_catalog(default_catalog_path())
        rate_period(fapp, Period.parse("2026-11"), catalog=catalog)
        bill_period(fapp, "2026-11", catalog=catalog, issue=True, now=Period.parse("2026-11").end)
    exports = tmp_path / "exports"
    exports.mkdir()
    statement = exports / "statement.csv"
    _cli(home, "bill", "statement", LINE, "--period", "2026-11", "--out", str(statement))
    assert statement.stat().st_size > 0  # the itemised statement of a subscriber: personal data
    assert _mode(statement) == 0o600
    # a backup, by the command (the umask) and by the library call (its own modes), into a new directory
    dest = tmp_path / "backups" / "b1"
    _cli(home, "backup", str(dest), "--json")
    assert _open_to_others(dest) == []
    (home / "lake" / "loose.txt").write_text("made by hand under umask 022", encoding="utf-8")
    os.chmod(home / "lake", 0o755)
    library = Path(backup_home(load_settings(home=home), tmp_path / "backups" / "b2")["backup"])
    assert _open_to_others(library) == []


def test_an_existing_home_open_to_others_is_tightened_once_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o755)
    (home / "fairtel.db").write_bytes(b"")
    bootstrap(load_settings(home=home)).close()
    assert _mode(home) == 0o700
    said = capsys.readouterr().err
    assert str(home) in said and "0755" in said and "owner-only" in said
    bootstrap(load_settings(home=home)).close()
    assert capsys.readouterr().err == ""  # once


def test_a_shared_directory_is_not_changed_but_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: others' files live there too
    secure_home(shared)
    assert _mode(shared) == 0o1777
    said = capsys.readouterr().err
    assert "warning" in said and str(shared) in said and "chmod 700" in said
