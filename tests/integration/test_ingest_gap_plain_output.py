"""`fairtel ingest` and `fairtel load` as text: each problem said once, with the keys and file names it names
intact (no console markup eating "[input.timezon]"), and tables piped as plain lines, never cut to 80 columns
(DESIGN.md: "a progress bar on a terminal and plain lines when piped")."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.cli._ui import Reporter, console

runner = CliRunner()
LONG = "switch-07-guangzhou-tianhe-district-night-shift-Master-2026-03-01.csv"
USAGE = ("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
         "r1,8613800000001,voice,out,2026-03-02T10:00:00+08:00,60,8613912345678\n"
         "r2,8613800000001,voice,out,2026-03-02T11:00:00+08:00,x,8613912345678\n")


def test_field_map_problems_are_said_once_with_their_keys_and_lines(tmp_path: Path) -> None:
    (tmp_path / "sw.csv").write_text("CALLID;CALLING\n1;8613800000002\n", encoding="utf-8")
    (tmp_path / "map.toml").write_text('[input]\ndelimiter=";;"\nheader=true\ntimezon="UTC"\n[fields]\n'
                                       'record_id="CALLID"\nmsisdn="CALLING"\nkind={value="voice"}\nstarted_at="X"\n',
                                       encoding="utf-8")
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "ingest", "--format",
                                 f"fieldmap:{tmp_path / 'map.toml'}", str(tmp_path / "sw.csv")])
    assert result.exit_code == 1
    err = result.stderr
    assert err.count("unknown setting") == 1 and err.count("must be one character") == 1, err
    assert "map.toml:4 [input.timezon]: unknown setting" in err
    assert "map.toml:2 [input.delimiter]: must be one character" in err


def test_a_failed_file_is_said_once(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(tmp_path / "missing[bold].csv")])
    assert result.exit_code == 1
    assert result.stderr.count("file_unreadable") == 1, result.stderr
    assert "missing[bold].csv" in result.stdout  # the table keeps the brackets of a file name


def test_a_tap_batch_that_fails_its_audit_is_a_failed_file(shared_dir: Path, tmp_path: Path) -> None:
    from pycrate_asn1dir import TAP3

    spec = TAP3.TAP_0312.DataInterChange
    spec.from_ber((shared_dir / "samples" / "cdr" / "synthetic_tap3_12_CDZZZAAZZZBB00001.ber").read_bytes())
    kind, batch = spec.get_val()
    batch["auditControlInfo"]["callEventDetailsCount"] = 3
    batch["batchControlInfo"].pop("fileTypeIndicator", None)  # commercial data: test data fails before its audit
    spec.set_val((kind, batch))
    path = tmp_path / "CDZZZAAZZZBB00009"
    path.write_bytes(spec.to_ber())
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "ingest", "--format", "tap3", str(path)])
    assert result.exit_code == 1
    assert result.stderr.count("audit_mismatch") == 1, result.stderr
    assert "callEventDetailsCount is 3 but the batch holds 1 call event(s)" in result.stderr


def test_ingest_piped_prints_plain_lines_never_cut(tmp_path: Path) -> None:
    data = tmp_path / LONG
    data.write_text(USAGE, encoding="utf-8")
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "ingest"
    assert lines[1].split() == ["file", "format", "read", "accepted", "rejected", "duplicate", "held", "emitted",
                                "status"]
    assert lines[2].split() == [LONG, "csv", "2", "1", "1", "0", "0", "1", "ingested"]
    assert len(lines[2]) > 80 and "…" not in result.stdout and "│" not in result.stdout


def test_load_piped_prints_plain_lines_never_cut(tmp_path: Path) -> None:
    op = tmp_path / "op"
    (op / "usage").mkdir(parents=True)
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "usage" / LONG).write_text(USAGE, encoding="utf-8")
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "load", str(op)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:] if line.strip()}
    assert rows["usage"] == ["usage", f"usage/{LONG}", "ingested", "2", "1", "0", "1"]
    assert "…" not in result.stdout and "│" not in result.stdout
    assert "load: +" not in result.stderr  # progress says how far it got, not a bare "+1"


def test_plain_lines_read_cells_as_the_terminal_table_does() -> None:
    from fairtel.cli._ui import plain_lines

    t = Table(title="Cases")
    t.add_column("case")
    t.add_column("score")
    t.add_row("[bold]c-1[/bold]", "0.90")
    t.add_row("c-22", "1")
    assert plain_lines(console, t) == ["Cases", "case  score", "c-1   0.90", "c-22  1"]


def test_progress_notes_are_text_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    Reporter(None, quiet=False).note("map.toml [input.timezon]: unknown setting")
    assert "[input.timezon]" in capsys.readouterr().err


def test_watch_says_why_a_file_failed_once_on_its_line(tmp_path: Path) -> None:
    """The reason used to come twice in ingest (a progress note, then under the table); watch, which shows no
    table, says it on the file's own line."""
    import os
    import signal
    import subprocess
    import sys
    import time

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "junk.bin").write_bytes(b"\x00\x01\x02 not a usage file\n")
    env = {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}
    watcher = subprocess.Popen([str(Path(sys.executable).with_name("fairtel")), "--home", str(tmp_path / "h"), "watch",
                                str(inbox), "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        end = time.monotonic() + 60
        while not list((inbox / "failed").glob("junk.bin")):
            assert time.monotonic() < end, "timed out"
            time.sleep(0.05)
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 1, err
    assert err.count("format_unknown") == 1, err
    assert "junk.bin: failed read 0 accepted 0 rejected 0 duplicate 0: format_unknown: " in err, err
