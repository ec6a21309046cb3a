"""A subscribers.csv exported as GBK/GB18030 (Excel on a Chinese Windows) is read line by line as usage files are:
UTF-8 when the line is valid UTF-8, else GB18030. Before, every row holding Chinese text was refused as not UTF-8;
a line that is neither is still refused, naming its line and field, and the counts add up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from fairtel.store import get_subscriber, import_subscribers

HEADER = b"msisdn,customer_id,plan_id,activated_at,status,language,region\r\n"


def test_a_gbk_register_loads_its_chinese_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + HEADER
        + b"8613800000001,cu-1,basic-39,2025-03-01T09:00:00+08:00,active,zh," + "江苏".encode("gbk") + b"\r\n"
        + b"8613800000002,cu-2,basic-39,2025-03-01T09:00:00+08:00,active,zh," + "上海".encode() + b"\r\n"
        + b"8613800000003,cu-3,basic-39,2025-03-01T09:00:00+08:00,active,zh,\xff\xfe\r\n"
        + b"8613800000004,cu-4,basic-39,2025-03-01T09:00:00+08:00,active,en,jiangsu\r\n"
    )
    with engine.begin() as conn:
        report = import_subscribers(conn, path)
        first, second, fourth = (get_subscriber(conn, f"861380000000{i}") for i in (1, 2, 4))
    assert (report.read, report.accepted, report.rejected) == (4, 3, 1)
    assert report.read == report.accepted + report.duplicate + report.rejected
    assert first is not None and first.region == "江苏"
    assert second is not None and second.region == "上海"
    assert fourth is not None and fourth.region == "jiangsu"
    [problem] = report.problems
    assert (problem.line, problem.field, problem.code) == (4, "region", "undecodable")
