"""Dedup on (source, record_id): stable hashes, within a batch, across batches, spills, files and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairtel.core.settings import Settings
from fairtel.mediation import _keys, ingest_files, key_hashes
from fairtel.mediation._keys import KeyIndex, merge_segments

HEADER = "record_id,source,msisdn,kind,direction,started_at,duration_s,peer\n"


def row(rid: str, source: str = "sw1", day: int = 1) -> str:
    return f"{rid},{source},8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,60,8613900139000\n"


def hashes(ids: list[str], source: str = "s") -> tuple[np.ndarray, np.ndarray]:
    return key_hashes(pa.array([source] * len(ids)), pa.array(ids))


def test_hash_depends_only_on_the_key() -> None:
    alone = hashes(["abc"])
    mixed = hashes(["abcdefghijklmnopqrstu", "abc", "é-unicode"])  # other widths and non-ASCII in the batch
    assert alone[0][0] == mixed[0][1] and alone[1][0] == mixed[1][1]
    assert hashes(["abc"], "other")[0][0] != alone[0][0]
    a, _b = hashes(["a", "a\x00"])
    assert a[0] != a[1]
    # a frozen value: the same key must hash the same in every release (the index is on disk)
    h1, h2 = hashes(["r000000000001"], "sw1")
    assert (int(h1[0]), int(h2[0])) == (17531146601321371559, 16686124731855896621)


def test_no_collisions_on_a_million_sequential_ids() -> None:
    h1, _h2 = hashes([f"r{i:012d}" for i in range(1_000_000)])
    assert len(np.unique(h1)) == 1_000_000


def test_within_batch_first_occurrence_wins(tmp_path: Path) -> None:
    k = KeyIndex(tmp_path, [], durable=False)
    k.begin("f")
    h1, h2 = hashes(["x", "y", "x", "z", "y", "x"])
    assert k.seen(h1, h2).tolist() == [False, False, True, False, True, True]
    h1, h2 = hashes(["z", "w"])
    assert k.seen(h1, h2).tolist() == [True, False]


def test_spills_and_merges_keep_every_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_keys, "SPILL_KEYS", 1000)
    k = KeyIndex(tmp_path, [], durable=False)
    k.begin("f")
    for b in range(7):
        h1, h2 = hashes([f"id{i}" for i in range(b * 700, (b + 1) * 700)])
        assert not k.seen(h1, h2).any()
    segs = k.finish()
    assert sum(n for _, n in segs) == 4900
    k.adopt()
    h1, h2 = hashes([f"id{i}" for i in range(4890, 4910)])
    assert k.seen(h1, h2).tolist() == [True] * 10 + [False] * 10
    merged = tmp_path / "m.npy"
    total = merge_segments([tmp_path / n for n, _ in segs], merged, durable=False)
    arr = np.load(merged)
    assert total == 4900 and (np.diff(arr[0].astype(np.float64)) >= 0).all()


def settings(home: Path) -> Settings:
    return Settings(home=home, batch_size=1000)


def test_duplicates_across_files_and_runs(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    a = tmp_path / "a.csv"
    a.write_text(HEADER + row("1") + row("2") + row("1") + row("2", source="sw2"))
    b = tmp_path / "b.csv"
    b.write_text(HEADER + row("2") + row("3"))
    ra = ingest_files([a], settings=s)[0]
    assert (ra.read, ra.accepted, ra.duplicate) == (4, 3, 1)
    rb = ingest_files([b], settings=s)[0]  # another run, another process state
    assert (rb.read, rb.accepted, rb.duplicate) == (2, 1, 1)
    again = ingest_files([a], settings=s)[0]
    assert again.status == "already_ingested" and "nothing to do" in again.message
    c = tmp_path / "c.parquet"
    pq.write_table(pa.table({"record_id": ["3", "4"], "source": ["sw1", "sw1"], "msisdn": ["1"] * 2,
                             "kind": ["sms"] * 2, "direction": ["in"] * 2,
                             "started_at": ["2026-11-01T08:00:00Z"] * 2}), c)
    rc = ingest_files([c], settings=s)[0]
    assert (rc.accepted, rc.duplicate) == (1, 1)  # the key, not the format, decides


def test_rejected_records_do_not_claim_their_key(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    a = tmp_path / "a.csv"
    a.write_text(HEADER + "1,sw1,8613800138000,voice,out,not-a-time,60,1\n")
    b = tmp_path / "b.csv"
    b.write_text(HEADER + row("1"))
    assert ingest_files([a], settings=s)[0].rejected == 1
    assert ingest_files([b], settings=s)[0].accepted == 1


def test_compaction_merges_segments_of_one_size(tmp_path: Path) -> None:
    s = settings(tmp_path / "home")
    files = []
    for f in range(5):
        p = tmp_path / f"f{f}.csv"
        p.write_text(HEADER + "".join(row(f"{f}-{i}") for i in range(50)))
        files.append(p)
    reports = ingest_files(files, settings=s)
    assert all(r.accepted == 50 for r in reports)
    segs = sorted((s.home / "mediation" / "keys").glob("*.npy"))
    assert len(segs) < 5  # merged like a binary counter
    dup = tmp_path / "dup.csv"
    dup.write_text(HEADER + "".join(row(f"{f}-7") for f in range(5)) + row("new"))
    r = ingest_files([dup], settings=s)[0]
    assert (r.duplicate, r.accepted) == (5, 1)

