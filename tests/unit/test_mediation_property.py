"""Properties over arbitrary input: read = accepted + rejected + duplicate, every line is accounted for once,
and what is accepted is exactly what reaches the lake (no loss, no double)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Literal

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer"

good_line = st.builds(
    lambda i, d: f"r{i},8613800138000,voice,out,2026-11-{d:02d}T08:00:00+08:00,{i % 7},8613900139000",
    st.integers(0, 30), st.integers(1, 28))
bad_line = st.sampled_from([
    "r1,8613800138000,voice,out,yesterday,1,1", "r2,,voice,out,2026-11-01T08:00:00Z,1,1", "x,y", "r3,1,fax,,,,",
    "r4,8613800138000,voice,out,2026-11-01T08:00:00Z,-5,1", '"unclosed,quote', "r5,1,sms,in,2026-11-01T08:00:00Z,,,extra",
])
_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
noise = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=_SURROGATES), max_size=40)
lines = st.lists(st.one_of(good_line, good_line, bad_line, noise), max_size=40)


def lake_ids(home: Path) -> list[str]:
    files = [str(f) for f in (home / "lake" / "usage").glob("period=*/*.parquet")]
    if not files:
        return []
    return [r[0] for r in duckdb.execute(f"SELECT record_id FROM read_parquet({files})").fetchall()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=lines, second=lines, trailing_newline=st.booleans(), encoding=st.sampled_from(["utf-8", "gb18030"]))
def test_every_line_is_accounted_for(first: list[str], second: list[str], trailing_newline: bool, encoding: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        home = base / "home"
        paths = []
        for name, body in (("a.csv", first), ("b.csv", second)):
            p = base / name
            text = "\n".join([HEADER, *body]) + ("\n" if trailing_newline else "")
            p.write_bytes(text.encode(encoding, errors="replace"))
            paths.append(p)
        reports = ingest_files(paths, settings=Settings(home=home, batch_size=1000))
        accepted = 0
        for r, body in zip(reports, (first, second), strict=True):
            if r.status == "already_ingested":  # both files had the same bytes
                continue
            if r.status == "failed":  # a whole file refused (e.g. no longer text): nothing of it is counted
                assert r.read == r.accepted == 0
                continue
            assert r.read == r.accepted + r.rejected + r.duplicate
            nonblank = sum(1 for line in body if line.strip("\r\n") != "")
            assert r.read == nonblank
            if r.rejected:
                rejects = [json.loads(x) for x in Path(r.rejects_file or "").read_text().split("\n") if x]
                assert len(rejects) == r.rejected
                assert len({x["position"] for x in rejects}) == r.rejected
            accepted += r.accepted
        ids = lake_ids(home)
        assert len(ids) == accepted == len(set(ids))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=400), header=st.sampled_from([HEADER.encode() + b"\n", b"", b"PAR1", b'{"record_id"']))
def test_readers_survive_arbitrary_bytes(body: bytes, header: bytes) -> None:
    """Fuzz: any bytes either fail the whole file with a clear error or are accounted line by line."""
    from fairtel.mediation import UnreadableFileError
    from fairtel.mediation.readers._canonical import CsvReader, JsonlReader, ParquetReader

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "fuzz"
        p.write_bytes(header + body)
        for reader in (CsvReader(), JsonlReader(), ParquetReader()):
            try:
                batches = list(reader.read(p, source="s", batch_size=1000))
            except UnreadableFileError as exc:
                assert str(exc)
                continue
            positions = [int(x) for b in batches for x in b.table.column("_pos").to_pylist()]
            positions += [r.position for b in batches for r in b.rejects]
            assert len(positions) == len(set(positions))  # no record counted twice
            if isinstance(reader, CsvReader | JsonlReader):
                lines = (header + body).split(b"\n")
                assert all(1 <= pos <= len(lines) for pos in positions)
