"""The assistant: an intent model, a data port and the conversations it is holding.

``Assistant.say(conversation, message)`` answers one message of a conversation the caller keeps (the CLI);
``Assistant.reply(message, msisdn=...)`` keeps one conversation per subscriber itself, for a server that
sees one request per message (the API). Conversations idle for ``session_ttl_s`` are forgotten.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fairtel.care._chat_port import CareData
from fairtel.care._complaints import DEFAULT_SLA, SlaPolicy
from fairtel.care._dialog import Classifier, Conversation, Dialog, Reply, Turn
from fairtel.care._dialog_words import is_bare_reply
from fairtel.care._holding import HoldingSince
from fairtel.care._intent_data import BUILTIN_OOS_LABEL, builtin_examples
from fairtel.care._intent_model import IntentModel, IntentPrediction, Progress, train_intents
from fairtel.care._intent_text import detect_language, normalise
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.ids import new_id

MODEL_FILE = "intents.joblib"
LANGUAGES = ("zh", "en")


class TurnSink(Protocol):
    """Where the assistant reports each turn (for the KPIs): no message text, no number."""

    def append(self, turn: Turn) -> None: ...


def load_intent_model(models_dir: Path, *, train_if_missing: bool = True, progress: Progress | None = None) -> IntentModel:
    """``<models_dir>/intents.joblib``; when missing (and allowed), the built-in telecom model is trained
    and saved there first."""
    path = Path(models_dir) / MODEL_FILE
    if path.is_file() or not train_if_missing:
        return IntentModel.load(path)
    if progress is not None:
        progress.note(f"no intent model at {path}: the built-in telecom model (ready-made when the install built it; "
                      "otherwise trained now, one to several minutes)")
    model = train_intents(builtin_examples("train"), oos_label=BUILTIN_OOS_LABEL, progress=progress)
    model.save(path)
    return model


def classifier_of(model: IntentModel) -> Classifier:
    def classify(text: str) -> IntentPrediction:
        return model.predict_one(text, oos_label=BUILTIN_OOS_LABEL)

    return classify


class Assistant:
    """Answers subscribers in their language from their own records (see ``_dialog`` for the rules).
    ``sla``: the operator's complaint deadlines; a recorded complaint's reply quotes its category's.
    ``account_lines``: a subscriber's conversation (``reply``) may read the other lines of their own customer
    account (the customer the register files their line under), each read audited where the data port can
    (``LineReadAudit``); False (the default: an account may be a family's or a company's, and the register does not say which line is the holder's) keeps it to the line they sign in with.
    ``home_country``: the operator's home country (``Settings.home_country``; ``None``: mainland China), whose
    numbering plan reads the numbers written as dialled at home in a message (``Dialog``)."""

    def __init__(
        self,
        model: IntentModel | Classifier,
        data: CareData,
        *,
        log: TurnSink | None = None,
        session_ttl_s: float = 1800.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        sla: SlaPolicy = DEFAULT_SLA,
        account_lines: bool = False,
        home_country: str | None = None,
    ) -> None:
        classify = classifier_of(model) if isinstance(model, IntentModel) else model
        self.data = data
        self.account_lines = account_lines
        self.dialog = Dialog(data, classify, sla=sla, home_country=home_country)
        self.log = log
        self.session_ttl_s = session_ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self, msisdn: str | None = None, *, language: str | None = None, conversation_id: str | None = None,
        other_lines: bool = False, account_lines: bool = False,
    ) -> Conversation:
        """A new conversation. ``msisdn`` is who is talking (their own line, already authenticated); without
        it the assistant asks for a number first. ``language`` zh/en fixes the language; None detects it per
        message. The conversation reads ``msisdn``'s records only unless told otherwise: ``account_lines``, the
        caller holds the customer account (a subscriber asking about their own other lines), or ``other_lines``,
        a caller allowed the customer's lines (an agent handling the customer), lets it read the same customer's
        other lines too. Any other number is refused, and never looked up. Complaints, tickets and hand-offs
        are always ``msisdn``'s."""
        forced = _language_option(language)
        conv = Conversation(conversation_id=conversation_id or new_id("chat"), msisdn=None, forced_language=forced,
                            other_lines=other_lines or account_lines, holder=account_lines)
        conv.language = forced or "zh"
        conv.language_known = forced is not None
        if msisdn is not None:
            facts = self.data.line(msisdn)
            if facts is None:
                raise InvalidInputError([Problem("conversation", None, "msisdn", f"no subscriber {msisdn}")], what="chat")
            conv.msisdn = facts.msisdn
            conv.since = self._since(facts.msisdn)
            conv.lines = tuple(dict.fromkeys((facts.msisdn, *facts.lines)))
            if forced is None and facts.language in LANGUAGES:
                conv.language, conv.language_known = facts.language, True
        return conv

    def say(self, conv: Conversation, message: str, *, language: str | None = None) -> Reply:
        """Answer one message of ``conv`` (updated in place)."""
        if not message.strip():
            raise InvalidInputError([Problem("message", None, "text", "empty message")], what="chat")
        forced = _language_option(language) or conv.forced_language
        lang = forced or turn_language(message, conv.language, known=conv.language_known)
        conv.language_known = conv.language_known or forced is not None or _has_words(message)
        reply, classified = self.dialog.turn(conv, message, lang)
        conv.last_seen = self._clock()
        if self.log is not None:
            self.log.append(Turn(
                conversation_id=conv.conversation_id, at=self.data.now(), language=lang, intent=reply.intent,
                confidence=reply.confidence, classified=classified, out_of_scope=reply.out_of_scope,
                action=reply.action, handed_off=conv.handed_off,
            ))
        return reply

    def reply(self, message: str, *, msisdn: str, language: str | None = None, session: str | None = None) -> Reply:
        """One message from an authenticated subscriber, about their own lines: the line they sign in with and,
        with ``account_lines``, the other lines of their customer account (any other number named is refused,
        alike whether it exists or not); the conversation is kept per ``session`` (default: the subscriber's
        number) until it has been idle for ``session_ttl_s``. ``Reply.line`` is the line whose records the
        answer read. ``language`` answers this message in zh or en; it does not fix the conversation's (a
        later message without one is answered in the language it is written in)."""
        key = session or msisdn
        with self._lock:
            self._expire()
            conv = self._sessions.get(key)
            if conv is None or conv.msisdn != msisdn or conv.since != self._since(msisdn):
                # a new caller, or the number reassigned since: nothing of the earlier conversation is carried over
                conv = self.start(msisdn, account_lines=self.account_lines)
                self._sessions[key] = conv
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        lang = language if language in LANGUAGES else None
        return self.say(conv, message, language=lang)

    def _since(self, msisdn: str) -> datetime | None:
        """When the current holding of ``msisdn`` began, as the data port tells it (None: it does not)."""
        data = self.dialog.data
        return data.holding_since(msisdn) if isinstance(data, HoldingSince) else None

    def forget(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, c in self._sessions.items() if now - c.last_seen > self.session_ttl_s and c.last_seen]:
            del self._sessions[key]


def turn_language(message: str, current: str, *, known: bool = True) -> str:
    """The language to answer ``message`` in, in a conversation held in ``current``.

    Chinese writing is Chinese; English words switch a Chinese conversation only when the message is clearly
    English: Chinese subscribers write "OK", "yes", "hello", "VIP" or "iPhone" among Chinese turns, and an
    answer in English to "OK" is a reply in a language they did not choose. Clearly English is two words or
    more that are not only yes / no / thanks words. While the conversation's language is not ``known`` (no
    register, no message yet), the message decides alone."""
    if not _has_words(message):
        return current
    detected = str(detect_language(message))
    if detected != "en" or current == "en" or not known:
        return detected
    return "en" if _clearly_english(message) else current


_LATIN_WORD = re.compile(r"[a-z]{2,}")


def _clearly_english(message: str) -> bool:
    if is_bare_reply(message):
        return False
    return len(_LATIN_WORD.findall(normalise(message))) >= 2


def _has_words(message: str) -> bool:
    """A reply of digits and signs only ("2", "100") says nothing of the language: keep the conversation's."""
    return any(ch.isalpha() for ch in message)


def _language_option(language: str | None) -> str | None:
    if language is None or language == "auto":
        return None
    if language not in LANGUAGES:
        raise InvalidInputError([Problem("options", None, "lang", f"auto, zh or en, not {language!r}")], what="chat")
    return language
