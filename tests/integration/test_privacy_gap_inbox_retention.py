"""The files a ``fairtel watch`` files in its inbox's ``done/`` and ``failed/`` (raw usage as received, full numbers
in it) do not stay forever: ``fairtel retention plan|apply --inbox INBOX`` lists and removes those filed more than
``rejects_days`` ago, as the rejects files (both are mediation's raw input); the ones filed since stay. A directory
no watch has taken is refused."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairtel.cli import app

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
LINE = "{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000\n"
ENV = {"FAIRTEL_CONFIG": os.devnull}


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    then = time.time() - 60  # settled: taken at once
    os.utime(path, (then, then))


def _watched(tmp_path: Path) -> tuple[Path, Path]:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox / "whole.csv", HEADER + "".join(LINE.format(i=f"r{i}") for i in range(3)))
    _write(inbox / "cut.csv", HEADER + LINE.format(i="c1") + "c2,8613800138000,voice,o")  # to failed/
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--home", str(home)], env=ENV)
    assert result.exit_code in (0, 1), result.output  # 1: a file went to failed/
    assert _filed(inbox) == ["done/whole.csv", "failed/cut.csv", "failed/cut.csv.error.txt"]
    return home, inbox


def _filed(inbox: Path) -> list[str]:
    return sorted(f"{sub}/{p.name}" for sub in ("done", "failed") if (inbox / sub).is_dir()
                  for p in (inbox / sub).iterdir())


def _run(home: Path, *args: str, ok: bool = True) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["retention", *args, "--home", str(home), "--json"], env=ENV)
    assert (result.exit_code == 0) == ok, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_retention_lists_and_removes_the_files_a_watch_filed_past_rejects_days(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, inbox = _watched(tmp_path)
    now = datetime.now(UTC)
    assert _run(home, "plan", "--inbox", str(inbox))["inbox_files"]["files"] == 0  # filed just now: they stay
    later = (now + timedelta(days=91)).isoformat()
    planned = _run(home, "plan", "--inbox", str(inbox), "--at", later)["inbox_files"]
    assert planned["files"] == 3 and planned["inboxes"] == [str(inbox)]
    assert (inbox / "done" / "whole.csv").exists()  # a plan changes nothing
    early = _run(home, "apply", "--by", "dpo-1", "--inbox", str(inbox))
    assert early["applied"]["inbox_files"] == 0 and (inbox / "done" / "whole.csv").exists()

    import fairtel.core.time as clock

    # 91 days on (the filing time read from the modification time, which a test can set), one file filed since
    monkeypatch.setattr(clock, "utc_now", lambda: now + timedelta(days=91))
    monkeypatch.setattr("fairtel.store._retention._filed_at", lambda st: st.st_mtime)
    (inbox / "done" / "fresh.csv").write_text(HEADER, encoding="utf-8")
    for path, days in ((inbox / "done" / "whole.csv", 0), (inbox / "failed" / "cut.csv", 0),
                       (inbox / "failed" / "cut.csv.error.txt", 0), (inbox / "done" / "fresh.csv", 2)):
        os.utime(path, ((now + timedelta(days=days)).timestamp(),) * 2)
    out = _run(home, "apply", "--by", "dpo-1", "--inbox", str(inbox))
    assert out["applied"]["inbox_files"] == 3
    assert _filed(inbox) == ["done/fresh.csv"]
    assert (inbox / ".fairtel-watch").is_dir()  # the watch's own state is not touched


def test_a_directory_no_watch_took_is_refused(tmp_path: Path) -> None:
    home, _inbox = _watched(tmp_path)
    other = tmp_path / "other"
    (other / "done").mkdir(parents=True)
    (other / "done" / "keep.csv").write_text(HEADER, encoding="utf-8")
    out = _run(home, "plan", "--inbox", str(other), ok=False)
    assert out["error"]["code"] == "input_invalid" and "--inbox" in json.dumps(out)
    assert (other / "done" / "keep.csv").exists()
