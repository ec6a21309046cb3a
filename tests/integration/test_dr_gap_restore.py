"""Disaster recovery of a home: a lost mediation ledger is refused, never made again empty (records sent again would
be charged twice); usage parts the ledger says were committed and the lake lacks (a lost or unmounted lake, a partial
copy) refuse the period's bill run instead of billing less; `fairtel backup --verify DEST` checks a backup against
its manifest (every file, size and SHA-256) before it is restored."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_backup import _run, backed_up, rated_home

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app
from fairtel.cli._billing import bill_period
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import Lake

runner = CliRunner()
P = "2026-11"


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, list[Path]]:
    return rated_home(tmp_path)  # the month rated, P, not billed


def _resent(files: list[Path], tmp_path: Path) -> Path:
    """The switch's file sent again: the same records, other bytes (a new content hash)."""
    out = tmp_path / "resend" / "switch-a-resent.csv"
    out.parent.mkdir()
    out.write_bytes(files[0].read_bytes() + b"\n")
    return out


def test_a_lost_ledger_is_refused_and_never_made_again_empty(home: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, files = home
    ledger = src / "mediation" / "state.sqlite"
    resent = _resent(files, tmp_path)
    ledger.unlink()
    code, out = _run(src, "ingest", str(resent))
    assert code == 2 and out["error"]["code"] == "ledger_missing", out
    assert str(ledger) in out["error"]["message"] and "backup" in out["error"]["message"]
    assert not ledger.exists()  # nothing made in its place
    assert (src / "ledger.id").is_file()  # the home says it had a ledger
    # the whole mediation directory gone (and the mark with it): the lake's ingested parts still tell
    shutil.rmtree(src / "mediation")
    (src / "ledger.id").unlink()
    code, out = _run(src, "ingest", str(resent))
    assert code == 2 and out["error"]["code"] == "ledger_missing", out
    assert "lake/usage/period=" in out["error"]["details"]["evidence"]
    assert not ledger.exists()
    # a new home still makes its ledger
    new = tmp_path / "new"
    code, out = _run(new, "ingest", str(resent))
    assert code == 0 and (new / "mediation" / "state.sqlite").is_file() and (new / "ledger.id").is_file(), out


def test_the_ledger_intact_a_resent_file_charges_nothing(home: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, files = home
    code, out = _run(src, "ingest", str(_resent(files, tmp_path)))
    assert code == 0 and out["files"][0]["accepted"] == 0, out


def test_usage_parts_missing_from_the_lake_refuse_the_bill_run(home: tuple[Path, list[Path]]) -> None:
    src, files = home
    parts = sorted((src / "lake" / "usage" / f"period={P}").glob("*.parquet"))
    assert len(parts) == 3
    parts[0].unlink()  # a partial copy, or a part lost
    code, out = _run(src, "bill", "--period", P)
    assert code == 2 and out["error"]["code"] == "lake_incomplete", out
    code, rated = _run(src, "rate", "--period", P)  # rating it now would rate it short
    assert code == 2 and rated["error"]["code"] == "lake_incomplete", rated
    message = out["error"]["message"]
    assert P in message and parts[0].name in message and "backup" in message
    assert out["error"]["details"]["missing"] == {P: [parts[0].stem]}
    from fairtel.mediation._state import LakeIncompleteError

    with bootstrap(load_settings(home=src)) as fapp, pytest.raises(LakeIncompleteError, match="lacks usage"):
        bill_period(fapp, P, catalog=load_catalog(default_catalog_path()), issue=True, now=Period.parse(P).end)
    # the whole lake gone (its volume not mounted): refused as well, naming every part
    shutil.rmtree(src / "lake")
    code, out = _run(src, "bill", "--period", P)
    assert code == 2 and out["error"]["code"] == "lake_incomplete", out
    assert len(out["error"]["details"]["missing"][P]) == 3
    # nor does an ingest call the files already taken while their records are gone, or write where the lake is not
    code, out = _run(src, "ingest", *map(str, files))
    assert code == 2 and out["error"]["code"] == "lake_incomplete", out
    assert not (src / "lake" / "usage").exists()


def test_a_part_removed_on_purpose_is_not_asked_for(home: tuple[Path, list[Path]]) -> None:
    src, _ = home
    lake = Lake(src / "lake")
    [part, *_] = lake.parts("usage", P)
    assert lake.delete_part("usage", P, part)  # retention removing a part it emptied
    assert part not in lake.parts("usage", P) and len(lake.files("usage", periods=[P])) == 2


def test_a_ledger_of_an_earlier_version_lists_its_parts(home: tuple[Path, list[Path]]) -> None:
    """A ledger written before it listed the lake's parts: read from its files' parts (paths from another place the
    home was at), and listed on its next opening."""
    src, files = home
    ledger = src / "mediation" / "state.sqlite"
    with sqlite3.connect(ledger) as conn:
        conn.execute("DROP TABLE lake_parts")
        conn.execute("UPDATE files SET parts = replace(parts, ?, '/elsewhere/home')", (str(src),))
    conn.close()
    [part, *_] = sorted((src / "lake" / "usage" / f"period={P}").glob("*.parquet"))
    moved = part.with_name("kept-aside")
    part.rename(moved)
    code, out = _run(src, "bill", "--period", P)
    assert code == 2 and out["error"]["details"]["missing"] == {P: [part.stem]}, out
    moved.rename(part)
    code, out = _run(src, "ingest", str(files[1]))  # opened by an ingest: the table made and listed
    assert code == 0, out
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT COUNT(*) FROM lake_parts WHERE period = ?", (P,)).fetchone()[0] == 3
    conn.close()


def test_backup_verify_finds_a_partial_or_damaged_copy(home: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = home
    dest = tmp_path / "backups" / "b1"
    _, manifest = backed_up(src, dest)
    listed = {e["path"]: e for e in manifest["contents"]}
    assert len(listed) == manifest["files"] and "mediation/state.sqlite" in listed and "fairtel.db" in listed
    assert all(len(e["sha256"]) == 64 and e["bytes"] >= 0 for e in listed.values())
    code, out = _run(src, "backup", "--verify", str(dest))
    assert code == 0 and out["ok"] and not (out["missing"] or out["changed"] or out["unexpected"]), out

    copy = tmp_path / "copy"
    shutil.copytree(dest, copy)
    [part, *_] = sorted((copy / "lake" / "usage" / f"period={P}").glob("*.parquet"))
    part.unlink()
    ledger = copy / "mediation" / "state.sqlite"
    data = bytearray(ledger.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    ledger.write_bytes(bytes(data))
    (copy / "secret.key").unlink(missing_ok=True)
    code, out = _run(src, "backup", "--verify", str(copy))
    assert code == 2 and not out["ok"], out
    assert part.relative_to(copy).as_posix() in out["missing"]
    assert [c["path"] for c in out["changed"]] == ["mediation/state.sqlite"]
    assert any("secret.key" in w for w in out["warnings"])
    assert any("lacks usage parts its ledger lists" in w and f"{P}: 1" in w for w in out["warnings"]), out
    res = runner.invoke(app, ["backup", "--verify", str(copy)])
    assert res.exit_code == 2 and "missing: lake/usage/" in res.output and "do not restore" in res.output
