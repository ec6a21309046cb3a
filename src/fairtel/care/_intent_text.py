"""Text preparation for the intent engine: one normal form, the message's language, and word tokens.

Chinese is segmented with jieba (its dictionary ships with the package: nothing is downloaded). Latin
script is split on word characters. Numbers stay tokens, and each also yields a shape token (``#num``,
``#mobile``) so that "还剩3GB" and "还剩10GB" share a feature.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from enum import StrEnum
from typing import Any

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_LETTER = re.compile(r"[a-z]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")
_MOBILE = re.compile(r"^(?:86)?1[3-9]\d{9}$")

_jieba_lock = threading.Lock()
_jieba: Any = None


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, one space between words, Chinese punctuation unified."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = t.replace("。", ".").replace("、", ",").replace("“", '"').replace("”", '"')
    return _SPACES.sub(" ", t).strip()


def detect_language(text: str) -> Language:
    """Chinese when Han characters carry the message: "流量还剩多少GB" is Chinese, "hi 你好" too."""
    han = len(_HAN.findall(text))
    if han == 0:
        return Language.EN
    latin = len(_LATIN_LETTER.findall(text.lower()))
    # A Han character carries about as much as a short English word (~4 letters).
    return Language.ZH if han * 4 >= latin * 0.5 else Language.EN


def _segmenter() -> Any:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():  # jieba 0.42 has regexes that newer Pythons warn about
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def _shape(token: str) -> str | None:
    if _MOBILE.match(token):
        return "#mobile"
    if _DIGITS.match(token):
        return "#num"
    return None


def tokens(normalised: str) -> list[str]:
    """Word tokens of a normalised message; Han runs are segmented by jieba, the rest split on words."""
    out: list[str] = []
    if _HAN.search(normalised):
        for piece in _segmenter().lcut(normalised, HMM=True):
            piece = piece.strip()
            if not piece:
                continue
            if _HAN.search(piece):
                out.append(piece)
            else:
                out.extend(_WORD.findall(piece))
    else:
        out = _WORD.findall(normalised)
    shaped: list[str] = []
    for tok in out:
        shaped.append(tok)
        shape = _shape(tok)
        if shape is not None:
            shaped.append(shape)
    return shaped


class WordNgrams:
    """A picklable analyzer for scikit-learn's vectorizers: word n-grams from ``n_min`` to ``n_max``.

    Shape tokens take part only as unigrams, so that n-grams are not doubled by them.
    """

    def __init__(self, n_min: int = 1, n_max: int = 2) -> None:
        self.n_min = n_min
        self.n_max = n_max

    def __call__(self, text: str) -> list[str]:
        toks = tokens(normalise(text))
        words = [t for t in toks if not t.startswith("#")]
        grams = [t for t in toks if t.startswith("#")] if self.n_min <= 1 else []
        for n in range(self.n_min, self.n_max + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return grams


class CharNgrams:
    """Character n-grams inside word boundaries (like scikit-learn's ``char_wb``), without the grams that are
    only padding: a message in a script the model never saw then has no feature at all, and is out of scope."""

    def __init__(self, n_min: int = 1, n_max: int = 5) -> None:
        self.n_min = n_min
        self.n_max = n_max

    def __call__(self, text: str) -> list[str]:
        grams: list[str] = []
        for word in normalise(text).split():
            padded = f" {word} "
            size = len(padded)
            for n in range(self.n_min, self.n_max + 1):
                if n > size:
                    break
                grams.extend(padded[i : i + n] for i in range(size - n + 1))
        return [g for g in grams if not g.isspace()]
