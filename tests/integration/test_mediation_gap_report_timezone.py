"""A file's report names the time zone its times written without an offset were read in (`timezone`): the
switch's clock for Asterisk and FreeSWITCH files (`--timezone`, else the operator's), a field map's own zone for
one whose `started_at` is local time, and null for formats whose times carry their offsets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files

runner = CliRunner()
ASTERISK = ('"""" <client1>","client1","6789","default","PJSIP/client1-00000002","PJSIP/client2-00000003","Dial",'
            '"PJSIP/client2","2026-07-01 10:00:00","2026-07-01 10:00:00","2026-07-01 10:00:13","31","13","ANSWERED",'
            '"DOCUMENTATION","","1690325492.2","",2\n')
CANONICAL = ("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
             "c1,8613800138000,voice,out,2026-07-01T08:00:00+08:00,60,8613900139000\n")


def _run(home: Path, *args: str, zone: str = "Europe/Berlin") -> Any:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"], env={"FAIRTEL_TIMEZONE": zone})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_reports_the_zone_switch_times_were_read_in(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(ASTERISK)
    [rep] = _run(tmp_path / "h1", "ingest", str(f))["files"]
    assert (rep["format"], rep["accepted"], rep["timezone"]) == ("asterisk-csv", 1, "Europe/Berlin")
    [rep] = _run(tmp_path / "h2", "ingest", "--timezone", "UTC", str(f))["files"]
    assert (rep["accepted"], rep["timezone"]) == (1, "UTC")


def test_formats_whose_times_carry_their_offsets_report_no_zone(tmp_path: Path) -> None:
    f = tmp_path / "usage.csv"
    f.write_text(CANONICAL)
    [rep] = _run(tmp_path / "home", "ingest", "--timezone", "UTC", str(f))["files"]
    assert rep["accepted"] == 1 and "timezone" in rep and rep["timezone"] is None


def test_watch_reports_the_zone_too(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "Master.csv").write_text(ASTERISK)
    [rep] = _run(tmp_path / "home", "watch", str(inbox), "--once", "--interval", "0.2", "--timezone",
                 "Asia/Tokyo")["files"]
    assert (rep["accepted"], rep["timezone"]) == (1, "Asia/Tokyo")


def _fieldmap(tmp_path: Path, started_at: str) -> Path:
    fm = tmp_path / f"map{len(list(tmp_path.glob('map*.toml')))}.toml"
    fm.write_text('[input]\nheader = true\ntimezone = "Asia/Kolkata"\n\n[fields]\nrecord_id = "id"\n'
                  'msisdn = "a"\nkind = { value = "sms" }\ndirection = { value = "out" }\npeer = "b"\n'
                  f"started_at = {started_at}\n", encoding="utf-8")
    return fm


def test_a_field_map_reports_its_own_zone_when_its_times_are_local(tmp_path: Path) -> None:
    data = tmp_path / "sms.csv"
    data.write_text("id,a,b,t\ns1,8613800138000,8613900139000,01.07.2026 10:00:00\n", encoding="utf-8")
    local = _fieldmap(tmp_path, '{ column = "t", format = "%d.%m.%Y %H:%M:%S" }')
    [rep] = ingest_files([data], settings=Settings(home=tmp_path / "h1", batch_size=1000),
                         fmt=f"fieldmap:{local}", timezone="UTC")
    assert (rep.accepted, rep.timezone) == (1, "Asia/Kolkata")
    own = _fieldmap(tmp_path, '{ column = "t", format = "%d.%m.%Y %H:%M:%S", timezone = "Europe/Paris" }')
    [rep] = ingest_files([data], settings=Settings(home=tmp_path / "h2", batch_size=1000), fmt=f"fieldmap:{own}")
    assert (rep.accepted, rep.timezone) == (1, "Europe/Paris")
    data2 = tmp_path / "sms2.csv"
    data2.write_text("id,a,b,t\ns2,8613800138000,8613900139000,2026-07-01T10:00:00+02:00\n", encoding="utf-8")
    rfc = _fieldmap(tmp_path, '"t"')
    [rep] = ingest_files([data2], settings=Settings(home=tmp_path / "h3", batch_size=1000), fmt=f"fieldmap:{rfc}")
    assert (rep.accepted, rep.timezone) == (1, None)
