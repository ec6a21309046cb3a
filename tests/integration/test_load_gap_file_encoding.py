"""`fairtel load` on operator files that are not clean UTF-8 JSON Lines or CSV: bytes that are not UTF-8, a byte
order mark, U+2028 or U+0085 inside a JSON string, a column named twice. Each bad file is refused with its file,
line and field (and the byte offset of a byte that is not UTF-8), never with a traceback, and the rest of the
directory is imported and reported.

Before: a byte that is not UTF-8 in complaints.jsonl, surveys.jsonl or catalog.toml ended ``load`` with a
UnicodeDecodeError traceback after part of the directory was committed; a BOM refused complaints and surveys; a
U+2028 in a complaint's text split its line in two; a repeated subscribers.csv column silently won."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.store import connect
from fairtel.store._schema import Complaint, Subscriber, table_of

SECRET = "load-encoding-secret-0123456789abcdef"
A, B = "8613800000001", "8613800000002"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region\n"


def subscribers(*numbers: str) -> str:
    return HEADER + "".join(f"{m},cust-{m},basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai\n" for m in numbers)


def complaint(n: int, **kw: Any) -> dict[str, Any]:
    return {"complaint_id": f"cmp-{n}", "msisdn": A, "at": "2026-09-01T16:03:17+08:00", "category": "price",
            "channel": "app", "text": "太贵了"} | kw


def survey(n: int, **kw: Any) -> dict[str, Any]:
    return {"survey_id": f"nps-{n}", "msisdn": A, "answered_at": "2026-09-01T20:48:53+08:00", "score": 9,
            "channel": "app", "comment": None} | kw


def jsonl(*rows: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows)


def write(directory: Path, files: dict[str, str | bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (directory / name).write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    return directory


def load(home: Path, directory: Path) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), "load", str(directory), "--json", "--no-usage"],
                              env={"FAIRTEL_SECRET_KEY": SECRET, "FAIRTEL_DATABASE_URL": f"sqlite:///{home / 'fairtel.db'}"})


def stored(home: Path, table: Any, column: str) -> list[Any]:
    engine = connect(f"sqlite:///{home / 'fairtel.db'}")
    try:
        t = table_of(table)
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(select(t.c[column]).order_by(t.c[column]))]
    finally:
        engine.dispose()


def care(out: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in out["care"] if c["file"].endswith(name)]
    return found


def test_a_complaint_line_not_utf8_is_refused_naming_line_and_byte_and_the_rest_is_imported(tmp_path: Path) -> None:
    gbk = json.dumps(complaint(2, text="TEXT")).encode("utf-8").replace(b"TEXT", "中文".encode("gbk"))
    ops = write(tmp_path / "ops", {"subscribers.csv": subscribers(A, B),
                                   "complaints.jsonl": jsonl(complaint(1)) + gbk + b"\n",
                                   "surveys.jsonl": jsonl(survey(1))})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2 and not isinstance(result.exception, UnicodeDecodeError), result.output
    out = json.loads(result.stdout)
    assert out["subscribers"]["accepted"] == 2
    failed = care(out, "complaints.jsonl")
    offset = len(jsonl(complaint(1))) + gbk.index("中文".encode("gbk"))
    assert failed["status"] == "failed"
    assert "complaints.jsonl:2: not valid UTF-8: byte 0xd6" in failed["message"]
    assert f"byte offset {offset} of the file" in failed["message"]
    assert care(out, "surveys.jsonl") == {"file": str(ops / "surveys.jsonl"), "status": "imported", "read": 1,
                                          "inserted": 1, "skipped": 0}
    assert stored(tmp_path / "home", Complaint, "complaint_id") == []  # the file is stored whole or not at all


def test_a_survey_line_of_bytes_not_utf8_is_refused_naming_its_line(tmp_path: Path) -> None:
    ops = write(tmp_path / "ops", {"subscribers.csv": subscribers(A),
                                   "surveys.jsonl": jsonl(survey(1)) + b"\xff\xfe\xff\xfe\n" + jsonl(survey(2))})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2, result.output
    failed = care(json.loads(result.stdout), "surveys.jsonl")
    assert failed["status"] == "failed"
    assert "surveys.jsonl:2: not valid UTF-8: byte 0xff" in failed["message"], failed["message"]


def test_a_bom_and_unicode_line_separators_inside_strings_are_read_as_one_line(tmp_path: Path) -> None:
    text = "第一行\u2028第二行\u0085第三行"
    ops = write(tmp_path / "ops", {"subscribers.csv": subscribers(A),
                                   "complaints.jsonl": b"\xef\xbb\xbf" + jsonl(complaint(1, text=text), complaint(2)),
                                   "surveys.jsonl": b"\xef\xbb\xbf" + jsonl(survey(1, comment=text))})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert care(out, "complaints.jsonl")["inserted"] == 2, out["care"]
    assert care(out, "surveys.jsonl")["inserted"] == 1, out["care"]
    engine = connect(f"sqlite:///{tmp_path / 'home' / 'fairtel.db'}")
    try:
        with engine.connect() as conn:
            c = table_of(Complaint)
            assert conn.scalar(select(c.c.text).where(c.c.complaint_id == "cmp-1")) == text
    finally:
        engine.dispose()


def test_each_complaint_problem_names_its_file_line_and_field(tmp_path: Path) -> None:
    rows = [complaint(1, category="zzz"), complaint(2, at="2026-09-02T20:44:41"), complaint(3, msisdn=None),
            complaint(4, text=["a"]), complaint(5, at="2026-13-45T00:00:00+08:00")]
    ops = write(tmp_path / "ops", {"subscribers.csv": subscribers(A), "complaints.jsonl": jsonl(*rows)})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2, result.output
    message = care(json.loads(result.stdout), "complaints.jsonl")["message"]
    name = str(ops / "complaints.jsonl")
    for line, field in [(1, "category"), (2, "at"), (3, "msisdn"), (4, "text"), (5, "at")]:
        assert f"{name}:{line} [{field}]: " in message, message
    assert "None" not in message


def test_a_catalog_not_utf8_is_refused_naming_its_line_and_nothing_is_imported(tmp_path: Path) -> None:
    catalog = Path(default_catalog_path()).read_bytes()
    ops = write(tmp_path / "ops", {"catalog.toml": catalog.replace(b"\n", "\n# 中文\n".encode("gbk"), 1),
                                   "subscribers.csv": subscribers(A)})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2 and not isinstance(result.exception, UnicodeDecodeError), result.output
    assert "catalog.toml:2" in result.output and "not valid UTF-8: byte 0xd6" in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "home" / "fairtel.db").exists() or stored(tmp_path / "home", Subscriber, "msisdn") == []


def test_a_catalog_with_a_byte_order_mark_is_stored(tmp_path: Path) -> None:
    catalog = Path(default_catalog_path()).read_bytes()
    ops = write(tmp_path / "ops", {"catalog.toml": b"\xef\xbb\xbf" + catalog, "subscribers.csv": subscribers(A)})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["catalog"]["status"] == "stored" and out["subscribers"]["accepted"] == 1


def test_a_column_named_twice_refuses_subscribers_csv(tmp_path: Path) -> None:
    body = HEADER.replace("\n", ",msisdn\n") + "".join(
        f"{m},cust-{m},basic-39,2025-03-01T09:00:00+08:00,active,zh,Shanghai,8613899999999\n" for m in (A, B))
    ops = write(tmp_path / "ops", {"subscribers.csv": body})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)["subscribers"]
    assert (report["status"], report["read"], report["accepted"], report["rejected"]) == ("failed", 2, 0, 2)
    [problem] = report["problems"]
    assert (problem["line"], problem["field"], problem["code"]) == (1, "msisdn", "duplicate_column")
    assert "columns 1, 8" in problem["message"]
    assert stored(tmp_path / "home", Subscriber, "msisdn") == []


def test_a_compressed_subscribers_csv_is_refused_as_compressed(tmp_path: Path) -> None:
    import gzip

    ops = write(tmp_path / "ops", {"subscribers.csv": gzip.compress(subscribers(A, B).encode("utf-8"))})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)["subscribers"]
    assert (report["status"], report["read"], report["accepted"], report["rejected"]) == ("failed", 0, 0, 0)
    [problem] = report["problems"]
    assert problem["code"] == "compressed_file" and "gzip-compressed" in problem["message"]


def test_a_file_that_cannot_be_read_is_failed_in_the_summary_and_the_others_are_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fairtel.cli._load as load_module

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(load_module, "import_subscribers", unreadable)
    ops = write(tmp_path / "ops", {"subscribers.csv": subscribers(A), "surveys.jsonl": jsonl(survey(1))})
    result = load(tmp_path / "home", ops)
    assert result.exit_code == 2 and result.exception is not None and isinstance(result.exception, SystemExit)
    out = json.loads(result.stdout)
    assert out["subscribers"]["status"] == "failed"
    assert out["subscribers"]["problems"][0]["message"] == "cannot read: Permission denied"
    assert care(out, "surveys.jsonl")["status"] == "failed"  # read all the same: no subscriber for its number
