"""The SMS outbox (``FileOutbox``) keeps what ``send`` promised through a crash or a power cut.

- ``send`` returns only after its lines are fsynced, and, when it created the file, after the directory is: a
  power cut after a caller recorded a refund as told cannot take the SMS back. Checked with a hook on ``os.fsync``
  (which file, at what size), since a test cannot cut the power.
- A caller killed between ``send`` and recording that it told someone sends again on its rerun: the outbox keeps
  each ``message_id`` once (at least once, never lost; the id is the key a gateway dedupes on).
- Two senders of one message (one held by a hook between its look at the file and its append) write it once.
- A process killed in the middle of an append (a hook cuts its write in half and kills it) leaves a torn last
  line: the next ``send`` mends it and writes every message once, every line whole JSON.

Before: no fsync at all; two senders both wrote the message neither saw in the file; and a torn last line made
every later ``send`` fail on reading the file (``JSONDecodeError``), so no SMS could be queued again."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fairtel.assurance import FileOutbox, OutboxMessage

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def message(n: int) -> OutboxMessage:
    return OutboxMessage(f"msg-{n}", "8613800138000", "en", "refund", f"fairtel: we have refunded {n}.00 CNY.", NOW)


def lines(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n") if line]


def test_send_returns_only_after_its_lines_and_the_new_file_name_are_synced(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[str, int]] = []  # (what was synced, its size then)
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        synced.append((target, os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    directory = tmp_path / "outbox"
    outbox = FileOutbox(directory)
    assert outbox.send([message(1), message(2)]) == 2
    path = directory / "messages.jsonl"
    size = path.stat().st_size
    assert (str(path), size) in synced  # the lines, after the last of them was written
    assert str(directory) in [t for t, _ in synced]  # the new file's name in its directory
    assert str(tmp_path) in [t for t, _ in synced]  # the new directory's name in its parent

    synced.clear()
    assert outbox.send([message(2), message(3)]) == 1
    assert synced and synced[-1] == (str(path), path.stat().st_size) and size < path.stat().st_size


_CALLER = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from fairtel.assurance import FileOutbox, OutboxMessage

    directory, marks = Path(sys.argv[1]), Path(sys.argv[2])
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    messages = [OutboxMessage(f"msg-{n}", "8613800138000", "en", "refund", f"fairtel: we have refunded {n}.00 CNY.", now)
                for n in range(3)]
    FileOutbox(directory).send(messages)
    if sys.argv[3] == "crash":  # after send, before recording that the subscribers were told
        os.kill(os.getpid(), signal.SIGKILL)
    marks.write_text("told")
""")


def test_a_crash_between_send_and_recording_it_loses_nothing_and_sends_once(tmp_path: Path) -> None:
    directory, marks = tmp_path / "outbox", tmp_path / "told"
    crashed = subprocess.run([sys.executable, "-c", _CALLER, str(directory), str(marks), "crash"], check=False)
    assert crashed.returncode == -signal.SIGKILL and not marks.exists()
    assert [r["message_id"] for r in lines(directory / "messages.jsonl")] == ["msg-0", "msg-1", "msg-2"]
    again = subprocess.run([sys.executable, "-c", _CALLER, str(directory), str(marks), "run"], check=False)
    assert again.returncode == 0 and marks.read_text() == "told"
    assert [r["message_id"] for r in lines(directory / "messages.jsonl")] == ["msg-0", "msg-1", "msg-2"]


def test_a_torn_last_line_is_mended_and_every_message_written_once(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    outbox = FileOutbox(directory)
    assert outbox.send([message(0)]) == 1
    path = directory / "messages.jsonl"
    whole = path.read_bytes()
    torn = json.dumps({"message_id": "msg-1", "msisdn": "8613800138000"}).encode()[:25]  # cut mid-append
    path.write_bytes(whole + torn)
    assert outbox.send([message(0), message(1), message(2)]) == 2
    assert [r["message_id"] for r in lines(path)] == ["msg-0", "msg-1", "msg-2"]
    assert outbox._known() == {"msg-0", "msg-1", "msg-2"}


def test_a_last_line_lacking_only_its_end_is_kept(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    outbox = FileOutbox(directory)
    assert outbox.send([message(0), message(1)]) == 2
    path = directory / "messages.jsonl"
    path.write_bytes(path.read_bytes()[:-1])  # the newline of the last message never reached the disk
    assert outbox.send([message(1), message(2)]) == 1
    assert [r["message_id"] for r in lines(path)] == ["msg-0", "msg-1", "msg-2"]


_TEARING = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from fairtel.assurance import FileOutbox, OutboxMessage

    directory = Path(sys.argv[1])
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    real_write = os.write

    def half_then_die(fd, data):  # the hook: the power goes in the middle of the append
        real_write(fd, bytes(data[: len(data) * 3 // 4]))  # in the middle of the second line
        os.kill(os.getpid(), signal.SIGKILL)

    os.write = half_then_die
    FileOutbox(directory).send([OutboxMessage(f"msg-{n}", "8613800138000", "en", "refund", "fairtel: refunded.", now)
                                for n in (1, 2)])
""")


def test_a_sender_killed_mid_append_leaves_nothing_lost_or_doubled(tmp_path: Path) -> None:
    directory = tmp_path / "outbox"
    outbox = FileOutbox(directory)
    assert outbox.send([message(0)]) == 1
    killed = subprocess.run([sys.executable, "-c", _TEARING, str(directory)], check=False)
    assert killed.returncode == -signal.SIGKILL
    path = directory / "messages.jsonl"
    assert not path.read_bytes().endswith(b"\n")  # the append was cut short
    # the caller's rerun: msg-1's line was whole, so it is queued already (kept once); msg-2's torn line is cut off
    # and written again whole
    assert outbox.send([message(1), message(2)]) == 1
    assert [r["message_id"] for r in lines(path)] == ["msg-0", "msg-1", "msg-2"]


_PAUSING = textwrap.dedent("""
    import json, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from fairtel.assurance import FileOutbox, OutboxMessage

    directory, paused, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    real_dumps = json.dumps

    def dumps_after_go(obj, **kw):  # the hook: hold this sender between its look at the file and its append
        if not paused.exists():
            paused.write_text("paused")
            while not go.exists():
                time.sleep(0.01)
        return real_dumps(obj, **kw)

    json.dumps = dumps_after_go
    print(FileOutbox(directory).send([OutboxMessage("msg-1", "8613800138000", "en", "refund", "fairtel: refunded.", now)]))
""")


def test_two_senders_of_one_message_write_it_once(tmp_path: Path) -> None:
    directory, paused, go = tmp_path / "outbox", tmp_path / "paused", tmp_path / "go"
    FileOutbox(directory).send([message(0)])
    first = subprocess.Popen([sys.executable, "-c", _PAUSING, str(directory), str(paused), str(go)], stdout=subprocess.PIPE)
    try:
        while not paused.exists():  # the first sender is between its look and its append
            assert first.poll() is None
            time.sleep(0.01)
        second = subprocess.Popen([sys.executable, "-c", _CALLER.replace("range(3)", "(1,)"), str(directory),
                                   str(tmp_path / "told"), "run"])
        # the second sender either waits for the first (whatever time this takes) or, without the lock, writes now:
        # giving it a few seconds only lets the second case show, the first is right either way
        with contextlib.suppress(subprocess.TimeoutExpired):
            second.wait(timeout=3)
    finally:
        go.write_text("go")
    assert first.wait(timeout=60) == 0 and second.wait(timeout=60) == 0
    assert [r["message_id"] for r in lines(directory / "messages.jsonl")] == ["msg-0", "msg-1"]
