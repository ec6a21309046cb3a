"""The delimited reader's blocks and fast path, checked against plain references on arbitrary input."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtel.mediation.readers._delimited import BlockParser, TextDialect, _Block, iter_blocks


def chunked_blocks(path: Path, *, offset: int, first_line: int, block_bytes: int) -> Iterator[_Block]:
    """Reference: blocks assembled from consecutive reads of ``block_bytes``, cut at the last line end."""
    line = first_line
    with open(path, "rb") as f:
        f.seek(offset)
        carry = b""
        while True:
            chunk = f.read(block_bytes)
            if not chunk:
                if carry:
                    yield _Block(carry, line, True, carry.count(b"\n"))
                return
            buf = carry + chunk
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                continue
            data, carry = buf[: cut + 1], buf[cut + 1 :]
            if not carry:
                nxt = f.read(block_bytes)
                if not nxt:
                    yield _Block(data, line, True, data.count(b"\n"))
                    return
                carry = nxt
            yield _Block(data, line, False, data.count(b"\n"))
            line += data.count(b"\n")


def as_tuples(blocks: Iterator[_Block]) -> list[tuple[bytes, int, bool, int]]:
    return [(b.data, b.first_line, b.last, b.newlines) for b in blocks]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(st.sampled_from([b"\n", b"\r\n", b"a", b"bc", b"defghij", b"x" * 40]), max_size=60).map(b"".join),
       block_bytes=st.integers(1, 24), offset=st.integers(0, 8))
def test_blocks_match_consecutive_reads(body: bytes, block_bytes: int, offset: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "b.csv"
        p.write_bytes(body)
        offset = min(offset, len(body))
        got = as_tuples(iter_blocks(p, offset=offset, first_line=3, block_bytes=block_bytes))
        want = as_tuples(chunked_blocks(p, offset=offset, first_line=3, block_bytes=block_bytes))
        assert got == want
        assert b"".join(data for data, *_ in got) == body[offset:]


def test_blocks_of_long_lines_and_long_files(tmp_path: Path) -> None:
    p = tmp_path / "long.csv"
    p.write_bytes(b"y" * 300_000 + b"\n" + b"short\n" * 70_000 + b"z" * 200_000)  # lines longer than a probe
    for block_bytes in (1000, 65_536, 65_537, 100_000, 1 << 20):
        got = as_tuples(iter_blocks(p, offset=0, first_line=1, block_bytes=block_bytes))
        assert got == as_tuples(chunked_blocks(p, offset=0, first_line=1, block_bytes=block_bytes))


LINES = [b"1,a,x", b"22,bb,", b",,", b"1,2", b"1,2,3,4", b"", b"   ", b"\xe4\xb8\xad,\xe6\x96\x87,z", b"\xff,1,2"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.sampled_from(LINES), max_size=30),
       ends=st.lists(st.sampled_from([b"\n", b"\n", b"\r\n"]), min_size=30, max_size=30),
       trailing=st.booleans(), block_bytes=st.integers(1, 40))
def test_fast_path_matches_line_by_line(lines: list[bytes], ends: list[bytes], trailing: bool, block_bytes: int) -> None:
    """Records, positions, rejects and original bytes are those of the line-by-line reading of the file."""
    body = b"".join(line + end for line, end in zip(lines, ends, strict=False))
    if not trailing and body.endswith(b"\n"):
        body = body[:-2] if body.endswith(b"\r\n") else body[:-1]
    parser = BlockParser("f.csv", ["a", "b", "c"], ["a", "c"], TextDialect(quote=None, header=False), "utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "f.csv"
        p.write_bytes(body)
        batches = [parser(b) for b in iter_blocks(p, offset=0, first_line=1, block_bytes=block_bytes)]
    whole = parser._slow(_Block(body, 1, True, body.count(b"\n")))
    assert [r for b in batches for r in b.rejects] == whole.rejects
    rows = [row for b in batches for row in b.table.to_pylist()]
    assert rows == whole.table.to_pylist()
    raws = []
    for b in batches:
        assert b.raw_of is not None
        raws += b.raw_of(b.table.column("_pos").to_pylist())
    assert whole.raw_of is not None
    assert raws == whole.raw_of([row["_pos"] for row in rows])


def test_a_nul_byte_is_rejected_whichever_path_reads_its_block(tmp_path: Path) -> None:
    """A line holding a NUL byte is undecodable both alone in a clean block and beside an invalid line."""
    parser = BlockParser("f.csv", ["a", "b", "c"], ["a", "c"], TextDialect(quote=None, header=False), "utf-8")
    for neighbour in (b"4,5,6", b"4,\xff,6"):
        body = b"1,2,3\n7,\x008,9\n" + neighbour + b"\n"
        p = tmp_path / "f.csv"
        p.write_bytes(body)
        batches = [parser(b) for b in iter_blocks(p, offset=0, first_line=1, block_bytes=1 << 16)]
        rejects = [r for b in batches for r in b.rejects]
        assert [(r.position, r.reason) for r in rejects if r.position == 2] == [(2, "undecodable")], neighbour
        assert [row["a"] for b in batches for row in b.table.to_pylist()][:1] == ["1"]
