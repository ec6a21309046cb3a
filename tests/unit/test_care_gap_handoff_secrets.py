"""A password or code a subscriber writes to the assistant reaches the agents' hand-off as the words around it, never
the secret ("我的服务密码是***"). Before: the ticket summary agents read held it as typed (numbers and ID numbers in
the same message were masked already). A message that only mentions a password ("密码忘了怎么办") reads as written."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_care_gap_dialog import Records
from test_care_gap_handoff_lines import _handed

from fairtel.store._care import HANDOFF, ticket_text


def test_a_secret_typed_to_the_assistant_is_not_handed_to_the_agents() -> None:
    chat, reason = _handed(Records(), ["我的服务密码是abc123，帮我查一下话费", "my password is hunter2xyz", "验证码：483920",
                                       "密码忘了怎么办"])
    said = [t.text for t in ticket_text(f"chat {chat}\n{reason}", HANDOFF).turns if t.who == "user"]
    everything = reason + " ".join(said)
    assert "abc123" not in everything and "hunter2xyz" not in everything and "483920" not in everything
    assert "我的服务密码是***，帮我查一下话费" in said and "my password is ***" in said and "验证码：***" in said
    assert "密码忘了怎么办" in said
