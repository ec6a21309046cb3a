"""A catalog file that is not plain UTF-8: one with a byte order mark (as Notepad writes it) is read as the same
catalog; one with a byte that is not UTF-8 (GBK) is refused naming the line and the byte.

Before: a BOM gave a misleading "TOML syntax: Invalid statement" on line 1, and a GBK byte a problem with no line."""

from __future__ import annotations

from pathlib import Path

from fairtel.catalog import default_catalog_path, validate_catalog


def test_a_byte_order_mark_is_not_part_of_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_bytes(b"\xef\xbb\xbf" + Path(default_catalog_path()).read_bytes())
    assert validate_catalog(path) == []


def test_a_byte_not_utf8_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    text = Path(default_catalog_path()).read_bytes()
    path.write_bytes(b"# header\n# " + "中文".encode("gbk") + b"\n" + text)
    [problem] = validate_catalog(path)
    assert (problem.line, problem.code) == (2, "file_unreadable")
    assert "not valid UTF-8: byte 0xd6 at byte offset 11 (byte 3 of the line)" in problem.message
