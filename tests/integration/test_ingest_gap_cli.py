"""`fairtel ingest` and `fairtel load` as an operator's engineer meets them: a file ingested again under another
format says the format is not applied, `--flush-partials` runs without files, and `load` reports each usage file
as `ingest --json` does (reasons, rejects file, held, emitted) and points at the rejects file in text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path
from fairtel.cli import app

runner = CliRunner()
HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
# the Asterisk lab layout (stock cdr_custom columns), read through a field map instead of the built-in reader
AST_MAP = """\
[input]
delimiter = ","
quote = '"'
columns = 19
timezone = "Asia/Shanghai"
timestamp_format = "%Y-%m-%d %H:%M:%S"

[fields]
msisdn = { column = 1, replace = ["^client", "861380000000"] }
peer = { column = 2, replace = ["^", "8613900000"] }
kind = { value = "voice" }
direction = { value = "out" }
record_id = { template = "pbx1-{16}-{18}" }
started_at = 9
duration_s = { column = 12, unit = "s" }
"""
AST_LINES = (
    '""""" <client1>","client1","6789","default","PJSIP/client1-00000002","PJSIP/client2-00000003","Dial",'
    '"PJSIP/client2","2023-07-26 01:51:32","2023-07-26 01:51:50","2023-07-26 01:52:04","31","13","ANSWERED",'
    '"DOCUMENTATION","","1690325492.2","",2\n'
)


def invoke(home: Path, *args: str, as_json: bool = True) -> tuple[int, Any, str]:
    result = runner.invoke(app, ["--home", str(home), *args, *(["--json"] if as_json else [])])
    out = json.loads(result.stdout) if as_json else result.stdout
    return result.exit_code, out, result.stderr


def asterisk_file(tmp_path: Path) -> tuple[Path, Path]:
    cdr = tmp_path / "Master.csv"
    cdr.write_text(AST_LINES, encoding="utf-8")
    fmap = tmp_path / "ast-map.toml"
    fmap.write_text(AST_MAP, encoding="utf-8")
    return cdr, fmap


def test_a_file_ingested_again_under_another_format_says_it_is_not_applied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cdr, fmap = asterisk_file(tmp_path)
    code, out, _ = invoke(home, "ingest", str(cdr))
    assert code == 0 and out["files"][0]["format"] == "asterisk-csv"

    code, out, _ = invoke(home, "ingest", str(cdr), "--format", f"fieldmap:{fmap}")
    [f] = out["files"]
    assert code == 0
    assert (f["status"], f["format"], f["format_requested"]) == ("already_ingested", "asterisk-csv", "fieldmap:ast-map")
    assert "not applied" in f["message"] and "Reading a file again" in f["message"]

    code, text, err = invoke(home, "ingest", str(cdr), "--format", f"fieldmap:{fmap}", as_json=False)
    assert code == 0
    said = " ".join((text + err).split())
    assert "not applied: --format fieldmap:ast-map differs from the format the file was ingested with" in said

    # the same format, or none, is the plain no-op; another source is not applied either
    for args in ((), ("--format", "asterisk-csv")):
        _, out, _ = invoke(home, "ingest", str(cdr), *args)
        [f] = out["files"]
        assert (f["format_requested"], f["source_requested"]) == (None, None)
        assert "not applied" not in f["message"]
    _, out, _ = invoke(home, "ingest", str(cdr), "--source", "pbx-1")
    assert out["files"][0]["source_requested"] == "pbx-1"
    # a format that cannot even be used is named too
    _, out, _ = invoke(home, "ingest", str(cdr), "--format", f"fieldmap:{tmp_path / 'missing.toml'}")
    [f] = out["files"]
    assert f["status"] == "already_ingested" and f["format_requested"].endswith("missing.toml")
    assert "cannot be used" in f["message"]


def test_a_field_map_first_ingested_then_changed_in_place_is_said_not_applied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cdr, fmap = asterisk_file(tmp_path)
    invoke(home, "ingest", str(cdr), "--format", f"fieldmap:{fmap}")
    fmap.write_text(AST_MAP.replace("pbx1-", "pbx2-"), encoding="utf-8")
    _, out, _ = invoke(home, "ingest", str(cdr), "--format", f"fieldmap:{fmap}")
    [f] = out["files"]
    assert (f["status"], f["format_requested"]) == ("already_ingested", None)
    assert "field map given now is not applied" in f["message"]


def test_flush_partials_runs_without_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    part = tmp_path / "part.csv"
    part.write_text("record_id,msisdn,kind,started_at,bytes_down,session_id,seq,final\n"
                    "p1,8613800138000,data,2026-11-01T08:00:00+08:00,100,s1,1,false\n", encoding="utf-8")
    code, out, _ = invoke(home, "ingest", str(part))
    assert code == 0 and out["files"][0]["held"] == 1
    code, out, _ = invoke(home, "ingest", "--flush-partials")
    assert code == 0, out
    [flushed] = out["files"]
    assert (flushed["format"], flushed["emitted"]) == ("partials", 1)
    code, out, _ = invoke(home, "ingest", "--flush-partials")  # nothing held any more
    assert (code, out) == (0, {"files": []})
    code, out, _ = invoke(home, "ingest")  # neither files nor --flush-partials: a clear refusal
    assert code == 2 and out["error"]["code"] == "input_invalid"
    assert "--flush-partials" in out["error"]["details"]["problems"][0]


def test_load_reports_usage_files_as_ingest_does(tmp_path: Path) -> None:
    op = tmp_path / "operator"
    (op / "usage").mkdir(parents=True)
    (op / "catalog.toml").write_text(Path(default_catalog_path()).read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        "8613800138000,cus-1,basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n", encoding="utf-8")
    (op / "usage" / "bad.csv").write_text(
        HEADER + "r1,8613800138000,voice,out,2026-01-06T10:00:00+08:00,65,8613900139000\n"
        "r2,8613800138000,voice,out,2026-01-06T10:00:00+08:00,-5,8613900139000\n"
        "r3,8613800138000\n", encoding="utf-8")
    home = tmp_path / "home"
    code, out, _ = invoke(home, "load", str(op))
    assert code == 0, out
    [f] = out["usage"]["files"]
    assert f["reasons"] == {"column_count": 1, "negative": 1}
    assert (f["held"], f["emitted"], f["rejected"]) == (0, 1, 2)
    assert f["rejects_file"] and Path(f["rejects_file"]).is_file()
    ingest_keys = set(invoke(tmp_path / "other", "ingest", str(op / "usage" / "bad.csv"))[1]["files"][0])
    assert set(f) == ingest_keys

    code, text, err = invoke(tmp_path / "home2", "load", str(op), as_json=False)
    assert code == 0
    said = " ".join((text + err).split())
    assert "usage/bad.csv: rejected column_count 1, negative 1; see " in said
    assert ".rejects.jsonl" in said
