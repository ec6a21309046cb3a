"""Every channel's conversations reach the log ``fairtel kpi`` reads: the API's and the console's assistant
(``find_assistant``) writes its turns to ``<home>/care`` as the CLI's chat does, and processes appending to the
same month's file at once leave whole lines."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from datetime import UTC, datetime
from pathlib import Path

from fairtel_seed import ALICE, Seeded

from fairtel.api._services import find_assistant
from fairtel.care import ConversationLog, Turn
from fairtel.care._intent_model import BUILTIN_MODEL_FILE


def test_an_api_conversation_is_written_to_the_conversation_log(seeded: Seeded) -> None:
    settings = seeded.settings
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUILTIN_MODEL_FILE, settings.models_dir / "intents.joblib")
    assistant = find_assistant(settings, seeded.app)
    assert assistant is not None
    assistant.reply("你好", msisdn=ALICE, language=None)
    assistant.reply("转人工", msisdn=ALICE, language=None)
    turns = ConversationLog(settings.home / "care").read()
    assert len(turns) == 2, turns
    assert turns[-1]["handed_off"] is True and turns[-1]["intent"] == "human_agent"
    assert ALICE not in json.dumps(turns)  # no number in the log


def _append_many(directory: str, worker: int, count: int) -> None:
    log = ConversationLog(directory)
    for n in range(count):
        log.append(Turn(conversation_id=f"chat_{worker}_{n}_" + "x" * 3000, at=datetime(2026, 11, 2, tzinfo=UTC),
                        language="zh", intent="bill_inquiry", confidence=0.9, classified=True, out_of_scope=False,
                        action=None, handed_off=False))


def test_processes_appending_at_once_leave_whole_lines(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 200)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(300)  # each process imports the package first: slow on a loaded machine
        assert p.exitcode == 0
    raw = (tmp_path / "turns-2026-11.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(raw) == 800
    assert len({json.loads(line)["conversation_id"] for line in raw}) == 800
