"""A usage JSON Lines record that repeats a canonical key (``"record_id":"dk1","record_id":"dk2"``) is refused
as ``bad_json`` naming the key: which value the switch meant cannot be told. A repeated key that fairtel does
not read (ignored anyway) does not refuse the record.

Before: the last value silently won."""

from __future__ import annotations

from pathlib import Path

from fairtel.mediation.readers._canonical import JsonlReader

GOOD = '{"record_id":"ok1","msisdn":"8613800138000","kind":"sms","started_at":"2026-03-01T10:00:00+08:00"}'


def test_a_repeated_canonical_key_refuses_the_record_and_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text(
        GOOD + "\n"
        '{"record_id":"dk1","record_id":"dk2","msisdn":"8613800138000","kind":"sms",'
        '"started_at":"2026-03-01T10:00:00+08:00"}\n'
        '{"record_id":"ok2","msisdn":"8613800138000","kind":"sms","started_at":"2026-03-01T10:00:00+08:00",'
        '"note":"a","note":"b"}\n'
    )
    rows, rejects = [], []
    for batch in JsonlReader().read(path, source="test", batch_size=1000):
        rows.extend(batch.table.to_pylist())
        rejects.extend(batch.rejects)
    assert [r["record_id"] for r in rows] == ["ok1", "ok2"]
    assert [(r.position, r.reason, r.field) for r in rejects] == [(2, "bad_json", "record_id")]
    assert "record_id" in rejects[0].message and "more than once" in rejects[0].message
